"""Shared fixtures for the system tests: real binaries from the build, real temp dirs.

Why: system tests drive the real kyosaictl (and later kyosaid) processes on real LMDB
files; nothing is mocked. KY_BUILD points at the build directory the Makefile used.
"""
import json
import os
import subprocess

import pytest

BUILD = os.environ.get("KY_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def kyosaictl_path():
    return os.path.join(BUILD, "kyosaictl")


class Ctl:
    """Runs kyosaictl against one data directory."""

    def __init__(self, data):
        self.data = data

    def run(self, *args, check=True, stdin=None, json_out=False):
        cmd = [kyosaictl_path(), "--data", self.data, "--quiet"]
        if json_out:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}")
        return p

    def json(self, *args, check=True):
        p = self.run(*args, check=check, json_out=True)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


@pytest.fixture
def ctl(tmp_path):
    c = Ctl(str(tmp_path / "ledger"))
    c.run("init")
    return c


def kyosaid_path():
    return os.path.join(BUILD, "kyosaid")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(prefix):
    """A channel key pair written by kyosaictl keygen --channel: (secret file, public line)."""
    p = subprocess.run([kyosaictl_path(), "keygen", "--channel", "--out", str(prefix)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return f"{prefix}.key", p.stdout.strip()


ROLES = ("writer", "reader", "auditor", "operator")


class Node:
    """A real kyosaid process on a loopback port with its own ledger directory.

    secure=False runs the node in plaintext development mode (loopback only), which the
    raw-socket protocol tests need; secure=True gives it a channel key and a client
    registry with one key per role (self.clients[role] = (key file, public line)) plus one
    unregistered key (self.stranger)."""

    def __init__(self, tmp_path, name="node", extra=(), secure=False):
        self.data = str(tmp_path / f"{name}-ledger")
        self.port = free_port()
        self.log_path = str(tmp_path / f"{name}.log")
        self.extra = list(extra)
        self.proc = None
        self.secure = secure
        if not os.path.exists(os.path.join(self.data, "data.mdb")):
            Ctl(self.data).run("init")
        if secure:
            keys = tmp_path / f"{name}-keys"
            keys.mkdir(exist_ok=True)
            self.key_file, self.public_key = keygen(keys / "node")
            self.clients = {r: keygen(keys / r) for r in ROLES}
            self.stranger = keygen(keys / "stranger")
            self.registry = keys / "clients"
            self.registry.write_text("# test registry\n" + "".join(
                f"{pub} test-{r} {r}\n" for r, (_, pub) in self.clients.items()))
            self.extra = ["--set", f"security.key_file={self.key_file}",
                          "--set", f"security.clients_file={self.registry}"] + self.extra
        else:
            self.extra = ["--set", "security.plaintext=1"] + self.extra

    def client_args(self, role="writer"):
        """kyosaictl options that connect to this node as `role`."""
        args = ["--server", f"127.0.0.1:{self.port}"]
        if self.secure:
            args += ["--key", self.clients[role][0], "--server-key", self.public_key]
        return args

    def args(self):
        return [kyosaid_path(), "--set", f"node.data_dir={self.data}",
                "--set", f"node.listen_port={self.port}"] + self.extra

    def start(self, wait=True):
        import time
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=self.log)
        if wait:
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"kyosaid exited {self.proc.returncode}: {self.logs()}")
                try:
                    import socket
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            raise AssertionError("kyosaid did not start listening: " + self.logs())
        return self

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=None):
        import signal
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.log.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path).start()
    yield n
    n.kill()


@pytest.fixture
def secure_node(tmp_path):
    n = Node(tmp_path, secure=True).start()
    yield n
    n.kill()
