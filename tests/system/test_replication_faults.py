"""Replication under network and process faults (DESIGN §5), with real kyosaid processes.

Goal: whatever happens to the link or to either node, (1) the primary never acknowledges an
append the replica has not made durable, (2) after the fault heals everything flows again and
the two ledgers end identical, with every acknowledged event present exactly once, (3) a
primary that was failed over cannot get one more write acknowledged and rejoins as the
replica, quarantining only entries nobody was told about.

Method: the replica's replication.peer_addr points at a FaultProxy (faultproxy.py) in front
of the primary, so the replication link alone can be cut, black-holed or delayed while the
test's clients reach both nodes directly. Load comes from raw-protocol clients (pairlib.Load)
that record every answer, each event having its own (contract, period), so an acknowledged
event is identified by its seq, contract and period. Processes are stopped, killed and
continued with real signals. State changes are read from kyosaid's own log lines; ledgers are
compared with kyosaictl (range, quarantine, verify, reindex --check).

KY_CRASH_ROUNDS (default 30) sets the number of crash rounds, KY_CRASH_SEED their randomness.
"""
import collections
import os
import random
import signal
import threading
import time

import pytest

import kywire as kw
from conftest import Ctl
from faultproxy import FaultProxy
from pairlib import (NOT_PRIMARY, PAID, REPLICA_UNAVAILABLE, SHOKIBO, Load, Pair,
                     check_acked_once, ctl_remote, entries_of, heads_equal, log_mark,
                     offline_checks, open_contracts, period_of, quarantine_of, status, wait_for,
                     wait_log, watched_pair)

SYNC_MS = 1000


def settle_head(port, quiet=0.3, timeout=5.0):
    """The node's head seq once it has not moved for `quiet` seconds."""
    deadline = time.time() + timeout
    last, since = status(port)["head_seq"], time.time()
    while time.time() < deadline:
        time.sleep(0.05)
        h = status(port)["head_seq"]
        if h != last:
            last, since = h, time.time()
        elif time.time() - since >= quiet:
            return h
    raise AssertionError("head kept moving")


def final_checks(p, acked, reindex=True):
    """Both ledgers (nodes stopped): every acknowledged event exactly once, same entries,
    chains verify, derived state equals a replay."""
    a, b = entries_of(p.primary), entries_of(p.replica)
    assert max(a) == max(b), "heads differ"
    assert a[max(a)]["leaf_hash"] == b[max(b)]["leaf_hash"], "head hashes differ"
    assert {s: e["leaf_hash"] for s, e in a.items()} == {s: e["leaf_hash"] for s, e in b.items()}
    check_acked_once(a, acked, "primary")
    check_acked_once(b, acked, "replica")
    offline_checks(p.primary, p.replica, reindex=reindex)
    return a, b


# ---- a. the link goes down under load -----------------------------------------------------

@pytest.mark.parametrize("fault", ["cut", "blackhole"])
def test_link_down_under_load_acknowledges_nothing_beyond_the_replica(tmp_path, fault):
    """cut: every replication connection reset and new ones refused (link down hard);
    blackhole: the link goes silent with the connections left open (half-open)."""
    first = 100000001001
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True).start()
    try:
        open_contracts(p.primary.port, first, 8)
        load = Load(p.primary.port, range(first, first + 8)).start()
        wait_for(lambda: load.count_acked() >= 200, "acknowledged load")
        t_fault = time.monotonic()
        if fault == "cut":
            p.proxy.refuse(True)
            p.proxy.cut(rst=True)
        else:
            p.proxy.blackhole(True)
        held = settle_head(p.replica.port)  # the replica cannot move while the link is down
        time.sleep(2.5 * SYNC_MS / 1000)
        assert status(p.replica.port)["head_seq"] == held, "the link was not down"
        during = load.acked(since=t_fault)
        beyond = [a for a in during if a[0] > held]
        assert not beyond, f"acknowledged beyond the replica's head {held}: {beyond[:5]}"
        refused = load.refusals(since=t_fault)
        assert refused, "no append failed while the link was down"
        assert {r[4] for r in refused} == {REPLICA_UNAVAILABLE}, refused[:5]
        quick = [r for r in refused if r[1] - r[0] < 0.95 * SYNC_MS / 1000]
        assert not quick, f"failed before sync_timeout_ms: {quick[:5]}"
        t_heal = time.monotonic()
        if fault == "cut":
            p.proxy.refuse(False)
        else:
            p.proxy.blackhole(False)
        wait_for(lambda: len(load.acked(since=t_heal)) >= 100, "traffic resuming", timeout=15)
        load.stop()
        assert not load.broken, load.broken
        wait_for(lambda: heads_equal(p.primary, p.replica), "heads equal")
        print(f"{fault}: {load.count_acked()} acknowledged, {len(refused)} refused (212) while "
              f"down, replica held {held}, resumed "
              f"{min(a[1] for a in load.answers if a[4] == 0 and a[1] >= t_heal) - t_heal:.2f}"
              f" s after the heal")
    finally:
        p.kill()
    final_checks(p, load.acked())


# ---- b. the link is slow ------------------------------------------------------------------

def test_delayed_link_still_acknowledges_and_only_what_the_replica_holds(tmp_path):
    """20 ms each way on the replication link: every append is still acknowledged (no
    REPLICA_UNAVAILABLE), none faster than the 40 ms round trip to the replica (so each
    acknowledgement waited for REPL_ACK), and every acknowledged entry is on the replica."""
    first = 100000002001
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True)
    p.proxy.delay(20)  # each way: 40 ms round trip on the replication link
    p.start()
    try:
        open_contracts(p.primary.port, first, 4)
        load = Load(p.primary.port, range(first, first + 4)).start()
        time.sleep(2.0)
        load.stop()
        assert not load.broken and not load.refusals(), load.refusals()[:5]
        lat = sorted(a[1] - a[0] for a in load.answers)
        assert len(lat) >= 50
        # an acknowledgement needs the replica's REPL_ACK: at least one round trip
        assert lat[0] >= 0.039, f"acknowledged in {lat[0] * 1000:.1f} ms < the 40 ms round trip"
        print(f"delay 20 ms each way: {len(lat)} acknowledged, latency min "
              f"{lat[0] * 1000:.0f} ms, median {lat[len(lat) // 2] * 1000:.0f} ms, max "
              f"{lat[-1] * 1000:.0f} ms")
        wait_for(lambda: heads_equal(p.primary, p.replica), "heads equal")
    finally:
        p.kill()
    final_checks(p, load.acked())


def test_throttled_link_acknowledges_only_what_the_replica_holds(tmp_path):
    """A link too slow for the load (6 kB/s, a few dozen entries a second): appends wait for
    it, some past sync_timeout_ms (those fail), and every acknowledged one is on the
    replica; once the link is fast again the replica catches up."""
    first = 100000002501
    p = Pair(tmp_path, sync_timeout_ms=300, via_proxy=True).start()
    try:
        open_contracts(p.primary.port, first, 8)
        p.proxy.throttle(6000)  # bytes/s each way
        b0, t0 = p.proxy.bytes_down, time.monotonic()
        load = Load(p.primary.port, range(first, first + 8)).start()
        time.sleep(3.0)
        load.stop()
        rate = (p.proxy.bytes_down - b0) / (time.monotonic() - t0)
        assert rate <= 6000 * 1.2, f"the link carried {rate:.0f} B/s"
        assert not load.broken
        statuses = {a[4] for a in load.answers}
        assert statuses <= {0, REPLICA_UNAVAILABLE}, statuses
        assert load.count_acked() >= 5
        print(f"throttled 6 kB/s ({rate:.0f} B/s seen): {load.count_acked()} acknowledged, "
              f"{len(load.refusals())} REPLICA_UNAVAILABLE")
        p.proxy.throttle(None)
        wait_for(lambda: heads_equal(p.primary, p.replica), "heads equal", timeout=20)
    finally:
        p.kill()
    final_checks(p, load.acked())


def test_fresh_replica_catches_up_over_a_link_slower_than_one_frame_per_silence_limit(tmp_path):
    """A fresh replica behind a 400 kB/s link copies a primary holding 13,000 entries: the
    first REPL_ENTRIES (10,000 entries, about 1.8 MB) takes several seconds to arrive, far
    more than the replica's 1.5 s silence limit. Bytes keep arriving, so the replica keeps
    reading (the limit is on silence, not on the frame) and catches up; it never gives up
    and re-dials meanwhile."""
    p = Pair(tmp_path, via_proxy=True)
    sample = tmp_path / "s.jsonl"
    sample.write_text(Ctl(p.primary.data).run("sample", "--contracts", "1000", "--months",
                                              "12").stdout)
    Ctl(p.primary.data).run("--quiet", "post", str(sample))  # offline, before the pair starts
    head = Ctl(p.primary.data).json("status")[0]["head_seq"]
    assert head > 12000
    p.proxy.throttle(400_000)  # bytes/s each way
    p.primary.start()
    p.replica.start()
    try:
        t0 = time.monotonic()
        wait_for(lambda: status(p.replica.port)["head_seq"] == head, "catch-up", timeout=40)
        secs = time.monotonic() - t0
        assert status(p.replica.port)["head_hash"] == status(p.primary.port)["head_hash"]
        assert secs > 3.0, f"caught up in {secs:.1f} s: the link was not slow enough"
        assert p.proxy.connections_total == 1, "the replica gave up on a frame and re-dialled"
        assert "replica not streaming" not in p.replica.logs()
        print(f"caught up {head} entries over 400 kB/s in {secs:.1f} s, one connection")
    finally:
        p.kill()
    offline_checks(p.primary, p.replica)


# ---- c. the replica dies --------------------------------------------------------------------

def test_replica_killed_under_load_then_restarted(tmp_path):
    """SIGKILL of the replica under load: nothing acknowledged beyond what its ledger held
    when it died (read offline from its files), appends fail with REPLICA_UNAVAILABLE; on
    restart it resubscribes, catches up and traffic resumes; nothing lost or doubled."""
    first = 100000003001
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True).start()
    try:
        open_contracts(p.primary.port, first, 8)
        load = Load(p.primary.port, range(first, first + 8)).start()
        wait_for(lambda: load.count_acked() >= 200, "acknowledged load")
        p.replica.proc.kill()  # SIGKILL
        p.replica.proc.wait()
        t_kill = time.monotonic()
        durable = Ctl(p.replica.data).json("status")[0]["head_seq"]  # what survived the kill
        time.sleep(2.5 * SYNC_MS / 1000)
        beyond = [a for a in load.acked() if a[0] > durable]
        assert not beyond, f"acknowledged beyond the dead replica's {durable}: {beyond[:5]}"
        refused = load.refusals(since=t_kill)
        assert refused and {r[4] for r in refused} == {REPLICA_UNAVAILABLE}
        mark = log_mark(p.replica)
        p.replica.start()
        t_back = time.monotonic()
        wait_log(p.replica, "replica streaming", since=mark)
        wait_for(lambda: len(load.acked(since=t_back)) >= 100, "traffic resuming", timeout=15)
        load.stop()
        assert not load.broken, load.broken
        wait_for(lambda: heads_equal(p.primary, p.replica), "heads equal")
        print(f"replica killed at durable seq {durable}: {len(refused)} refused while down, "
              f"{load.count_acked()} acknowledged in all")
    finally:
        p.kill()
    final_checks(p, load.acked())


# ---- d. fencing a failed-over primary -------------------------------------------------------

class Probe(threading.Thread):
    """Sends appends to one node, one at a time, from before `go` is set until `until`;
    records each answer's status (0 = acknowledged) or 'timeout' / 'closed'."""

    def __init__(self, port, contract, months, go, until):
        super().__init__(daemon=True)
        self.conn = kw.Conn(port, timeout=8)  # connects now (the node may be stopped)
        self.contract, self.months, self.go, self.until = contract, months, go, until
        self.answers = []

    def run(self):
        rid = 0
        try:
            while rid == 0 or time.monotonic() < self.until[0]:
                m = self.months.get(self.contract, 0)
                self.months[self.contract] = m + 1
                period = period_of(m)
                rid += 1
                self.conn.send(kw.frame(kw.APPEND, kw.append_body(
                    [kw.event(PAID, SHOKIBO, self.contract, 1000, period=period)]), rid))
                if rid == 1:
                    self.go.wait()
                t, _, _, body = self.conn.recv()
                if t == kw.APPEND:
                    st, _, seq = kw.decode_append(body)[0]
                    self.answers.append((st, seq, period))
                else:
                    self.answers.append((kw.decode_error(body)[0], 0, period))
                    time.sleep(0.01)  # no busy loop against a node that refuses at once
        except OSError as e:  # socket.timeout and ConnectionError included
            self.answers.append(("timeout" if "timed out" in str(e) else "closed", 0, 0))
        finally:
            self.conn.close()


def test_old_primary_restarted_with_a_stale_epoch_acknowledges_nothing(tmp_path):
    """The primary is killed, the replica promoted (epoch 2) and written to; the old primary
    is restarted still configured as primary at epoch 1, and clients write to it from its
    first moment: not one append is acknowledged before it steps down and follows."""
    first = 100000004501
    p = watched_pair(tmp_path, sync_timeout_ms=SYNC_MS)
    old, new = p.primary, p.replica
    p.start()
    months = {}
    try:
        open_contracts(old.port, first, 8)
        mark = log_mark(new)
        old.proc.kill()
        old.proc.wait()
        wait_log(new, "replica not streaming", since=mark)
        assert ctl_remote(new.port, "promote", "--force").returncode == 0
        load2 = Load(new.port, range(first, first + 4), months).start()
        wait_for(lambda: load2.count_acked() >= 20, "writes on the new primary")
        mark = log_mark(old)
        old.start()  # role = primary, epoch 1 in its ledger
        go, until = threading.Event(), [time.monotonic() + 3.0]
        probes = [Probe(old.port, first + 4 + i, months, go, until) for i in range(4)]
        for pr in probes:
            pr.start()
        go.set()
        wait_log(old, "stepping down", since=mark)
        for pr in probes:
            pr.join(timeout=20)
        load2.stop()
        answers = [a for pr in probes for a in pr.answers]
        assert answers and not [a for a in answers if a[0] == 0], answers
        assert {a[0] for a in answers} <= {REPLICA_UNAVAILABLE, NOT_PRIMARY, "timeout", "closed"}
        wait_for(lambda: heads_equal(old, new), "old primary following", timeout=20)
        assert status(old.port)["role"] == 2 and status(old.port)["epoch"] == 2
    finally:
        p.kill()
    final_checks(p, load2.acked())
    # both nodes hold the same epoch history: epoch 1 from seq 1, epoch 2 from the promotion
    eo, en = (Ctl(n.data).json("status")[0]["epochs"] for n in (old, new))
    assert eo == en and [e["epoch"] for e in en] == [1, 2] and en[0]["first_seq"] == 1


@pytest.mark.parametrize("watch", ["reachable", "partitioned"])
def test_failed_over_primary_is_fenced_then_follows(tmp_path, watch):
    """The primary is frozen (SIGSTOP) under load, the replica promoted after it logged that
    it lost the stream, the new primary takes writes; the old primary continues (SIGCONT)
    with appends already waiting on its sockets and more driven at it: not one of them is
    acknowledged (REPLICA_UNAVAILABLE, NOT_PRIMARY or no answer); it steps down, its
    unacknowledged tail is quarantined and it follows the new primary to equal heads.
    reachable: its epoch watcher reaches the new primary at once, so it steps down
    (NOT_PRIMARY) within a watch period; partitioned: it cannot reach the new one for 3 s
    after it continues, so only strict synchronous mode fences it (REPLICA_UNAVAILABLE)
    until the partition heals and it steps down."""
    first = 100000004001
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True)
    old, new = p.primary, p.replica
    watch_link = FaultProxy(new.port)  # the old primary's way to the new one (watch, then stream)
    old.extra += ["--set", f"replication.peer_addr=127.0.0.1:{watch_link.port}"]
    p.start()
    months = {}
    try:
        open_contracts(old.port, first, 16)  # 0-7 load, 8-11 the new primary, 12-15 probes
        load = Load(old.port, range(first, first + 8), months).start()
        wait_for(lambda: load.count_acked() >= 200, "acknowledged load")
        mark = log_mark(new)
        old.proc.send_signal(signal.SIGSTOP)
        wait_log(new, "replica not streaming", since=mark)
        r = ctl_remote(new.port, "promote", "--force")
        assert r.returncode == 0, r.stderr
        assert status(new.port)["role"] == 1
        # the new primary takes writes (standalone) while the old one is frozen
        load2 = Load(new.port, range(first + 8, first + 12), months).start()
        wait_for(lambda: load2.count_acked() >= 20, "writes on the new primary")
        if watch == "partitioned":
            watch_link.blackhole(True)
        # probes are connected and their first append is sent while the old primary is
        # still stopped, so they are the first thing it reads when it continues
        go, until = threading.Event(), [0.0]
        probes = [Probe(old.port, first + 12 + i, months, go, until) for i in range(4)]
        for pr in probes:
            pr.start()
        time.sleep(0.2)
        mark = log_mark(old)
        t_cont = time.monotonic()
        until[0] = t_cont + (4.0 if watch == "reachable" else 6.0)
        old.proc.send_signal(signal.SIGCONT)
        go.set()
        if watch == "partitioned":
            time.sleep(3.0)
            assert "stepping down" not in old.logs()[mark:], "stepped down through a partition?"
            refused = [a[0] for pr in probes for a in list(pr.answers)]
            assert refused and set(refused) == {REPLICA_UNAVAILABLE}, refused
            watch_link.blackhole(False)
        wait_log(old, "stepping down", since=mark)
        for pr in probes:
            pr.join(timeout=20)
        load.stop()
        load2.stop()
        answers = [a for pr in probes for a in pr.answers]
        acked_by_old = [a for a in answers if a[0] == 0]
        assert not acked_by_old, f"the fenced primary acknowledged {acked_by_old}"
        assert {a[0] for a in answers} <= {REPLICA_UNAVAILABLE, NOT_PRIMARY, "timeout", "closed"}
        assert NOT_PRIMARY in {a[0] for a in answers}, answers
        # the old load's appends answered after it continued: refused, or already on the
        # new primary (checked below with every acknowledgement)
        late = [a for a in load.answers if a[1] >= t_cont]
        assert {a[4] for a in late} <= {0, REPLICA_UNAVAILABLE, NOT_PRIMARY}
        wait_for(lambda: heads_equal(old, new), "old primary following", timeout=20)
        so, sn = status(old.port), status(new.port)
        assert so["role"] == 2 and sn["role"] == 1 and so["epoch"] == sn["epoch"] == 2
        print(f"{watch}: fenced primary answered",
              dict(collections.Counter(str(a[0]) for a in answers)))
    finally:
        p.kill()
        watch_link.close()
    acked = load.acked() + load2.acked()
    a, b = final_checks(p, acked)
    chain = {(e["contract"], e["period"]) for e in b.values() if e["kind"] == "premium_paid"}
    acked_keys = {(c, per) for _, c, per in acked}
    q = quarantine_of(old)
    assert not [e for e in q if (e.get("contract"), e.get("period")) in acked_keys]
    assert not [e for e in q if e["kind"] == "premium_paid" and
                (e["contract"], e["period"]) in chain], "a quarantined event is also in the chain"
    probed = {(pr.contract, a[2]) for pr in probes for a in pr.answers if a[2]}
    assert not probed & chain, "an event refused by the fenced primary reached the new chain"
    # REPLICA_UNAVAILABLE means written locally but never acknowledged: kept in quarantine
    timed_out = {(pr.contract, a[2]) for pr in probes for a in pr.answers
                 if a[0] == REPLICA_UNAVAILABLE}
    assert timed_out <= {(e.get("contract"), e.get("period")) for e in q}, "not quarantined"


# ---- e. crash rounds ------------------------------------------------------------------------

def crash_rounds():
    return int(os.environ.get("KY_CRASH_ROUNDS", "30"))


def set_role(node, base, role, peer):
    node.extra = base + ["--set", f"replication.role={role}",
                         "--set", f"replication.peer_addr=127.0.0.1:{peer.port}"]


class Chains:
    """What the round checks have already read of each node's ledger (seq -> (kind,
    contract, period, leaf hash)). Entries at or below a head both nodes agreed on never
    change again (the new primary only appends; a rejoining node quarantines only beyond
    the common prefix), so each round reads only what is new."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.seen = {n.data: {} for n in nodes}
        self.agreed = 0

    def read(self, head):
        for n in self.nodes:
            got = entries_of(n, self.agreed + 1, head)
            self.seen[n.data].update({s: (e["kind"], e["contract"], e["period"], e["leaf_hash"])
                                      for s, e in got.items()})
        self.agreed = head


def round_checks(a, b, chains, acked, rnd):
    sa, sb = status(a.port), status(b.port)
    assert sa["head_seq"] == sb["head_seq"] and sa["head_hash"] == sb["head_hash"], rnd
    assert sa["epoch"] == sb["epoch"] and {sa["role"], sb["role"]} == {1, 2}, (rnd, sa, sb)
    chains.read(sa["head_seq"])
    ca, cb = chains.seen[a.data], chains.seen[b.data]
    assert ca == cb, f"round {rnd}: the two ledgers differ"
    assert len(ca) == sa["head_seq"]
    paid = collections.Counter((c, per) for k, c, per, _ in ca.values() if k == "premium_paid")
    twice = [k for k, n in paid.items() if n > 1]
    assert not twice, f"round {rnd}: events twice in the chain: {twice[:5]}"
    lost = [x for x in acked if ca.get(x[0], (None, None, None))[1:3] != x[1:]]
    assert not lost, f"round {rnd}: acknowledged but missing or different: {lost[:5]}"
    acked_keys = {(c, per) for _, c, per in acked}
    for n in (a, b):
        q = quarantine_of(n)
        bad = [e for e in q if (e.get("contract"), e.get("period")) in acked_keys]
        assert not bad, f"round {rnd}: acknowledged entries in {n.data} quarantine: {bad[:3]}"
        dup = [e for e in q if e["kind"] == "premium_paid" and (e["contract"], e["period"]) in paid]
        assert not dup, f"round {rnd}: quarantined and also in the chain: {dup[:3]}"
    for n in (a, b):
        v = Ctl(n.data).json("verify")[0]  # read-only: the node keeps running
        assert v["ok"], f"round {rnd}: {n.data} verify {v}"
        r = Ctl(n.data).json("reindex", "--check")[0]  # replays a snapshot of the live node
        assert r["snapshot"] and r["state_equal"], f"round {rnd}: {n.data} reindex --check {r}"


def test_crash_rounds_lose_no_acknowledged_entry(tmp_path):
    """Each round: load on the primary, SIGKILL it at a random moment, promote the replica
    once it logged that it lost the stream, restart the killed node pointing at the new
    primary (it steps down, quarantines its unacknowledged tail and catches up), heads
    equal and the new primary back in strict mode by itself (DESIGN §5: standalone only
    until the old primary returns); then the roles swap, the new primary being the next
    one killed.
    After every round: every acknowledged event exactly once on both, quarantines hold only
    unacknowledged events (none also in the chain), heads and head hashes equal, both chains
    verify and both nodes' derived state equals a replay (reindex --check on a snapshot of
    the running node); at the end the same checks once more with both nodes stopped."""
    rounds = crash_rounds()
    seed = int(os.environ.get("KY_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    print(f"crash rounds: {rounds}, KY_CRASH_SEED={seed}")
    first = 100000005001
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS)
    nodes = [p.primary, p.replica]
    base = ["--set", "security.plaintext=1", "--set", f"replication.sync_timeout_ms={SYNC_MS}"]
    set_role(p.primary, base, "primary", p.replica)
    set_role(p.replica, base, "replica", p.primary)
    p.start()
    prim, repl = p.primary, p.replica
    chains = Chains(nodes)
    months, acked = {}, []
    t_start = time.monotonic()
    stats = []
    try:
        for rnd in range(1, rounds + 1):
            contracts = range(first + 8 * rnd, first + 8 * rnd + 8)  # fresh ones each round
            open_contracts(prim.port, contracts[0], 8)
            load = Load(prim.port, contracts, months, timeout=10).start()
            wait_for(lambda: load.answers, "load answered")
            time.sleep(rng.uniform(0.0, 0.4))
            mark = log_mark(repl)
            prim.proc.kill()  # SIGKILL at a random moment
            prim.proc.wait()
            load.stop()
            statuses = {a[4] for a in load.answers}
            assert statuses <= {0, REPLICA_UNAVAILABLE}, f"round {rnd}: refusals {statuses}"
            acked += load.acked()
            wait_log(repl, "replica not streaming", since=mark)
            r = ctl_remote(repl.port, "promote", "--force")
            assert r.returncode == 0, f"round {rnd}: promote refused: {r.stderr}"
            set_role(prim, base, "primary", repl)
            mark = log_mark(prim)
            prim.start()
            wait_log(prim, "stepping down", since=mark)
            wait_for(lambda: heads_equal(prim, repl), f"round {rnd}: heads equal", timeout=20)
            wait_for(lambda: status(repl.port)["mode"] == 1,  # strict, by itself
                     f"round {rnd}: the new primary restored strict mode", timeout=10)
            wait_for(lambda: heads_equal(prim, repl), f"round {rnd}: heads equal")
            quarantined = "diverged tail quarantined" in prim.logs()[mark:]
            round_checks(repl, prim, chains, acked, rnd)
            stats.append((load.count_acked(), quarantined))
            prim, repl = repl, prim  # the new primary is the next one to kill
    finally:
        p.kill()
        print(f"{len(stats)} rounds in {time.monotonic() - t_start:.1f} s; acknowledged per "
              f"round {[s[0] for s in stats]}; rounds with a quarantined tail "
              f"{sum(1 for s in stats if s[1])}")
    offline_checks(*nodes, reindex=True)


# ---- minimal reproductions of the bugs found --------------------------------------------------

def failed_over_pair(tmp_path):
    """A pair after one clean failover: the replica promoted, the old primary restarted,
    stepped down and caught up. Returns (pair, new primary, old primary)."""
    p = watched_pair(tmp_path, sync_timeout_ms=SYNC_MS).start()
    open_contracts(p.primary.port, 100000006001, 4)
    mark = log_mark(p.replica)
    p.primary.proc.kill()
    p.primary.proc.wait()
    wait_log(p.replica, "replica not streaming", since=mark)
    assert ctl_remote(p.replica.port, "promote", "--force").returncode == 0
    mark = log_mark(p.primary)
    p.primary.start()
    wait_log(p.primary, "replica streaming", since=mark)
    wait_for(lambda: heads_equal(p.primary, p.replica), "old primary caught up")
    wait_for(lambda: status(p.replica.port)["mode"] == 1, "strict again once it caught up")
    wait_for(lambda: heads_equal(p.primary, p.replica), "the mode change replicated")
    return p, p.replica, p.primary


def test_promoted_primary_waits_for_its_rejoined_replica(tmp_path):
    p, new, old = failed_over_pair(tmp_path)
    try:
        old.proc.send_signal(signal.SIGSTOP)  # the rejoined replica stops answering
        c = kw.Conn(new.port)
        t, _, _, body = c.call(kw.APPEND, kw.append_body(
            [kw.event(PAID, SHOKIBO, 100000006001, 1000, period=202401)]))
        c.close()
        answer = kw.decode_append(body)[0] if t == kw.APPEND else kw.decode_error(body)
        assert t == kw.ERROR and answer[0] == REPLICA_UNAVAILABLE, \
            f"acknowledged without the replica: {answer}, mode {status(new.port)['mode']}"
    finally:
        p.kill()


def test_every_lost_stream_is_logged(tmp_path):
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True).start()
    try:
        for outage in (1, 2):
            mark = log_mark(p.replica)
            p.proxy.cut(rst=True)
            wait_log(p.replica, "replica streaming", since=mark, timeout=5)  # redialled
            assert "replica not streaming" in p.replica.logs()[mark:], \
                f"outage {outage} was not logged"
    finally:
        p.kill()


def test_stale_replica_of_a_standalone_primary_is_not_promoted(tmp_path):
    p = watched_pair(tmp_path, sync_timeout_ms=SYNC_MS).start()
    try:
        open_contracts(p.primary.port, 100000007001, 1)
        assert ctl_remote(p.primary.port, "degrade").returncode == 0  # explicit standalone
        wait_for(lambda: heads_equal(p.primary, p.replica), "the replica holds the mode change")
        p.replica.proc.send_signal(signal.SIGSTOP)  # it falls behind from here
        load = Load(p.primary.port, [100000007001]).start()
        wait_for(lambda: load.count_acked() >= 10, "acknowledged without the replica")
        load.stop()
        mark = log_mark(p.replica)
        p.primary.proc.kill()
        p.primary.proc.wait()
        p.replica.proc.send_signal(signal.SIGCONT)
        wait_log(p.replica, "replica not streaming", since=mark)
        head = status(p.replica.port)["head_seq"]
        missing = [a for a in load.acked() if a[0] > head]
        assert missing  # the scenario: acknowledged entries the replica does not hold
        r = ctl_remote(p.replica.port, "promote", "--force")
        assert r.returncode != 0, (f"promoted at head {head} without --accept-loss; "
                                   f"{len(missing)} acknowledged entries lost: {missing[:3]}")
        assert "PROMOTE_REFUSED" in r.stderr and "standalone" in r.stderr, r.stderr
        assert status(p.replica.port)["role"] == 2  # still a replica
        # the operator may accept the loss; the ledger then says so
        r = ctl_remote(p.replica.port, "promote", "--force", "--accept-loss")
        assert r.returncode == 0, r.stderr
        tail = entries_of(p.replica, first=head + 1)
        kinds = [e["kind"] for e in tail.values()]
        assert kinds[:3] == ["epoch_started", "loss_accepted", "mode_changed"], kinds
    finally:
        p.kill()


def test_replica_behind_the_acknowledged_seq_names_the_missing_range(tmp_path):
    """A wiped replica re-syncing through a slow link learns the primary's acknowledged
    seq with its first entries; with the primary gone mid-catch-up, promotion is refused
    naming the range it lacks, and the operator can accept exactly that loss."""
    p = Pair(tmp_path, sync_timeout_ms=SYNC_MS, via_proxy=True)
    p.primary.extra += ["--set", "limits.frame_body_bytes_max=65536"]  # ~400 entries a frame
    p.start()
    try:
        for k in range(4):  # 4,000 acknowledged entries
            open_contracts(p.primary.port, 100000008001 + 1000 * k, 1000)
        acked_head = status(p.primary.port)["head_seq"]
        wait_for(lambda: heads_equal(p.primary, p.replica), "replica in step")
        p.replica.stop()
        import shutil
        shutil.rmtree(p.replica.data)
        Ctl(p.replica.data).run("init", "--replica")  # a wiped disk: empty, new identity
        p.proxy.throttle(200000)  # bytes/s: the catch-up takes a few seconds
        p.replica.start()
        wait_for(lambda: 0 < status(p.replica.port)["head_seq"], "catch-up started")
        p.primary.proc.kill()
        p.primary.proc.wait()
        wait_for(lambda: not status(p.replica.port)["peer_connected"], "stream lost")
        head = status(p.replica.port)["head_seq"]
        assert 0 < head < acked_head
        r = ctl_remote(p.replica.port, "promote", "--force")
        assert r.returncode == 1 and "PROMOTE_REFUSED" in r.stderr, r.stderr
        assert f"entries {head + 1}..{acked_head}" in r.stderr, r.stderr
        r = ctl_remote(p.replica.port, "promote", "--force", "--accept-loss")
        assert r.returncode == 0, r.stderr
        loss = [e for e in entries_of(p.replica, first=head + 1).values()
                if e["kind"] == "loss_accepted"]
        assert len(loss) == 1
    finally:
        p.kill()
