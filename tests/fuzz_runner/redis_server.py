"""A real ``redis-server`` on a free loopback port, for the shared-database tests."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp_path):
    """Start redis-server; returns (process, url).  Skips with one line if it cannot."""
    pytest.importorskip("redis", reason="the 'redis' extra is not installed: "
                                        ".venv/bin/pip install -e '.[redis]'")
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed here (apt-get install redis-server; "
                    ".ci/run installs it)")
    import redis
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return proc, url
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)


def stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
