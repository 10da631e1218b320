"""libkyosai against a real node: the example program, kyosaictl --server, and an
idempotent retry across a connection dropped after the node committed but before the
client saw the acknowledgement.

Goal: an application developer's path works end to end, and a retry never double-posts.
Method: real kyosaid; a small TCP proxy in this file cuts the first connection right
after the node's first APPEND response arrives, without forwarding it.
"""
import json
import os
import socket
import subprocess
import threading

from conftest import BUILD, Ctl, Node, kyosaictl_path


def ctl_remote(target, *args, check=True, role="writer"):
    """kyosaictl --server against a Node (secure or not, as `role`) or a bare port."""
    server = target.client_args(role) if isinstance(target, Node) else ["--server", f"127.0.0.1:{target}"]
    cmd = [kyosaictl_path(), *server, "--json", *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def test_example_program(secure_node):
    node = secure_node
    env = dict(os.environ, KYOSAI_KEY=node.clients["writer"][0], KYOSAI_SERVER_KEY=node.public_key)
    p = subprocess.run([os.path.join(BUILD, "examples", "post_premium"), f"127.0.0.1:{node.port}"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "months_paid=12" in p.stdout


def test_kyosaictl_server_mode(secure_node, tmp_path):
    node = secure_node
    sample = tmp_path / "s.jsonl"
    sample.write_text(Ctl(node.data).run("sample", "--contracts", "50", "--months", "12").stdout)
    lines = sample.read_text().count("\n")
    p = ctl_remote(node, "post", str(sample))
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["posted"] == lines and s["refused"] == 0
    p = ctl_remote(node, "post", str(sample))  # again: all duplicates, nothing new
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["posted"] == 0 and s["duplicates"] == lines
    st = json.loads(ctl_remote(node, "status").stdout)
    assert st["head_seq"] == lines + 1 and st["role"] == "standalone"
    c = json.loads(ctl_remote(node, "contract", "100000000001").stdout)
    assert c["months_paid"] == 12
    hist = [json.loads(x) for x in ctl_remote(node, "history", "100000000001").stdout.split("\n") if x]
    assert len(hist) == c["entry_count"]
    rng = [json.loads(x) for x in ctl_remote(node, "range", 1, lines + 1).stdout.split("\n") if x]
    assert len(rng) == lines + 1
    p = ctl_remote(node, "get", 99999999, check=False)
    assert p.returncode == 1 and "NOT_FOUND" in p.stderr
    node.stop()
    off = Ctl(node.data)
    assert off.json("contract", "100000000001")[0] == c  # same state online and offline
    assert off.json("verify")[0]["ok"]


class CuttingProxy:
    """Forwards 127.0.0.1:listen -> 127.0.0.1:target. On the first connection it drops the
    link as soon as the node's first APPEND response arrives (type byte 2 at offset 5),
    so the node has committed but the client never sees the acknowledgement."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.cut_done = threading.Event()
        self.cuts = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            cut = not self.cut_done.is_set()
            threading.Thread(target=self.pipe, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, cut), daemon=True).start()

    def pipe(self, src, dst, cut_on_append_response):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if cut_on_append_response:
                    buf += data
                    while len(buf) >= 32:
                        blen = int.from_bytes(buf[16:20], "little")
                        if len(buf) < 32 + blen:
                            break
                        frame, buf = buf[:32 + blen], buf[32 + blen:]
                        if frame[5] == 2:  # APPEND response: drop it and the link
                            self.cuts += 1
                            self.cut_done.set()
                            raise ConnectionAbortedError
                        dst.sendall(frame)
                    continue
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


def test_retry_after_dropped_ack_never_double_posts(node, tmp_path):
    proxy = CuttingProxy(node.port)
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"kind":"contract_opened","scheme":"shokibo","contract":100000000007,"amount":42000,"member_type":1}\n'
        + "".join('{"kind":"premium_paid","scheme":"shokibo","contract":100000000007,'
                  f'"amount":42000,"period":2026{m:02d}}}\n' for m in range(1, 13)))
    p = ctl_remote(proxy.port, "post", str(events))
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert proxy.cuts == 1, "the proxy really cut the first acknowledgement"
    # the node had committed the batch; the library's retry found every event already there
    assert s["posted"] + s["duplicates"] == 13 and s["refused"] == 0
    assert s["duplicates"] == 13
    st = json.loads(ctl_remote(node, "status").stdout)
    assert st["head_seq"] == 14  # epoch_started + 13 events, each exactly once
    c = json.loads(ctl_remote(node, "contract", "100000000007").stdout)
    assert c["months_paid"] == 12 and c["entry_count"] == 13


def test_shared_library_exports_only_the_public_api():
    p = subprocess.run(["nm", "-D", "--defined-only", os.path.join(BUILD, "libkyosai.so")],
                       capture_output=True, text=True, check=True)
    names = [line.split()[-1] for line in p.stdout.splitlines() if line.strip()]
    assert names and all(n.startswith("kyosai_") or n.startswith("KYOSAI") for n in names), names


class SecureCuttingProxy(CuttingProxy):
    """The same cut through the secure channel: node->client bytes are the handshake reply
    and then records, each with a big-endian u16 length (docs/PROTOCOL.md §6). Message 0 is
    the handshake reply, 1 the HELLO response, 2 the first APPEND response: drop that one."""

    def pipe(self, src, dst, cut_on_append_response):
        if not cut_on_append_response:
            return super().pipe(src, dst, False)
        buf, n = b"", 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                    mlen = 2 + int.from_bytes(buf[:2], "big")
                    msg, buf = buf[:mlen], buf[mlen:]
                    if n == 2:
                        self.cuts += 1
                        self.cut_done.set()
                        raise ConnectionAbortedError
                    n += 1
                    dst.sendall(msg)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def test_retry_through_the_secure_channel_never_double_posts(secure_node, tmp_path):
    node = secure_node
    proxy = SecureCuttingProxy(node.port)
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"kind":"contract_opened","scheme":"shokibo","contract":100000000008,"amount":42000,"member_type":1}\n'
        + "".join('{"kind":"premium_paid","scheme":"shokibo","contract":100000000008,'
                  f'"amount":42000,"period":2026{m:02d}}}\n' for m in range(1, 13)))
    cmd = [kyosaictl_path(), "--server", f"127.0.0.1:{proxy.port}", "--key", node.clients["writer"][0],
           "--server-key", node.public_key, "--json", "post", str(events)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert proxy.cuts == 1 and s["duplicates"] == 13 and s["refused"] == 0
    c = json.loads(ctl_remote(node, "contract", "100000000008").stdout)
    assert c["months_paid"] == 12 and c["entry_count"] == 13
