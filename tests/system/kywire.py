"""A minimal, independent Python codec of the kyosai wire protocol (docs/PROTOCOL.md).

Why a second implementation: system tests must speak to the real node from outside, send
hostile bytes on purpose, and check the C code against the document rather than against
itself. Only what the tests need is here.
"""
import socket
import struct
import time

import xxhash

MAGIC = 0x4B594C31
VERSION = 1
HEADER = struct.Struct("<IBBHQIIQ")  # magic, version, type, flags, request_id, body, reserved, xxh3
FLAG_RESPONSE = 1
HELLO, APPEND, GET, RANGE, CONTRACT, HISTORY, STATUS, ERROR = 1, 2, 3, 4, 5, 6, 7, 255
EVENT = struct.Struct("<BBHHHIQQq16sI")  # fixed part of one APPEND event (56 bytes)
RESULT = struct.Struct("<HHQ")


def frame(mtype, body=b"", request_id=1, flags=0, magic=MAGIC, version=VERSION, reserved=0,
          checksum=None):
    cs = xxhash.xxh3_64_intdigest(body) if checksum is None else checksum
    return HEADER.pack(magic, version, mtype, flags, request_id, len(body), reserved, cs) + body


def hello_body(name=b"pytest"):
    return struct.pack("<HHB", 1, 1, len(name)) + name


def event(kind, scheme, contract, amount=0, period=0, months=0, subtype=0, ref_seq=0,
          flags=0, key=None, payload=b""):
    if key is None:
        key = struct.pack(">QQ", int(time.time() * 1000) << 16, event.counter)
        event.counter += 1
    return EVENT.pack(kind, scheme, flags, subtype, months, period, contract, ref_seq, amount,
                      key, len(payload)) + payload


event.counter = 1


def append_body(events):
    return struct.pack("<I", len(events)) + b"".join(events)


class Conn:
    """One TCP connection speaking frames; recv() returns (type, flags, rid, body)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv(self):
        while len(self.buf) < HEADER.size:
            self._fill()
        magic, ver, mtype, flags, rid, blen, _, cs = HEADER.unpack(self.buf[:HEADER.size])
        assert magic == MAGIC and ver == VERSION
        while len(self.buf) < HEADER.size + blen:
            self._fill()
        body = self.buf[HEADER.size:HEADER.size + blen]
        self.buf = self.buf[HEADER.size + blen:]
        assert xxhash.xxh3_64_intdigest(body) == cs, "response checksum"
        return mtype, flags, rid, body

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by node")
        self.buf += chunk

    def call(self, mtype, body=b"", request_id=1):
        self.send(frame(mtype, body, request_id))
        return self.recv()

    def closed_by_peer(self, wait=5.0):
        """True if the node closes the connection within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def decode_error(body):
    status, wl = struct.unpack_from("<HB", body, 0)
    what = body[3:3 + wl].decode()
    (ml,) = struct.unpack_from("<H", body, 3 + wl)
    msg = body[5 + wl:5 + wl + ml].decode()
    return status, what, msg


def decode_append(body):
    (n,) = struct.unpack_from("<I", body, 0)
    return [RESULT.unpack_from(body, 4 + 12 * i) for i in range(n)]


def decode_status(body):
    f = struct.unpack_from("<BQQ32s32s16sQIQQQQBQQQQQB", body, 0)
    assert len(body) == struct.calcsize("<BQQ32s32s16sQIQQQQBQQQQQB")
    keys = ["role", "epoch", "head_seq", "head_hash", "merkle_root", "node_id", "uptime_ms",
            "connections", "appends_total", "events_total", "refused_total", "batches_total",
            "mode", "acked_seq", "replica_durable_seq", "replica_lag_entries", "replica_lag_ms",
            "quarantine_count", "peer_connected"]
    return dict(zip(keys, f))


def decode_entries(body, history=False):
    off, nxt = 0, None
    if history:
        (nxt,) = struct.unpack_from("<Q", body, 0)
        off = 8
    (n,) = struct.unpack_from("<I", body, off)
    off += 4
    out = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", body, off)
        out.append(body[off + 4:off + 4 + ln])
        off += 4 + ln
    return out, nxt
