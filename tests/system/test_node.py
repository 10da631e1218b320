"""kyosaid as a real process on loopback: protocol, limits, hostile input, shutdown.

Goal: the node answers every request type, refuses bad input with a specific error or a
closed connection without disturbing other clients, enforces its limits, refuses a second
start on the same ledger, and loses no acknowledged entry on SIGTERM under load.
Method: real kyosaid processes on ephemeral ports, driven by an independent Python codec
of docs/PROTOCOL.md (kywire.py); results are then read back with kyosaictl offline.
"""
import os
import socket
import struct
import subprocess
import threading
import time

import kywire as kw
from conftest import Ctl, Node, kyosaid_path

SHOKIBO, SAFETY = 1, 2
OPENED, PAID = 1, 3


def status_name(code):
    return code  # numeric wire status; names are in docs/PROTOCOL.md


def test_help_version_check_config(tmp_path):
    p = subprocess.run([kyosaid_path(), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "usage: kyosaid" in p.stdout
    p = subprocess.run([kyosaid_path(), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and "kyosaid" in p.stdout
    p = subprocess.run([kyosaid_path(), "--check-config", "--set", "limits.connections_max=0"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "connections_max" in p.stderr
    p = subprocess.run([kyosaid_path(), "--set", "nosuch.thing=1"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown setting" in p.stderr
    cfg = tmp_path / "k.conf"
    p = subprocess.run([kyosaid_path(), "--print-sample-config"], capture_output=True, text=True)
    cfg.write_text(p.stdout)
    p = subprocess.run([kyosaid_path(), "--config", str(cfg), "--check-config"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "configuration OK" in p.stdout


def test_second_start_is_refused(node, tmp_path):
    other = subprocess.run(node.args(), capture_output=True, text=True, timeout=20)
    assert other.returncode == 3
    assert "locked" in other.stderr


def test_hello_append_read(node):
    c = kw.Conn(node.port)
    t, f, rid, body = c.call(kw.HELLO, kw.hello_body(), 7)
    assert t == kw.HELLO and f & kw.FLAG_RESPONSE and rid == 7
    evs = [kw.event(OPENED, SHOKIBO, 100000000001, 42000, subtype=1),
           kw.event(PAID, SHOKIBO, 100000000001, 42000, period=202604),
           kw.event(PAID, SHOKIBO, 100000000001, 42000, period=202604)]
    t, f, rid, body = c.call(kw.APPEND, kw.append_body(evs), 8)
    assert t == kw.APPEND and rid == 8
    res = kw.decode_append(body)
    assert [r[0] == 0 for r in res] == [True, True, False]
    assert res[0][2] == 2 and res[1][2] == 3
    # the same batch again: the accepted events come back as duplicates with their seqs
    t, f, rid, body = c.call(kw.APPEND, kw.append_body(evs), 9)
    again = kw.decode_append(body)
    assert again[0] == (0, 1, 2) and again[1] == (0, 1, 3) and again[2][0] != 0
    t, _, _, body = c.call(kw.GET, struct.pack("<Q", 3), 10)
    (n,) = struct.unpack_from("<I", body, 0)
    entry = body[4:4 + n]
    assert entry[1] == PAID and struct.unpack_from("<Q", entry, 16)[0] == 3
    t, _, _, body = c.call(kw.GET, struct.pack("<Q", 999), 11)
    assert t == kw.ERROR
    st, what, msg = kw.decode_error(body)
    assert "KY_E_NOT_FOUND" in msg
    t, _, _, body = c.call(kw.RANGE, struct.pack("<QQI", 1, 100, 1000), 12)
    entries, _ = kw.decode_entries(body)
    assert len(entries) == 3
    t, _, _, body = c.call(kw.HISTORY, struct.pack("<QQI", 100000000001, 0, 1), 13)
    entries, nxt = kw.decode_entries(body, history=True)
    assert len(entries) == 1 and nxt == 1
    t, _, _, body = c.call(kw.HISTORY, struct.pack("<QQI", 100000000001, nxt, 10), 14)
    entries, nxt = kw.decode_entries(body, history=True)
    assert len(entries) == 1 and nxt == 0
    t, _, _, body = c.call(kw.CONTRACT, struct.pack("<Q", 100000000001), 15)
    assert t == kw.CONTRACT
    t, _, _, body = c.call(kw.STATUS, b"", 16)
    s = kw.decode_status(body)
    assert s["head_seq"] == 3 and s["epoch"] == 1 and s["events_total"] == 2
    c.close()
    node.stop()
    v = Ctl(node.data).json("verify")[0]
    assert v["ok"] and v["checked"] == 3


def test_pipelining_many_requests_one_connection(node):
    c = kw.Conn(node.port)
    c.call(kw.HELLO, kw.hello_body())
    c.call(kw.APPEND, kw.append_body([kw.event(OPENED, SAFETY, 200000000001, 5000, subtype=1)]))
    n = 200
    reqs = b"".join(kw.frame(kw.APPEND, kw.append_body(
        [kw.event(PAID, SAFETY, 200000000001, 5000, period=196001 + (i // 12) * 100 + i % 12)]),
        1000 + i) for i in range(n))
    c.send(reqs)  # all at once, before reading any response
    seen = {}
    for _ in range(n):
        t, _, rid, body = c.recv()
        assert t == kw.APPEND
        seen[rid] = kw.decode_append(body)[0]
    assert sorted(seen) == list(range(1000, 1000 + n))
    assert all(r[0] == 0 for r in seen.values())
    assert len({r[2] for r in seen.values()}) == n  # n distinct seqs


def errors_then_still_serving(node, payload, expect_close):
    c = kw.Conn(node.port)
    c.send(payload)
    t, f, rid, body = c.recv()
    assert t == kw.ERROR and f & kw.FLAG_RESPONSE
    status, what, msg = kw.decode_error(body)
    if expect_close:
        assert c.closed_by_peer()
    other = kw.Conn(node.port)  # the node still serves everyone else
    t, _, _, _ = other.call(kw.STATUS)
    assert t == kw.STATUS
    other.close()
    c.close()
    return status, what, msg


def test_bad_frames_get_clear_errors(node):
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.STATUS, magic=0x12345678), True)
    assert "KY_E_FRAME_MAGIC" in msg
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.STATUS, version=9), True)
    assert "KY_E_FRAME_VERSION" in msg
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.STATUS, b"x", checksum=1), True)
    assert "KY_E_FRAME_CHECKSUM" in msg
    big = kw.HEADER.pack(kw.MAGIC, 1, kw.APPEND, 0, 1, (4 << 20) + 1, 0, 0)
    _, what, msg = errors_then_still_serving(node, big, True)
    assert "KY_E_FRAME_TOO_LARGE" in msg and what == "frame_body_bytes_max"
    # message-level errors keep the connection
    _, _, msg = errors_then_still_serving(node, kw.frame(77), False)
    assert "KY_E_FRAME_TYPE" in msg
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.GET, b"\x01\x02"), False)
    assert "KY_E_MSG" in msg
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.APPEND, struct.pack("<I", 0)), False)
    assert "KY_E_BATCH_EMPTY" in msg
    lying = struct.pack("<I", 5) + kw.event(OPENED, SHOKIBO, 1, 1000, subtype=1)
    _, _, msg = errors_then_still_serving(node, kw.frame(kw.APPEND, lying), False)
    assert "KY_E_MSG" in msg


def test_batch_limit_max_and_max_plus_one(node):
    c = kw.Conn(node.port)
    evs = [kw.event(OPENED, SHOKIBO, 100000000000 + i, 1000, subtype=1) for i in range(10000)]
    t, _, _, body = c.call(kw.APPEND, kw.append_body(evs))
    assert t == kw.APPEND and all(r[0] == 0 for r in kw.decode_append(body))
    evs.append(kw.event(OPENED, SHOKIBO, 100000020000, 1000, subtype=1))
    t, _, _, body = c.call(kw.APPEND, kw.append_body(evs))
    assert t == kw.ERROR and "KY_E_BATCH_TOO_LARGE" in kw.decode_error(body)[2]


def test_truncated_frame_and_slow_drip_time_out(tmp_path):
    n = Node(tmp_path, extra=["--set", "limits.read_timeout_ms=500"]).start()
    try:
        drip = kw.Conn(n.port)
        f = kw.frame(kw.STATUS)
        drip.send(f[:10])  # a frame that never completes
        healthy = kw.Conn(n.port)
        t, _, _, _ = healthy.call(kw.STATUS)
        assert t == kw.STATUS
        t, _, _, body = drip.recv()  # the node gives up on the slow client
        assert t == kw.ERROR and "KY_E_TIMEOUT" in kw.decode_error(body)[2]
        assert drip.closed_by_peer()
        t, _, _, _ = healthy.call(kw.STATUS)  # the other client never noticed
        assert t == kw.STATUS
    finally:
        n.kill()


def test_byte_by_byte_drip_cannot_hold_a_connection(tmp_path):
    """A slowloris client sends one byte every 50 ms, each well inside any idle limit: the
    node still closes it once the frame is not complete within read_timeout_ms, and a
    healthy client is served throughout."""
    n = Node(tmp_path, extra=["--set", "limits.read_timeout_ms=500"]).start()
    try:
        drip = kw.Conn(n.port)
        f = kw.frame(kw.STATUS)  # a header's bytes take 50 ms each: over a second
        stop = threading.Event()
        sent = [0]

        def dribble():
            for b in f:
                if stop.is_set():
                    return
                try:
                    drip.send(bytes([b]))
                except OSError:
                    return
                sent[0] += 1
                time.sleep(0.05)
        th = threading.Thread(target=dribble, daemon=True)
        t0 = time.monotonic()
        th.start()
        healthy = kw.Conn(n.port)
        assert healthy.call(kw.STATUS)[0] == kw.STATUS
        t, _, _, body = drip.recv()
        waited = time.monotonic() - t0
        stop.set()
        assert t == kw.ERROR and "read_timeout_ms" in kw.decode_error(body)[1]
        assert waited < 5.0 and sent[0] < len(f), (waited, sent[0], len(f))
        assert healthy.call(kw.STATUS)[0] == kw.STATUS
    finally:
        n.kill()


def test_connection_limit(tmp_path):
    n = Node(tmp_path, extra=["--set", "limits.connections_max=4"]).start()
    time.sleep(0.3)  # let the node reap the start-up probe connection
    try:
        conns = [kw.Conn(n.port) for _ in range(4)]
        for c in conns:
            assert c.call(kw.STATUS)[0] == kw.STATUS
        extra = kw.Conn(n.port)
        t, _, _, body = extra.recv()
        assert t == kw.ERROR and "KY_E_CONNECTION_LIMIT" in kw.decode_error(body)[2]
        assert extra.closed_by_peer()
        assert conns[0].call(kw.STATUS)[0] == kw.STATUS
    finally:
        n.kill()


def test_64_concurrent_clients_group_commit(node):
    c0 = kw.Conn(node.port)
    c0.call(kw.APPEND, kw.append_body(
        [kw.event(OPENED, SHOKIBO, 100000000100 + i, 1000, subtype=1) for i in range(64)]))
    acked, errors = [], []

    def client(i):
        try:
            c = kw.Conn(node.port)
            for m in range(24):
                period = 202401 + (m // 12) * 100 + m % 12
                t, _, _, body = c.call(kw.APPEND, kw.append_body(
                    [kw.event(PAID, SHOKIBO, 100000000100 + i, 1000, period=period)]))
                r = kw.decode_append(body)[0]
                if r[0] == 0:
                    acked.append(r[2])
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert len(acked) == 64 * 24 and len(set(acked)) == len(acked)
    s = kw.decode_status(c0.call(kw.STATUS)[3])
    assert s["batches_total"] < s["appends_total"]  # several clients shared a commit
    print(f"64 clients: {s['appends_total']} appends in {s['batches_total']} group commits")


def test_sigterm_under_load_loses_no_acknowledged_entry(node):
    c0 = kw.Conn(node.port)
    c0.call(kw.APPEND, kw.append_body(
        [kw.event(OPENED, SHOKIBO, 100000001000 + i, 1000, subtype=1) for i in range(16)]))
    acked, stop = [], threading.Event()

    def client(i):
        try:
            c = kw.Conn(node.port)
            m = 0
            while not stop.is_set():
                period = 196001 + (m // 12) * 100 + m % 12
                m += 1
                c.send(kw.frame(kw.APPEND, kw.append_body(
                    [kw.event(PAID, SHOKIBO, 100000001000 + i, 1000, period=period)]), m))
                t, _, _, body = c.recv()
                if t == kw.APPEND:
                    r = kw.decode_append(body)[0]
                    if r[0] == 0:
                        acked.append((r[2], 100000001000 + i, period))
        except (ConnectionError, OSError, AssertionError):
            pass

    ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in ts:
        t.start()
    time.sleep(1.0)
    assert node.stop() == 0  # SIGTERM: clean exit
    stop.set()
    for t in ts:
        t.join()
    assert len(acked) > 50
    ctl = Ctl(node.data)
    for seq, contract, period in acked:
        [e] = ctl.json("get", seq)
        assert e["contract"] == contract and e["period"] == period
    assert ctl.json("verify")[0]["ok"]
    assert "node stopped" in node.logs()


def test_sample_config_is_the_settings_table():
    """ops/kyosaid.conf.sample must list exactly the settings and defaults the node has."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "ops", "kyosaid.conf.sample")) as f:
        committed = f.read()
    p = subprocess.run([kyosaid_path(), "--print-sample-config"], capture_output=True, text=True)
    assert p.stdout == committed, "regenerate with: kyosaid --print-sample-config"
