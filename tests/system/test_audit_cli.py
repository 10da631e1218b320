"""kyosaictl audit commands: keygen, checkpoint, prove, prove-consistency, check-*.

Goal: an auditor holding only the verifier key can check, offline, that an entry is in the
ledger and that a later signed checkpoint extends an earlier one; every tampering (note text,
proof hash, sizes, another key, another origin, a forked history) is refused with exit 1; and
the notes and proofs are standard C2SP / RFC 9162, so an independent implementation (here a
short Python one reading the raw entries with mdb_dump) reaches the same verdicts.
Method: real kyosaictl processes on temp ledgers filled through `post`.
"""
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import Ctl, kyosaictl_path

AUDIT_COMMANDS = ["keygen", "checkpoint", "prove", "prove-consistency", "check-inclusion",
                  "check-consistency"]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def post_contracts(ctl, tmp_path, first, count, kind="contract_opened", period=None):
    lines = []
    for i in range(count):
        ev = {"kind": kind, "scheme": "shokibo", "contract": 100000000001 + first + i,
              "amount": 42000}
        if kind == "contract_opened":
            ev["member_type"] = 1
        if period:
            ev["period"] = period
        lines.append(json.dumps(ev))
    f = write(tmp_path, f"ev-{kind}-{first}-{period}.jsonl", "\n".join(lines) + "\n")
    ctl.run("post", f)


@pytest.fixture
def audit(ctl, tmp_path):
    """A ledger with 41 entries and a signing key pair in tmp_path/node.{key,pub}."""
    post_contracts(ctl, tmp_path, 0, 40)
    ctl.run("keygen", "--name", "example.jp/kyosai", "--out", str(tmp_path / "node"))
    return ctl


def checkpoint(ctl, tmp_path, name, *extra):
    note = ctl.run("checkpoint", "--key", str(tmp_path / "node.key"), *extra).stdout
    return write(tmp_path, name, note)


def prove(ctl, tmp_path, name, *args):
    return write(tmp_path, name, ctl.run(*args).stdout)


def offline(tmp_path):
    """A Ctl whose data directory does not exist: check-* must not need a ledger."""
    return Ctl(str(tmp_path / "no-ledger-here"))


def test_help(tmp_path):
    for cmd in AUDIT_COMMANDS:
        p = subprocess.run([kyosaictl_path(), cmd, "--help"], capture_output=True, text=True)
        assert p.returncode == 0, cmd
        assert p.stdout.startswith("usage: kyosaictl"), cmd


def test_keygen_writes_private_key_and_never_overwrites(tmp_path):
    c = offline(tmp_path)
    prefix = str(tmp_path / "k")
    p = c.run("keygen", "--name", "example.jp/kyosai", "--out", prefix)
    vkey = p.stdout.strip()
    assert vkey.startswith("example.jp/kyosai+")
    assert open(prefix + ".pub").read().strip() == vkey
    key = open(prefix + ".key").read()
    assert key.startswith("PRIVATE+KEY+example.jp/kyosai+")
    assert stat.S_IMODE(os.stat(prefix + ".key").st_mode) == 0o600
    p = c.run("keygen", "--name", "other", "--out", prefix, check=False)
    assert p.returncode == 1 and "never overwrites" in p.stderr
    assert open(prefix + ".key").read() == key
    os.unlink(prefix + ".key")  # .pub left behind: still refused, and no new .key stays
    p = c.run("keygen", "--name", "other", "--out", prefix, check=False)
    assert p.returncode == 1 and not os.path.exists(prefix + ".key")
    assert c.run("keygen", "--name", "bad+name", "--out", str(tmp_path / "b"),
                 check=False).returncode == 2
    assert c.run("keygen", "--name", "x", check=False).returncode == 2
    j = c.json("keygen", "--name", "example.jp/kyosai", "--out", str(tmp_path / "j"))[0]
    assert j["verifier_key"] == open(str(tmp_path / "j.pub")).read().strip()


def test_checkpoint_format(audit, tmp_path):
    status = audit.json("status")[0]
    note = open(checkpoint(audit, tmp_path, "cp.note")).read()
    text, sigs = note.split("\n\n")
    lines = text.split("\n")
    assert lines[0] == "kyosai-ledger/" + status["node_id"]
    assert lines[1] == "41"
    assert base64.b64decode(lines[2]).hex() == status["merkle_root"]
    assert lines[3] == "epoch 1"
    assert base64.b64decode(lines[4].split(" ")[1]).hex() == status["head_hash"]
    assert sigs.startswith("\u2014 example.jp/kyosai ")
    custom = open(checkpoint(audit, tmp_path, "cp2.note", "--origin", "example.jp/log")).read()
    assert custom.startswith("example.jp/log\n41\n")
    j = audit.json("checkpoint", "--key", str(tmp_path / "node.key"))[0]
    assert j["tree_size"] == 41 and j["note"] == note
    p = audit.run("checkpoint", "--key", str(tmp_path / "node.pub"), check=False)
    assert p.returncode == 3  # a verifier key cannot sign


def test_inclusion_ok_and_tampering(audit, tmp_path):
    cp = checkpoint(audit, tmp_path, "cp.note")
    pub = str(tmp_path / "node.pub")
    c = offline(tmp_path)
    for seq in [1, 2, 20, 40, 41]:
        proof = prove(audit, tmp_path, f"p{seq}.json", "prove", seq)
        leaf = audit.json("get", seq)[0]["leaf_hash"]
        assert json.load(open(proof))["leaf_hash"] == leaf
        p = c.run("check-inclusion", "--checkpoint", cp, "--pub", pub, "--proof", proof,
                  "--leaf-hash", leaf)
        assert p.stdout.startswith("OK: entry seq %d " % seq)
    assert not os.path.exists(c.data)

    proof = str(tmp_path / "p20.json")
    good = json.load(open(proof))

    def check(doc, *extra, note=cp, key=pub, js=False):
        f = write(tmp_path, "t.json", json.dumps(doc))
        return c.run("check-inclusion", "--checkpoint", note, "--pub", key, "--proof", f,
                     *extra, check=False, json_out=js)

    bad = dict(good, proof=list(good["proof"]))
    bad["proof"][0] = "00" * 32
    p = check(bad)
    assert p.returncode == 1 and p.stdout.startswith("FAIL: entry seq 20")
    assert check(dict(good, seq=21)).returncode == 1
    assert check(dict(good, leaf_hash="11" * 32)).returncode == 1
    assert check(dict(good, proof=good["proof"][:-1])).returncode == 1
    assert check(dict(good, tree_size=40)).returncode == 1
    assert check(dict(good, seq=0)).returncode == 1
    assert check(dict(good, proof="x")).returncode == 1
    assert check(dict(good, proof=["00" * 32] * 66)).returncode == 1  # over the 65 limit
    assert check({"seq": 2 ** 60, "tree_size": 41, "leaf_hash": "00" * 32,
                  "proof": []}).returncode == 1
    assert check(good, "--leaf-hash", "22" * 32).returncode == 1
    assert check(good, "--origin", "somebody/else").returncode == 1
    assert check(good, "--leaf-hash", "xyz").returncode == 2
    note = open(cp).read()
    forged = write(tmp_path, "forged.note", note.replace("\n41\n", "\n40\n", 1))
    p = check(good, note=forged)
    assert p.returncode == 1 and "KY_E_NOTE_SIGNATURE_INVALID" in p.stdout
    c.run("keygen", "--name", "example.jp/kyosai", "--out", str(tmp_path / "mallory"))
    p = check(good, key=str(tmp_path / "mallory.pub"))
    assert p.returncode == 1 and "KY_E_NOTE_UNVERIFIED" in p.stdout
    assert check(good, key=str(tmp_path / "missing.pub")).returncode == 3
    assert check(good, key=proof).returncode == 3
    j = json.loads(check(bad, "--origin", "kyosai-ledger/x", js=True).stdout)
    assert j["ok"] is False and j["check"] == "inclusion" and "origin" in j["reason"]
    j = c.json("check-inclusion", "--checkpoint", cp, "--pub", pub, "--proof", proof)[0]
    assert j["ok"] is True and j["seq"] == 20 and j["tree_size"] == 41


def test_prove_arguments(audit):
    assert audit.run("prove", 42, check=False).returncode == 1
    assert audit.run("prove", 5, "--size", 42, check=False).returncode == 1
    assert audit.run("prove", 5, "--size", 3, check=False).returncode == 2
    assert audit.run("prove", 0, check=False).returncode == 2
    assert audit.run("prove", check=False).returncode == 2
    assert audit.run("prove-consistency", "--old", 0, check=False).returncode == 2
    assert audit.run("prove-consistency", "--old", 9, "--new", 8, check=False).returncode == 2
    assert audit.run("prove-consistency", "--old", 42, check=False).returncode == 1
    p = json.loads(audit.run("prove", 1, "--size", 3).stdout)
    assert p["tree_size"] == 3 and len(p["proof"]) == 2
    p = json.loads(audit.run("prove-consistency", "--old", 41).stdout)
    assert p == {"old_size": 41, "new_size": 41, "proof": []}


def test_consistency_ok_and_tampering(audit, tmp_path):
    pub = str(tmp_path / "node.pub")
    cp1 = checkpoint(audit, tmp_path, "cp1.note")
    post_contracts(audit, tmp_path, 0, 40, kind="premium_paid", period=202604)
    cp2 = checkpoint(audit, tmp_path, "cp2.note")
    proof = prove(audit, tmp_path, "c.json", "prove-consistency", "--old", 41, "--new", 81)
    c = offline(tmp_path)
    p = c.run("check-consistency", "--old", cp1, "--new", cp2, "--pub", pub, "--proof", proof)
    assert p.stdout.startswith("OK: the tree of size 81")
    same = prove(audit, tmp_path, "same.json", "prove-consistency", "--old", 41, "--new", 41)
    c.run("check-consistency", "--old", cp1, "--new", cp1, "--pub", pub, "--proof", same)

    def check(old, new, doc, *extra, js=False):
        f = write(tmp_path, "t.json", json.dumps(doc))
        return c.run("check-consistency", "--old", old, "--new", new, "--pub", pub,
                     "--proof", f, *extra, check=False, json_out=js)

    good = json.load(open(proof))
    p = check(cp2, cp1, good)
    assert p.returncode == 1 and "never shrinks" in p.stdout
    bad = dict(good, proof=list(good["proof"]))
    bad["proof"][-1] = "00" * 32
    assert check(cp1, cp2, bad).returncode == 1
    assert check(cp1, cp2, dict(good, old_size=40)).returncode == 1
    assert check(cp1, cp2, dict(good, proof=good["proof"][1:])).returncode == 1
    assert check(cp1, cp1, good).returncode == 1
    assert check(cp1, cp2, good, "--origin", "x/y").returncode == 1
    j = json.loads(check(cp1, cp2, good, "--origin", "x/y", js=True).stdout)
    assert j["ok"] is False and j["check"] == "consistency"


def test_forked_history_is_caught(audit, tmp_path):
    """A second ledger whose entry 2 differs, signed with the same key and origin: its
    checkpoint cannot be proven to extend the first ledger's."""
    pub = str(tmp_path / "node.pub")
    cp1 = checkpoint(audit, tmp_path, "a.note", "--origin", "example.jp/log")
    fork = Ctl(str(tmp_path / "fork"))
    fork.run("init")
    post_contracts(fork, tmp_path, 1, 60)  # different contracts from entry 2 on
    cpf = checkpoint(fork, tmp_path, "f.note", "--origin", "example.jp/log")
    proof = prove(fork, tmp_path, "fc.json", "prove-consistency", "--old", 41)
    p = offline(tmp_path).run("check-consistency", "--old", cp1, "--new", cpf, "--pub", pub,
                              "--proof", proof, check=False)
    assert p.returncode == 1 and "NOT proven" in p.stdout
    # Different node ids give different default origins: refused before any hashing.
    cpd = checkpoint(fork, tmp_path, "d.note")
    cpa = checkpoint(audit, tmp_path, "da.note")
    p = offline(tmp_path).run("check-consistency", "--old", cpa, "--new", cpd, "--pub", pub,
                              "--proof", proof, check=False)
    assert p.returncode == 1 and "different logs" in p.stdout


# ---- an independent verifier: C2SP signed note + RFC 9162, from the raw LMDB entries ----

def raw_entries(data):
    """Entry bytes per seq, read with LMDB's own mdb_dump (no kyosai code)."""
    out = subprocess.run(["mdb_dump", "-s", "entries", data], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    rows = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
    return [bytes.fromhex(v.strip())[:-8] for v in rows[1::2]]


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while 2 * k < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_ok(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def open_note(note, vkey):
    """C2SP signed-note with one Ed25519 key; returns the text or raises."""
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    name, key_id, blob = vkey.split("+", 2)
    blob = base64.b64decode(blob)
    assert blob[0] == 1 and len(blob) == 33
    assert hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4].hex() == key_id
    text, sigs = note.rsplit("\n\n", 1)
    text += "\n"
    for line in sigs.splitlines():
        dash, signer, sig = line.split(" ")
        sig = base64.b64decode(sig)
        if dash == "\u2014" and signer == name and sig[:4].hex() == key_id:
            ed.Ed25519PublicKey.from_public_bytes(blob[1:]).verify(sig[4:], text.encode())
            return text
    raise AssertionError("no signature by " + name)


@pytest.mark.skipif(shutil.which("mdb_dump") is None, reason="needs lmdb-utils (mdb_dump)")
def test_independent_verifier_agrees(audit, tmp_path):
    vkey = open(str(tmp_path / "node.pub")).read().strip()
    note = open(checkpoint(audit, tmp_path, "cp.note")).read()
    origin, size, root, epoch, head = open_note(note, vkey).splitlines()
    size, root = int(size), base64.b64decode(root)
    leaves = [hashlib.sha256(b"\x00" + e).digest() for e in raw_entries(audit.data)]
    assert size == len(leaves) == 41
    assert mth(leaves) == root
    assert epoch == "epoch 1" and base64.b64decode(head.split(" ")[1]) == leaves[-1]
    for seq in [1, 17, 32, 41]:
        p = json.loads(audit.run("prove", seq).stdout)
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert p["leaf_hash"] == leaves[seq - 1].hex()
        assert inclusion_ok(seq - 1, size, leaves[seq - 1], proof, root)
        assert not inclusion_ok(seq - 1, size, leaves[seq % size], proof, root)
    for s in [1, 8, 33]:
        p = json.loads(audit.run("prove", 5 if s >= 5 else 1, "--size", s).stdout)
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert inclusion_ok(p["seq"] - 1, s, leaves[p["seq"] - 1], proof, mth(leaves[:s]))
