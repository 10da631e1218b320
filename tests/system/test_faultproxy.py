"""The fault proxy itself (faultproxy.py), against a loopback echo server.

Goal: each control does what its docstring says, so that a replication test that uses it
proves something about the node and not about the proxy. Method: an echo server in a thread,
clients through the proxy, timings measured with generous margins.
"""
import socket
import threading
import time

import pytest

from faultproxy import FaultProxy


class Echo:
    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(s,), daemon=True).start()

    @staticmethod
    def _echo(s):
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                s.sendall(d)
        except OSError:
            pass
        s.close()

    def close(self):
        self.ls.close()


@pytest.fixture
def echo():
    e = Echo()
    yield e
    e.close()


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed")
        buf += d
    return buf


def test_forwards_in_order(echo):
    with FaultProxy(echo.port) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        data = bytes(range(256)) * 4096  # 1 MiB
        threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
        assert recv_exactly(s, len(data)) == data
        s.close()


def test_delay_each_way_preserves_order(echo):
    with FaultProxy(echo.port) as p:
        p.delay(up=30, down=20)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        t0 = time.monotonic()
        s.sendall(b"ping")
        assert recv_exactly(s, 4) == b"ping"
        assert time.monotonic() - t0 >= 0.049
        # many small writes while the delay drops: still in order
        got = []
        r = threading.Thread(target=lambda: got.append(recv_exactly(s, 2000 * 4)))
        r.start()
        for i in range(2000):
            if i == 1000:
                p.delay(0)
            s.sendall(b"%04d" % i)
        r.join(10)
        assert got and got[0] == b"".join(b"%04d" % i for i in range(2000))
        s.close()


def test_blackhole_holds_bytes_and_heals_without_loss(echo):
    with FaultProxy(echo.port) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(b"a")
        assert recv_exactly(s, 1) == b"a"
        p.blackhole(True)
        s.sendall(b"bc")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):  # silent, but not closed
            s.recv(10)
        s2 = socket.create_connection(("127.0.0.1", p.port), timeout=5)  # accepted, held
        s2.sendall(b"x")
        s2.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s2.recv(1)
        assert echo.accepted == 1  # the held connection did not reach the target
        p.blackhole(False)
        s.settimeout(5)
        s2.settimeout(5)
        assert recv_exactly(s, 2) == b"bc"
        assert recv_exactly(s2, 1) == b"x"
        s.close()
        s2.close()


def test_cut_resets_and_refuse_refuses(echo):
    with FaultProxy(echo.port) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(b"a")
        recv_exactly(s, 1)
        p.refuse(True)
        p.cut(rst=True)
        with pytest.raises(ConnectionResetError):
            s.recv(1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", p.port), timeout=5)
        p.refuse(False)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(b"b")
        assert recv_exactly(s, 1) == b"b"
        p.cut(rst=False)
        assert s.recv(1) == b""  # FIN
        assert p.active() == 0


def test_throttle_limits_rate(echo):
    with FaultProxy(echo.port) as p:
        p.throttle(200_000)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        data = b"z" * 100_000
        threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
        t0 = time.monotonic()
        recv_exactly(s, len(data))
        took = time.monotonic() - t0
        assert 0.4 <= took < 3.0, took  # 100 kB at 200 kB/s each way: about 0.5 s
        p.throttle(None)
        t0 = time.monotonic()
        s.sendall(data)
        recv_exactly(s, len(data))
        assert time.monotonic() - t0 < 0.3
        s.close()


def test_target_down_resets_the_client():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    ls.close()  # nothing listens there
    with FaultProxy(port) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        with pytest.raises((ConnectionResetError, ConnectionError)):
            s.sendall(b"a")
            if not s.recv(1):
                raise ConnectionError("closed")
