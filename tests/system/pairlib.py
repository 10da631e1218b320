"""Helpers shared by the replication system tests: a primary/replica pair of real kyosaid
processes, raw-protocol load that records every answer, log waits and offline ledger checks.

Why a module: test_replication.py and test_replication_faults.py drive the same pair and
must judge it by the same rules (DESIGN §5): an acknowledged entry is on the replica, exactly
once, and never lost by a failover.
"""
import itertools
import random
import signal
import struct
import subprocess
import threading
import time

import kywire as kw
from conftest import Ctl, Node, kyosaictl_path

OPENED, PAID = 1, 3
SHOKIBO = 1
REPLICA_UNAVAILABLE, NOT_PRIMARY = 212, 209


class Pair:
    """A primary and a replica. secure=True pins keys both ways; otherwise both run in
    plaintext development mode so raw-protocol test clients can drive them.

    via_proxy=True routes the replica's stream through a FaultProxy (self.proxy) to the
    primary: the replica's replication.peer_addr names the proxy, so a test can cut, delay
    or black-hole the replication link alone while clients still reach both nodes directly.
    """

    def __init__(self, tmp_path, secure=False, sync_timeout_ms=1500, via_proxy=False):
        self.tmp = tmp_path
        self.proxy = None
        self.primary = Node(tmp_path, "primary", secure=secure, extra=[
            "--set", "replication.role=primary",
            "--set", f"replication.sync_timeout_ms={sync_timeout_ms}"])
        Ctl(str(tmp_path / "replica-ledger")).run("init", "--replica")
        self.replica = Node(tmp_path, "replica", secure=secure)
        upstream = self.primary.port
        if via_proxy:
            from faultproxy import FaultProxy
            self.proxy = FaultProxy(self.primary.port)
            upstream = self.proxy.port
        extra = ["--set", "replication.role=replica",
                 "--set", f"replication.peer_addr=127.0.0.1:{upstream}"]
        if secure:
            # the replica dials with its own node key; the primary's registry pins it
            with open(self.primary.registry, "a") as f:
                f.write(f"{self.replica.public_key} dr-node replica\n")
            extra += ["--set", f"replication.peer_key={self.primary.public_key}"]
        self.replica.extra += extra

    def start(self):
        self.primary.start()
        self.replica.start()
        wait_for(lambda: "replica streaming" in self.replica.logs(), "replica streaming")
        return self

    def kill(self):
        for n in (self.primary, self.replica):
            try:
                n.proc.send_signal(signal.SIGCONT)
            except (AttributeError, ProcessLookupError):
                pass
            n.kill()
        if self.proxy is not None:
            self.proxy.close()


def wait_for(cond, what, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_mark(node):
    """Where the node's log ends now; pass it to wait_log to look only at what follows."""
    try:
        return len(node.logs())
    except FileNotFoundError:
        return 0


def wait_log(node, text, since=0, timeout=10.0):
    """Waits until `text` appears in the node's log after offset `since`."""
    wait_for(lambda: text in node.logs()[since:], f"{text!r} in {node.log_path}", timeout)


def status(port):
    c = kw.Conn(port)
    t, _, _, body = c.call(kw.STATUS)
    c.close()
    assert t == kw.STATUS
    return kw.decode_status(body)


def try_status(port):
    """STATUS, or None while the node does not answer."""
    try:
        return status(port)
    except (OSError, ConnectionError, AssertionError):
        return None


def heads_equal(a, b):
    sa, sb = try_status(a.port), try_status(b.port)
    return (sa is not None and sb is not None and sa["head_seq"] == sb["head_seq"]
            and sa["head_hash"] == sb["head_hash"])


def open_contracts(port, first, n):
    c = kw.Conn(port)
    t, _, _, body = c.call(kw.APPEND, kw.append_body(
        [kw.event(OPENED, SHOKIBO, first + i, 1000, subtype=1) for i in range(n)]))
    assert t == kw.APPEND and all(r[0] == 0 for r in kw.decode_append(body))
    c.close()


PERIODS = (2199 - 1960 + 1) * 12  # months the ledger accepts: 196001..219912


def period_of(m):
    """The m-th month from January 1960 as yyyymm (m < PERIODS)."""
    assert 0 <= m < PERIODS, f"month {m} is beyond 2199-12: use more contracts"
    return 196001 + (m // 12) * 100 + m % 12


def load(port, contract, acked, errors, stop, months=600, first_month=0):
    """Posts one premium at a time for `contract`; records (seq, contract, period) of each
    acknowledgement and the status of each refusal."""
    try:
        c = kw.Conn(port, timeout=30)
        for m in range(first_month, first_month + months):
            if stop.is_set():
                break
            period = 196001 + (m // 12) * 100 + m % 12
            t, _, _, body = c.call(kw.APPEND, kw.append_body(
                [kw.event(PAID, SHOKIBO, contract, 1000, period=period)]), m + 1)
            if t == kw.APPEND:
                r = kw.decode_append(body)[0]
                if r[0] == 0:
                    acked.append((r[2], contract, period))
            else:
                errors.append(kw.decode_error(body)[0])
    except (ConnectionError, OSError):
        pass


class Load:
    """Client threads posting premiums over raw kywire, one contract per thread, one append
    at a time, each (contract, period) used once ever — so no two events can collide and an
    acknowledged event is identified by (contract, period).

    Every answer is recorded in self.answers as (t_sent, t_answered, contract, period,
    status, seq): status 0 is an acknowledgement (seq its entry), otherwise the wire status
    of the refusal. A thread whose connection fails or times out records nothing for that
    append (its outcome is unknown to the client, hence never counted as acknowledged) and
    ends. `months` is shared between Load objects so a later load never reuses a period."""

    def __init__(self, port, contracts, months=None, timeout=15.0):
        self.port = port
        self.contracts = list(contracts)
        self.months = months if months is not None else {}
        self.timeout = timeout
        self.answers = []
        self.broken = []  # (contract, exception text) of threads that lost their connection
        self.stop_ev = threading.Event()
        self.threads = []
        # idempotency keys unique across threads and Load objects (kw.event's default
        # counter is not thread-safe: two threads may draw the same key in one millisecond)
        self._key_hi = random.getrandbits(63) | 1
        self._keys = itertools.count(1)

    def start(self):
        for cid in self.contracts:
            self.months.setdefault(cid, 0)
            t = threading.Thread(target=self._run, args=(cid,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _run(self, cid):
        try:
            c = kw.Conn(self.port, timeout=self.timeout)
        except OSError as e:
            self.broken.append((cid, repr(e)))
            return
        rid = 0
        try:
            while not self.stop_ev.is_set():
                m = self.months[cid]
                if m >= PERIODS:
                    self.broken.append((cid, "every period of the contract used"))
                    break
                self.months[cid] = m + 1
                period = period_of(m)
                rid += 1
                t0 = time.monotonic()
                key = struct.pack(">QQ", self._key_hi, next(self._keys))
                t, _, _, body = c.call(kw.APPEND, kw.append_body(
                    [kw.event(PAID, SHOKIBO, cid, 1000, period=period, key=key)]), rid)
                t1 = time.monotonic()
                if t == kw.APPEND:
                    st, _, seq = kw.decode_append(body)[0]
                    self.answers.append((t0, t1, cid, period, st, seq))
                else:
                    self.answers.append((t0, t1, cid, period, kw.decode_error(body)[0], 0))
        except (ConnectionError, OSError) as e:
            self.broken.append((cid, repr(e)))
        finally:
            c.close()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 5)
        assert not [t for t in self.threads if t.is_alive()], "load thread stuck"
        return self

    def acked(self, since=0.0):
        """(seq, contract, period) of each acknowledgement answered at or after `since`."""
        return [(a[5], a[2], a[3]) for a in list(self.answers) if a[4] == 0 and a[1] >= since]

    def refusals(self, since=0.0):
        return [a for a in list(self.answers) if a[4] != 0 and a[1] >= since]

    def count_acked(self):
        return sum(1 for a in list(self.answers) if a[4] == 0)


def entries_of(node, first=1, last=None):
    """seq -> entry (JSON of kyosaictl range) read offline (read-only: the node may run)."""
    ctl = Ctl(node.data)
    head = ctl.json("status")[0]["head_seq"] if last is None else last
    out = {}
    for a in range(first, head + 1, 100000):
        out.update({e["seq"]: e for e in ctl.json("range", a, min(head, a + 99999))})
    return out


def quarantine_of(node):
    return Ctl(node.data).json("quarantine")


def ctl_remote(port, *args):
    return subprocess.run([kyosaictl_path(), "--server", f"127.0.0.1:{port}", "--json",
                           *map(str, args)], capture_output=True, text=True, timeout=60)


def watched_pair(tmp_path, **kw_args):
    """A plaintext pair where each node knows the other (peer_addr): the primary watches
    the replica's epoch, so after a failover it steps down by itself."""
    kw_args.setdefault("sync_timeout_ms", 1000)
    p = Pair(tmp_path, **kw_args)
    p.primary.extra += ["--set", f"replication.peer_addr=127.0.0.1:{p.replica.port}"]
    return p


def check_acked_once(ledger, acked, where):
    """Every acknowledged (seq, contract, period) is at its seq in `ledger` (seq -> entry),
    and no premium (contract, period) appears twice."""
    for seq, contract, period in acked:
        e = ledger.get(seq)
        assert e is not None, f"{where}: acknowledged seq {seq} missing"
        assert (e.get("contract"), e.get("period")) == (contract, period), \
            f"{where}: seq {seq} holds {e}, acknowledged as {contract}/{period}"
    paid = [(e["contract"], e["period"]) for e in ledger.values() if e["kind"] == "premium_paid"]
    assert len(paid) == len(set(paid)), f"{where}: a premium appears twice"
    seqs = [a[0] for a in acked]
    assert len(seqs) == len(set(seqs)), f"{where}: one seq acknowledged twice"


def offline_checks(*nodes, reindex=True):
    """Chains verify; derived state equals a replay (on a stopped node: no snapshot copy)."""
    for n in nodes:
        v = Ctl(n.data).json("verify")[0]
        assert v["ok"], f"{n.data}: verify {v}"
        if reindex:
            r = Ctl(n.data).json("reindex", "--check")[0]
            assert r["state_equal"], f"{n.data}: reindex --check {r}"
