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
