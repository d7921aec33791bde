"""Starting and stopping the platform's processes (Daphne, Celery worker and beat) as
children, for `make run`, the end-to-end tests and the benchmarks."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(args: list[str], env: dict[str, str] | None, output: IO | None) -> subprocess.Popen:
    # A session of its own, so stopping it stops the runners it started too.
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )


def start_daphne(*, host: str, port: int, env: dict[str, str] | None = None, output: IO | None = None):
    return _spawn(["-m", "daphne", "-b", host, "-p", str(port), "hosting.asgi:application"], env, output)


def start_worker(
    *, queues: str, env: dict[str, str] | None = None, output: IO | None = None, loglevel: str = "warning"
) -> subprocess.Popen:
    # solo pool: the prefork pool drops the DB connection pool around every task (ARCHITECTURE §11).
    return _spawn(
        [
            "-m",
            "celery",
            "-A",
            "hosting",
            "worker",
            "--pool=solo",
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            loglevel,
        ],
        env,
        output,
    )


def start_beat(*, schedule: Path, env: dict[str, str] | None = None, output: IO | None = None):
    return _spawn(["-m", "celery", "-A", "hosting", "beat", "-l", "info", "-s", str(schedule)], env, output)


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
