"""The secure channel and access control against real kyosaid processes (issue 4).

Goal: every link is authenticated and encrypted with pinned keys; each role reaches only
its operations; hostile handshakes (unknown key, wrong node key, replayed or tampered
messages, plaintext) are refused with the connection closed while the node keeps serving
others; plaintext exists only when configured on loopback.
Method: keys from `kyosaictl keygen --channel`, a registry with one key per role, the real
kyosaictl (through libkyosai), and a relay in this file that records, replays or flips
bytes of the client's stream.
"""
import json
import os
import socket
import stat
import subprocess
import threading
import time

from conftest import Node, kyosaictl_path, kyosaid_path

EVENTS = (
    '{"kind":"contract_opened","scheme":"shokibo","contract":100000000001,"amount":42000,'
    '"member_type":1}\n'
    '{"kind":"premium_paid","scheme":"shokibo","contract":100000000001,"amount":42000,'
    '"period":202604}\n')


def ctl(node, role, *args, key=None, server_key=None, port=None, check=True):
    """kyosaictl against node as `role` (or with explicit keys / port), JSON output."""
    cmd = [kyosaictl_path(), "--json", "--quiet", "--server", f"127.0.0.1:{port or node.port}"]
    if role is not None or key is not None:
        cmd += ["--key", key or node.clients[role][0], "--server-key", server_key or node.public_key]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def wait_log(node, text, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in node.logs():
            return True
        time.sleep(0.05)
    return False


def test_each_role_reaches_only_its_operations(secure_node, tmp_path):
    node = secure_node
    ev = tmp_path / "e.jsonl"
    ev.write_text(EVENTS)
    # writer: append and read
    s = json.loads(ctl(node, "writer", "post", ev).stdout.strip().splitlines()[-1])
    assert s["posted"] == 2
    assert json.loads(ctl(node, "writer", "contract", 100000000001).stdout)["months_paid"] == 1
    # reader and auditor: read, never append
    for role in ("reader", "auditor"):
        assert json.loads(ctl(node, role, "contract", 100000000001).stdout)["months_paid"] == 1
        assert len(ctl(node, role, "range", 1, 3).stdout.strip().splitlines()) == 3
        p = ctl(node, role, "post", ev, check=False)
        assert p.returncode != 0
        assert "FORBIDDEN" in p.stderr and f"role {role}" in p.stderr and "append" in p.stderr
    # operator: status, but no member data
    assert json.loads(ctl(node, "operator", "status").stdout)["head_seq"] == 3
    p = ctl(node, "operator", "contract", 100000000001, check=False)
    assert p.returncode != 0 and "FORBIDDEN" in p.stderr and "role operator" in p.stderr
    # only the operator drives the pair: promote, switchover, degrade, restore-sync
    for role in ("writer", "reader", "auditor"):
        for op in (("promote", "--force"), ("switchover",), ("degrade",), ("restore-sync",)):
            p = ctl(node, role, *op, check=False)
            assert p.returncode != 0 and "FORBIDDEN" in p.stderr and f"role {role}" in p.stderr, \
                (role, op, p.stderr)
    p = ctl(node, "operator", "promote", "--force", check=False)  # allowed, then judged
    assert "FORBIDDEN" not in p.stderr and "PROMOTE_REFUSED" in p.stderr, p.stderr
    # every refusal is logged with the client's registry name; nothing was written
    assert wait_log(node, 'msg="request refused by role"')
    assert "client=test-writer roles=writer request=promote" in node.logs()
    assert "client=test-reader roles=reader request=append" in node.logs()
    assert "client=test-operator roles=operator request=contract" in node.logs()
    assert json.loads(ctl(node, "writer", "status").stdout)["head_seq"] == 3


def test_unknown_key_and_wrong_node_key_are_refused(secure_node):
    node = secure_node
    p = ctl(node, None, "status", key=node.stranger[0], check=False)
    assert p.returncode != 0 and "HANDSHAKE_FAILED" in p.stderr, p.stderr
    assert wait_log(node, 'reason="key not in the client registry"')
    # a client that pins some other key as the node's: the node cannot read message 1
    p = ctl(node, "writer", "status", server_key=node.stranger[1], check=False)
    assert p.returncode != 0 and "HANDSHAKE_FAILED" in p.stderr
    assert wait_log(node, "handshake refused") and node.logs().count("handshake refused") >= 2
    # the node still serves a registered client
    assert json.loads(ctl(node, "reader", "status").stdout)["head_seq"] == 1


def test_plaintext_client_at_secure_node_gets_a_clear_refusal(secure_node):
    p = ctl(secure_node, None, "status", check=False)
    assert p.returncode != 0 and "PLAINTEXT_REFUSED" in p.stderr, p.stderr


class Relay:
    """127.0.0.1:self.port -> node. Records what the client sends on each connection;
    `tamper(conn_index, chunk_index, data)` may rewrite a client->node chunk."""

    def __init__(self, target, tamper=None):
        self.target, self.tamper = target, tamper
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.sent = []  # per connection: list of client->node chunks
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            self.sent.append([])
            idx = len(self.sent) - 1
            threading.Thread(target=self.pipe, args=(c, u, idx), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, None), daemon=True).start()

    def pipe(self, src, dst, idx):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if idx is not None:
                    if self.tamper:
                        data = self.tamper(idx, len(self.sent[idx]), data)
                    self.sent[idx].append(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def closed_without_answer(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    try:
        got = s.recv(4096)
    except ConnectionResetError:
        got = b""
    s.close()
    return got == b""


def test_replayed_first_message_is_refused(secure_node):
    node = secure_node
    relay = Relay(node.port)
    ctl(node, "reader", "status", port=relay.port)
    hello = relay.sent[0][0]  # preamble + message 1, as the real client sent it
    assert hello[:4] == b"KYSC" and len(hello) == 8 + 2 + 96
    assert closed_without_answer(node.port, hello)
    assert wait_log(node, 'reason="replayed handshake message"')
    assert json.loads(ctl(node, "reader", "status").stdout)["head_seq"] == 1


def flip(data, offset):
    b = bytearray(data)
    b[offset] ^= 0x01
    return bytes(b)


def test_tampered_handshake_and_record_bytes_are_refused(secure_node, tmp_path):
    node = secure_node
    # a flipped byte inside message 1's encrypted static key: handshake refused
    relay = Relay(node.port, tamper=lambda conn, chunk, d: flip(d, 8 + 2 + 40) if conn == 0 and chunk == 0 else d)
    p = ctl(node, "reader", "status", port=relay.port, check=False)
    assert wait_log(node, "handshake refused")
    assert p.returncode != 0 and "HANDSHAKE_FAILED" in p.stderr
    assert json.loads(ctl(node, "reader", "status", port=relay.port).stdout)["head_seq"] == 1
    # a flipped byte in the record carrying the first APPEND (chunk 0 is the handshake,
    # chunk 1 the HELLO request): the node drops that connection, the library retries
    relay2 = Relay(node.port, tamper=lambda conn, chunk, d: flip(d, 20) if conn == 0 and chunk == 2 else d)
    ev = tmp_path / "e.jsonl"
    ev.write_text(EVENTS)
    p = ctl(node, "writer", "post", ev, port=relay2.port)
    assert wait_log(node, "DECRYPT_FAILED"), node.logs()
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["posted"] == 2  # after the refused connection, a clean one posted once
    assert json.loads(ctl(node, "reader", "status").stdout)["head_seq"] == 3


def test_half_open_limit_and_handshake_timeout(tmp_path):
    n = Node(tmp_path, secure=True, extra=["--set", "security.handshakes_pending_max=4",
                                           "--set", "security.handshake_timeout_ms=500"]).start()
    try:
        idle = [socket.create_connection(("127.0.0.1", n.port)) for _ in range(4)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", n.port), timeout=5)
        assert extra.recv(16) == b""  # closed at once: four handshakes already pending
        for s in idle:  # the node gives up on each within about a second of the timeout
            s.settimeout(5)
            assert s.recv(16) == b""
        assert "handshake timeout" in n.logs() or 'reason="timeout"' in n.logs()
        assert json.loads(ctl(n, "reader", "status").stdout)["head_seq"] == 1
    finally:
        n.kill()


def test_plaintext_only_when_configured_and_on_loopback(tmp_path):
    n = Node(tmp_path, secure=False)
    base = [kyosaid_path(), "--set", f"node.data_dir={n.data}", "--set", "node.listen_port=1"]
    p = subprocess.run(base + ["--set", "security.plaintext=1", "--set", "node.listen_addr=0.0.0.0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "PLAINTEXT_REFUSED" in p.stderr and "loopback" in p.stderr
    p = subprocess.run(base, capture_output=True, text=True, timeout=30)  # no keys configured
    assert p.returncode != 0 and "security.key_file" in p.stderr


def test_key_files_are_private_and_secrets_never_logged(secure_node, tmp_path):
    node = secure_node
    for path in [node.key_file] + [k for k, _ in node.clients.values()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(node.data, "data.mdb")).st_mode) == 0o600
    os.chmod(node.clients["reader"][0], 0o644)  # a readable secret key is refused
    p = ctl(node, "reader", "status", check=False)
    assert p.returncode != 0 and "KEY_INVALID" in p.stderr
    ctl(node, "writer", "status")
    p = subprocess.run([kyosaictl_path(), "keygen", "--channel", "--out",
                        os.path.splitext(node.key_file)[0]], capture_output=True, text=True)
    assert p.returncode == 1 and "never overwrites" in p.stderr
    logs = node.logs()
    for path in [node.key_file] + [k for k, _ in node.clients.values()]:
        secret = open(path).read().strip().split(":")[1]
        assert secret not in logs and secret[:16] not in logs
    assert node.public_key in logs  # the node announces its public key
