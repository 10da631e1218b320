"""A fault-injecting TCP proxy for system tests (stdlib only).

Why: replication must keep its promises (DESIGN §5: never acknowledge what the replica has
not made durable; catch up after any outage) on a real network, where links go slow, go
silent, get reset or refuse connections. Routing one node's connection to another through
this proxy lets a test cause each of those faults at a chosen instant, against real
processes, without root, iptables or network namespaces.

    client --> 127.0.0.1:proxy.port ==[faults]==> target host:port

One thread runs a selector loop over non-blocking sockets; the control methods hand their
change to that thread and return once it is in force, so after `cut()` returns the
connections really are closed, and after `blackhole()` returns not one more byte moves.
"up" is the client -> target direction, "down" the target -> client direction.

Controls (all may be combined and changed at any time; `clear()` undoes all of them):

- delay(ms) / delay(up=ms, down=ms): every chunk read is held for `ms` milliseconds before
  it is written on. Each direction is one FIFO queue, so order is always preserved: when the
  delay is lowered, later chunks still wait behind earlier ones (no reordering, as on TCP).
  End-of-stream (FIN) travels through the same queue, after the data before it.
- blackhole(True) (alias drop): the link goes silent but no connection is closed, like a
  pulled cable or a firewall dropping packets: nothing is read from or written to any
  socket, so senders see their data accepted by the kernel and then nothing (half-open
  connections). Connections opened meanwhile are accepted and held silent (no upstream
  connection yet), like SYNs that get no answer. blackhole(False) heals the link: the held
  bytes flow again in order and nothing is lost or invented, which is what TCP
  retransmission gives a partition that heals. An endpoint that gave up meanwhile has closed
  its socket; the bytes meant for it then meet a reset, which the proxy passes on as a reset
  to the other endpoint — as a real peer's kernel would answer late retransmissions.
- cut(rst=True): closes every current connection at once on both sides, with a TCP reset
  (SO_LINGER 0) or, rst=False, an orderly FIN. Bytes queued in the proxy are discarded. New
  connections are still accepted unless refuse() is in force, so cut alone models a reset
  link that comes straight back; refuse(True) + cut() models a link that stays down.
- refuse(True): new connections are refused (the listening socket is closed, so a connect
  gets ECONNREFUSED); current connections are untouched. refuse(False) listens again on
  the same port.
- throttle(bytes_per_s) / throttle(None): each direction of each connection forwards at
  most bytes_per_s (token bucket, bursts of at most 50 ms worth) — a slow WAN link.

Counters: connections_total, bytes_up, bytes_down, resets (connections aborted because an
endpoint reset or an error occurred), and `active()` (open connections).
"""
import collections
import errno
import os
import selectors
import socket
import struct
import threading
import time

_CHUNK = 65536
_HIGH_WATER = 4 << 20  # per direction: stop reading while this much waits in the proxy


class _Dir:
    """One direction of one connection: src -> queue -> dst."""

    def __init__(self):
        self.queue = collections.deque()  # (due monotonic time, bytes or None for EOF)
        self.queued = 0  # bytes in queue
        self.out = b""  # bytes taken from the queue, being written
        self.eof_read = False  # src said FIN
        self.eof_sent = False  # dst was told FIN (shutdown SHUT_WR)
        self.tokens = 0.0
        self.refill_at = time.monotonic()


class _Conn:
    def __init__(self, client, cid):
        self.id = cid
        self.client = client
        self.upstream = None
        self.connecting = False  # non-blocking connect in progress
        self.up = _Dir()  # client -> upstream
        self.down = _Dir()  # upstream -> client
        self.registered = {}  # sock -> events currently registered

    def socks(self):
        return [s for s in (self.client, self.upstream) if s is not None]


class FaultProxy:
    """Listens on 127.0.0.1 (ephemeral port) and forwards each connection to target."""

    def __init__(self, target_port, target_host="127.0.0.1", listen_host="127.0.0.1", port=0):
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self._delay = {"up": 0.0, "down": 0.0}  # seconds
        self._rate = None  # bytes/s per direction per connection
        self._blackholed = False
        self._refusing = False
        self._conns = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self._calls = collections.deque()
        self._stop = False
        self.connections_total = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.resets = 0
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._listener = None
        self.port = self._listen(port)
        self._thread = threading.Thread(target=self._run, name=f"faultproxy:{self.port}",
                                        daemon=True)
        self._thread.start()

    # ---- public controls (any thread) ---------------------------------------------------

    def delay(self, ms=None, up=None, down=None):
        """Holds each chunk `ms` milliseconds in both directions (or `up`/`down` each)."""
        def f():
            for name, v in (("up", up if up is not None else ms),
                            ("down", down if down is not None else ms)):
                if v is not None:
                    self._delay[name] = v / 1000.0
        self._call(f)

    def blackhole(self, on=True):
        """True: the link goes silent, connections stay open (half-open). False: heals."""
        def f():
            self._blackholed = on
        self._call(f)

    drop = blackhole

    def cut(self, rst=True):
        """Closes every current connection on both sides (RST, or FIN with rst=False)."""
        def f():
            for c in list(self._conns.values()):
                self._close_conn(c, rst=rst)
        self._call(f)

    def refuse(self, on=True):
        """True: new connections get ECONNREFUSED (listener closed). False: listens again."""
        def f():
            self._refusing = on
            if on and self._listener is not None:
                self._sel.unregister(self._listener)
                self._listener.close()
                self._listener = None
            elif not on and self._listener is None:
                self._listen(self.port)
        self._call(f)

    def throttle(self, bytes_per_s=None):
        """Limits each direction of each connection to bytes_per_s; None: unlimited."""
        def f():
            self._rate = bytes_per_s
            now = time.monotonic()
            for c in self._conns.values():
                for d in (c.up, c.down):
                    d.tokens, d.refill_at = 0.0, now
        self._call(f)

    def clear(self):
        """Removes every fault: no delay, no black hole, accepting, unthrottled."""
        self.delay(0)
        self.throttle(None)
        self.refuse(False)
        self.blackhole(False)

    def active(self):
        return self._call(lambda: len(self._conns))

    def close(self):
        """Stops the proxy and resets every connection."""
        if self._stop:
            return
        self.cut(rst=True)
        self._stop = True
        self._wake()
        self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- plumbing ---------------------------------------------------------------------

    def _call(self, fn):
        """Runs fn on the loop thread and returns its result once it has run."""
        if threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box = {}

        def run():
            try:
                box["r"] = fn()
            except BaseException as e:  # handed back to the caller
                box["e"] = e
            done.set()
        with self._lock:
            self._calls.append(run)
        self._wake()
        if not done.wait(10):
            raise RuntimeError("fault proxy loop is not responding")
        if "e" in box:
            raise box["e"]
        return box.get("r")

    def _wake(self):
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def _listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.listen_host, port))
        s.listen(128)
        s.setblocking(False)
        self._listener = s
        self._sel.register(s, selectors.EVENT_READ, ("listen", None))
        return s.getsockname()[1]

    def _set_interest(self, c, sock, events):
        if sock is None or sock.fileno() < 0:
            return
        cur = c.registered.get(sock, 0)
        if events == cur:
            return
        if cur == 0:
            self._sel.register(sock, events, ("conn", c))
        elif events == 0:
            self._sel.unregister(sock)
        else:
            self._sel.modify(sock, events, ("conn", c))
        c.registered[sock] = events

    def _close_conn(self, c, rst):
        if self._conns.pop(c.id, None) is None:
            return
        for s in c.socks():
            if c.registered.get(s):
                self._sel.unregister(s)
            try:
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass
        c.registered.clear()

    def _abort(self, c):
        self.resets += 1
        self._close_conn(c, rst=True)

    def _accept(self):
        while self._listener is not None:
            try:
                s, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(s, self._next_id)
            self._next_id += 1
            self._conns[c.id] = c
            self.connections_total += 1
            c.up.refill_at = c.down.refill_at = time.monotonic()

    def _dial(self, c):
        u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u.setblocking(False)
        u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.upstream = u
        rc = u.connect_ex(self.target)
        if rc not in (0, errno.EINPROGRESS):
            self._abort(c)  # target down: the client sees a reset
            return
        c.connecting = rc != 0

    def _read(self, c, d, src, now):
        try:
            data = src.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._abort(c)
            return
        delay = self._delay["up" if d is c.up else "down"]
        if not data:
            d.eof_read = True
            d.queue.append((now + delay, None))
            return
        if d is c.up:
            self.bytes_up += len(data)
        else:
            self.bytes_down += len(data)
        d.queue.append((now + delay, data))
        d.queued += len(data)

    def _budget(self, d, now):
        if self._rate is None:
            return None
        d.tokens = min(d.tokens + (now - d.refill_at) * self._rate, max(self._rate * 0.05, 1.0))
        d.refill_at = now
        return int(d.tokens)

    def _write(self, c, d, dst, now):
        """Moves due bytes from the queue to dst. Returns (time it next has work or None,
        whether it waits for dst to become writable)."""
        while True:
            if not d.out:
                if not d.queue:
                    return None, False
                due, item = d.queue[0]
                if due > now:
                    return due, False
                d.queue.popleft()
                if item is None:  # FIN, after everything before it
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    d.eof_sent = True
                    return None, False
                d.queued -= len(item)
                d.out = item
            budget = self._budget(d, now)
            if budget is not None and budget <= 0:
                return now + max(0.001, (1.0 - d.tokens) / self._rate), False
            piece = d.out if budget is None else d.out[:budget]
            try:
                n = dst.send(piece)
            except (BlockingIOError, InterruptedError):
                return None, True
            except OSError:
                self._abort(c)
                return None, False
            if budget is not None:
                d.tokens -= n
            d.out = d.out[n:]
            if n < len(piece):  # the socket's buffer is full
                return None, True

    def _run(self):
        while not self._stop:
            with self._lock:
                calls, self._calls = list(self._calls), collections.deque()
            for fn in calls:
                fn()
            now = time.monotonic()
            next_due = now + 0.1
            for c in list(self._conns.values()):
                if c.id not in self._conns:
                    continue
                if c.upstream is None and not self._blackholed:
                    self._dial(c)
                    if c.id not in self._conns:
                        continue
                want = {c.client: 0}
                if c.upstream is not None:
                    want[c.upstream] = 0
                if c.connecting:
                    want[c.upstream] = selectors.EVENT_WRITE
                elif not self._blackholed and c.upstream is not None:
                    for d, src, dst in ((c.up, c.client, c.upstream),
                                        (c.down, c.upstream, c.client)):
                        due, blocked = self._write(c, d, dst, now)
                        if c.id not in self._conns:
                            break
                        if due is not None:
                            next_due = min(next_due, due)
                        if blocked:
                            want[dst] |= selectors.EVENT_WRITE
                        if not d.eof_read and d.queued < _HIGH_WATER:
                            want[src] |= selectors.EVENT_READ
                    if c.id not in self._conns:
                        continue
                    if c.up.eof_sent and c.down.eof_sent:
                        self._close_conn(c, rst=False)
                        continue
                for s, ev in want.items():
                    self._set_interest(c, s, ev)
            timeout = max(0.0, next_due - time.monotonic())
            for key, ev in self._sel.select(timeout):
                kind, c = key.data
                if kind == "wake":
                    try:
                        while os.read(self._wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                elif kind == "listen":
                    if not self._refusing:
                        self._accept()
                elif c.id in self._conns:
                    self._on_event(c, key.fileobj, ev)
        for c in list(self._conns.values()):
            self._close_conn(c, rst=True)

    def _on_event(self, c, sock, ev):
        now = time.monotonic()
        if c.connecting and sock is c.upstream:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._abort(c)
            else:
                c.connecting = False
            return
        if self._blackholed:
            return
        if ev & selectors.EVENT_READ:
            d = c.up if sock is c.client else c.down
            self._read(c, d, sock, now)
