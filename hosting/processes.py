"""Starting, stopping and supervising the platform's processes (Daphne, Celery worker and beat)
as children, for `make run`, the end-to-end tests and the benchmarks.

The argument lists (`daphne_args`, `worker_args`, `beat_args`) are also what the systemd units in
deploy/systemd/ run; tests/hosting/test_deploy_units.py holds the two to each other.
"""

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(args: list[str], env: dict[str, str] | None, output: IO | int | None) -> subprocess.Popen:
    return _popen([sys.executable, *args], env, output)


def _popen(command: Sequence[str], env: dict[str, str] | None, output: IO | int | None) -> subprocess.Popen:
    # A session of its own, so stopping it stops the runners it started too.
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )


def daphne_args(*, host: str, port: int) -> list[str]:
    """The web process's arguments to the Python interpreter."""
    return ["-m", "daphne", "-b", host, "-p", str(port), "hosting.asgi:application"]


def worker_args(*, queues: str, loglevel: str = "warning") -> list[str]:
    # solo pool: the prefork pool drops the DB connection pool around every task (ARCHITECTURE §11).
    return [
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
    ]


def beat_args(*, schedule: Path) -> list[str]:
    return ["-m", "celery", "-A", "hosting", "beat", "-l", "info", "-s", str(schedule)]


def start_daphne(*, host: str, port: int, env: dict[str, str] | None = None, output: IO | None = None):
    return _spawn(daphne_args(host=host, port=port), env, output)


def start_worker(
    *, queues: str, env: dict[str, str] | None = None, output: IO | None = None, loglevel: str = "warning"
) -> subprocess.Popen:
    return _spawn(worker_args(queues=queues, loglevel=loglevel), env, output)


def start_beat(*, schedule: Path, env: dict[str, str] | None = None, output: IO | None = None):
    return _spawn(beat_args(schedule=schedule), env, output)


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


def exit_reason(returncode: int) -> str:
    """How a child ended, for a log line: its exit status, or the name of the signal that killed it."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


@dataclass(frozen=True)
class ProcessSpec:
    """A child process to keep running: its name in log lines, and its command line."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    output: IO | int | None = None

    @classmethod
    def python(cls, name: str, args: list[str], **kwargs) -> "ProcessSpec":
        """A child running this interpreter with `args` (`-m daphne ...`, `-c ...`)."""
        return cls(name, [sys.executable, *args], **kwargs)

    def start(self) -> subprocess.Popen:
        return _popen(self.command, self.env, self.output)


def _stop_signals_ignored() -> Callable[[], None]:
    """Ignore Ctrl-C and SIGTERM while the children stop (a second one must not leave orphans);
    returns what puts the handlers back. Signal handlers belong to the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def stop_all(children: Sequence[subprocess.Popen], timeout: float = 20) -> None:
    """`stop` for several children at once: SIGTERM to each one's process group, then SIGKILL to
    those still running after `timeout` seconds in all."""
    running = [child for child in children if child.poll() is None]
    for child in running:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for child in running:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()


class Supervisor:
    """Keeps named children running, for `make run`.

    A child that exits, whatever its status, is started again after a backoff (`backoff` seconds,
    doubled for each earlier death of that child within `window` seconds, at most `backoff_max`),
    with a log line naming it and saying how it ended (exit status or signal). A child that dies
    more than `max_restarts` times within `window` seconds makes the supervisor give up: `run`
    stops every child, logs what gave up and returns 1. Ctrl-C (KeyboardInterrupt; `make run`
    turns SIGTERM into one) or `stopping.set()` stops every child and `run` returns 0.

    With the defaults, a child that dies at once is restarted after 0.5, 1, 2, 4 and 8 s, and its
    sixth death, about 16 s after the first, gives up.
    """

    def __init__(
        self,
        *,
        log: Callable[[str], None] | None = None,
        max_restarts: int = 5,
        window: float = 60.0,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        poll_interval: float = 0.2,
        stop_timeout: float = 20.0,
    ) -> None:
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.max_restarts, self.window = max_restarts, window
        self.backoff, self.backoff_max = backoff, backoff_max
        self.poll_interval, self.stop_timeout = poll_interval, stop_timeout
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self._specs: dict[str, ProcessSpec] = {}
        self._deaths: dict[str, collections.deque[float]] = {}
        self._restart_at: dict[str, float] = {}

    def start(self, spec: ProcessSpec) -> subprocess.Popen:
        """Start `spec` now; from then on it is kept running."""
        if spec.name in self._specs:
            raise ValueError(f"a child named {spec.name!r} is already supervised")
        self._specs[spec.name] = spec
        self._deaths[spec.name] = collections.deque()
        self.children[spec.name] = spec.start()
        return self.children[spec.name]

    def run(self) -> int:
        """Supervise until stopped (0) or until a child keeps dying (1); every child is stopped
        before it returns."""
        try:
            while not self.stopping.is_set():
                gave_up = self.check()
                if gave_up:
                    self.log(gave_up)
                    return 1
                self.stopping.wait(self.poll_interval)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop_all()

    def check(self) -> str | None:
        """One round: note the children that died, start those whose backoff is over. Returns the
        line saying what gave up, if a child died too often."""
        now = time.monotonic()
        for name, child in list(self.children.items()):
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    self.children[name] = self._specs[name].start()
                    self.log(f"restarted {name} (pid {self.children[name].pid})")
                continue
            returncode = child.poll()
            if returncode is None:
                continue
            _kill_leftovers(child)
            deaths = self._deaths[name]
            deaths.append(now)
            while deaths and deaths[0] <= now - self.window:
                deaths.popleft()
            how = f"{name} (pid {child.pid}) {exit_reason(returncode)}"
            if len(deaths) > self.max_restarts:
                return (
                    f"giving up on {name}: it died {len(deaths)} times within {self.window:g} s "
                    f"(last: pid {child.pid} {exit_reason(returncode)}); stopping everything"
                )
            delay = min(self.backoff_max, self.backoff * 2 ** (len(deaths) - 1))
            self._restart_at[name] = now + delay
            self.log(
                f"{how}; restarting it in {delay:g} s ({len(deaths)} of {self.max_restarts} restarts "
                f"allowed within {self.window:g} s)"
            )
        return None

    def stop_all(self) -> None:
        restore = _stop_signals_ignored()
        try:
            stop_all(list(self.children.values()), timeout=self.stop_timeout)
        finally:
            restore()


def _kill_leftovers(child: subprocess.Popen) -> None:
    """SIGKILL what is left of a dead child's process group (its session's other processes), so
    that its replacement does not find them holding a port or a lock."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
