"""kyosaictl on a real ledger: init, post, reads, verify, reindex, corruption detection.

Goal: an operator or auditor can do everything issue #2 names from the CLI, bad input is
reported with its line number and writes nothing, and a flipped byte in the LMDB file is
found by `verify`, which names the seq. Method: real kyosaictl processes on temp dirs.
"""
import json
import os
import subprocess

from conftest import Ctl, kyosaictl_path


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_help_everywhere(tmp_path):
    p = subprocess.run([kyosaictl_path(), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "Commands:" in p.stdout
    for cmd in ["init", "post", "get", "range", "contract", "history", "status", "verify",
                "reindex", "sample"]:
        p = subprocess.run([kyosaictl_path(), cmd, "--help"], capture_output=True, text=True)
        assert p.returncode == 0, cmd
        assert p.stdout.startswith("usage: kyosaictl"), cmd
    p = subprocess.run([kyosaictl_path(), "frobnicate"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_missing_ledger_is_a_clear_error(tmp_path):
    c = Ctl(str(tmp_path / "nope"))
    p = c.run("status", check=False)
    assert p.returncode == 3
    assert "KY_E_NOT_FOUND" in p.stderr and "init" in p.stderr


def test_init_refuses_existing(ctl):
    p = ctl.run("init", check=False)
    assert p.returncode == 1 and "already holds a ledger" in p.stderr


def test_post_json_and_read_back(ctl, tmp_path):
    f = write(tmp_path, "ev.jsonl", "\n".join([
        '{"kind":"contract_opened","scheme":"shokibo","contract":100000000001,"amount":42000,"member_type":1}',
        '{"kind":"premium_paid","scheme":"shokibo","contract":100000000001,"amount":42000,"period":202604}',
        '{"kind":"premium_paid","scheme":"shokibo","contract":100000000001,"amount":42000,"period":202604}',
        '{"kind":"premium_paid","scheme":"shokibo","contract":100000000001,"amount":"x","period":202605}',
        '{"kind":"contract_amended","scheme":"shokibo","contract":100000000001,"payload":"doc AMD-1"}',
    ]) + "\n")
    p = ctl.run("post", f, check=False, json_out=True)
    assert p.returncode == 1  # one refusal, one bad line
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["posted"] == 3
    assert summary["refused"] == 1
    assert summary["bad_lines"] == 1
    assert summary["refused_by_reason"] == {"KY_E_MONTH_ALREADY_PAID": 1}
    assert "line 3" in p.stderr and "KY_E_MONTH_ALREADY_PAID" in p.stderr
    assert "line 4" in p.stderr and "amount" in p.stderr
    [c] = ctl.json("contract", "100000000001")
    assert c["months_paid"] == 1 and c["total_paid"] == 42000 and c["entry_count"] == 3
    hist = ctl.json("history", "100000000001")
    assert [h["kind"] for h in hist] == ["contract_opened", "premium_paid", "contract_amended"]
    assert hist[1]["contract_prev_hash"] == hist[0]["leaf_hash"]
    assert hist[2]["payload"] == "doc AMD-1"
    [e] = ctl.json("get", "3")
    assert e["kind"] == "premium_paid" and e["prev_hash"] == ctl.json("get", "2")[0]["leaf_hash"]
    assert len(ctl.json("range", "1", "4")) == 4
    # posting the same file again is idempotent: nothing new is written
    head = ctl.json("status")[0]["head_seq"]
    p = ctl.run("post", f, check=False, json_out=True)
    again = json.loads(p.stdout.strip().splitlines()[-1])
    assert again["posted"] == 0 and again["duplicates"] == 3
    assert ctl.json("status")[0]["head_seq"] == head


def test_post_csv(ctl, tmp_path):
    f = write(tmp_path, "ev.csv",
              "kind,scheme,contract,amount,period,member_type\n"
              "contract_opened,safety,200000000001,200000,,1\n"
              "premium_paid,safety,200000000001,200000,202604,\n"
              "premium_paid,safety,200000000001,7500,202605,\n")
    p = ctl.run("post", f, check=False)
    assert p.returncode == 1
    assert "line 4" in p.stderr and "KY_E_PREMIUM_STEP" in p.stderr
    [c] = ctl.json("contract", "200000000001")
    assert c["scheme"] == "safety" and c["months_paid"] == 1


def test_sample_post_verify_reindex(ctl, tmp_path):
    p = ctl.run("sample", "--contracts", "300", "--months", "12", "--seed", "7")
    f = write(tmp_path, "sample.jsonl", p.stdout)
    lines = p.stdout.count("\n")
    assert lines >= 300 * 13
    ctl.run("post", f)
    v = ctl.json("verify")[0]
    assert v["ok"] and v["checked"] == lines + 1 and v["contracts"] == 300
    r = ctl.json("reindex", "--check")[0]
    assert r["state_equal"] is True
    r = ctl.json("reindex")[0]
    assert r["state_equal"] is True
    assert ctl.json("verify", "--from", "100", "--to", "200")[0]["checked"] == 101


def find_all(data, needle):
    out, i = [], data.find(needle)
    while i >= 0:
        out.append(i)
        i = data.find(needle, i + 1)
    return out


def test_flipped_byte_is_found_and_named(ctl, tmp_path):
    marker = "CORRUPTION-PROBE-7f3a9c"
    f = write(tmp_path, "ev.jsonl", "\n".join([
        '{"kind":"contract_opened","scheme":"shokibo","contract":100000000001,"amount":42000,"member_type":1}',
        '{"kind":"contract_amended","scheme":"shokibo","contract":100000000001,"payload":"%s"}' % marker,
        '{"kind":"premium_paid","scheme":"shokibo","contract":100000000001,"amount":42000,"period":202604}',
    ]) + "\n")
    ctl.run("post", f)
    assert ctl.json("verify")[0]["ok"]
    path = os.path.join(ctl.data, "data.mdb")
    data = bytearray(open(path, "rb").read())
    hits = find_all(bytes(data), marker.encode())
    assert hits, "the probe entry is in the file"
    # Flip one byte of the entry's amount field (152-byte header before the payload). LMDB
    # is copy-on-write, so stale copies of the page may also hold it: flip every copy.
    for h in hits:
        data[h - 152 + 56] ^= 0x01
    open(path, "wb").write(bytes(data))
    p = ctl.run("verify", check=False)
    assert p.returncode == 1
    assert "FAILED at seq 3" in p.stdout, p.stdout
    assert "checksum" in p.stdout
    v = ctl.json("verify", check=False)[0]
    assert v["ok"] is False and v["first_bad_seq"] == 3 and v["error"] == "KY_E_CORRUPT"
    # reading the entry is refused, not served
    p = ctl.run("get", "3", check=False)
    assert p.returncode != 0 and "KY_E_CORRUPT" in p.stderr


def test_second_writer_is_refused(ctl, tmp_path):
    import fcntl
    lock = open(os.path.join(ctl.data, "kyosai.lock"), "r+")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # stands in for a running writer
    try:
        f = write(tmp_path, "e.jsonl", '{"kind":"contract_opened","scheme":"shokibo",'
                  '"contract":1,"amount":1000,"member_type":1}\n')
        p = ctl.run("post", f, check=False)
        assert p.returncode == 3 and "KY_E_LOCKED" in p.stderr
        assert ctl.run("verify").returncode == 0  # readers are not blocked
    finally:
        lock.close()


def test_reindex_check_on_a_running_node_replays_a_snapshot(tmp_path):
    """reindex --check on a directory kyosaid holds copies one consistent LMDB snapshot to
    $TMPDIR and replays it: equal state is reported for the node's current head, tampered
    derived state is found, the scratch copy is removed and the node keeps serving; a
    rebuild (no --check) is still refused while the node runs."""
    import struct
    from conftest import Node
    n = Node(tmp_path)
    c = Ctl(n.data)
    f = write(tmp_path, "e.jsonl", "".join(
        json.dumps({"kind": "contract_opened", "scheme": "shokibo", "contract": 7000 + i,
                    "amount": 41000, "member_type": 1}) + "\n" for i in range(3)))
    c.run("post", f)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    n.start()
    try:
        p = subprocess.run([kyosaictl_path(), "--data", n.data, "--json", "--quiet",
                            "reindex", "--check"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r == {"rebuilt": False, "state_equal": True, "head_seq": 4, "snapshot": True}
        assert list(scratch.iterdir()) == [], "the scratch copy is removed"
        p = c.run("reindex", check=False)
        assert p.returncode == 3 and "KY_E_LOCKED" in p.stderr and "--check" in p.stderr
        assert n.proc.poll() is None
    finally:
        n.stop()
    # Tamper with contract 7001's derived total (contract state: id LE at +16, premium LE at
    # +24, total paid LE at +32), leaving every entry intact: verify passes, the replay differs.
    path = os.path.join(n.data, "data.mdb")
    data = bytearray(open(path, "rb").read())
    hits = find_all(bytes(data), struct.pack("<QQ", 7001, 41000))
    assert hits, "contract 7001's state record is in the file"
    for h in hits:
        data[h + 16] ^= 0x01
    open(path, "wb").write(bytes(data))
    assert c.json("verify")[0]["ok"]
    n.start()
    try:
        p = subprocess.run([kyosaictl_path(), "--data", n.data, "reindex", "--check"],
                           capture_output=True, text=True, env=env)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "DIFFERS FROM a replay of entries 1..4 in a snapshot of the running node" in p.stdout
        assert list(scratch.iterdir()) == []
    finally:
        n.stop()
