"""`make run` keeps its processes running (hosting/processes.py `Supervisor`), tried on small
real children: a killed one is restarted with a line naming it, one that keeps crashing makes it
give up with status 1, and SIGTERM stops every child with status 0."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from hosting import devserver, processes
from hosting.processes import ProcessSpec, Supervisor

SLEEPER = ["-c", "import time; time.sleep(120)"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def lines():
    return []


def test_exit_reason_names_the_signal_or_the_status():
    assert processes.exit_reason(-signal.SIGKILL) == "was killed by SIGKILL"
    assert processes.exit_reason(-signal.SIGSEGV) == "was killed by SIGSEGV"
    assert processes.exit_reason(3) == "exited with status 3"
    assert processes.exit_reason(0) == "exited with status 0"


def test_a_killed_child_is_restarted_with_a_line_naming_it_and_the_others_keep_running(lines):
    supervisor = Supervisor(log=lines.append, backoff=0.1, poll_interval=0.05, stop_timeout=5)
    worker = supervisor.start(ProcessSpec.python("worker", SLEEPER))
    web = supervisor.start(ProcessSpec.python("web", SLEEPER))
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(supervisor.run()))
    thread.start()
    try:
        killed_at = time.monotonic()
        os.kill(worker.pid, signal.SIGKILL)
        _wait_for(lambda: supervisor.children["worker"].pid != worker.pid)
        restart_seconds = time.monotonic() - killed_at
        replacement = supervisor.children["worker"]
        assert replacement.poll() is None
        assert supervisor.children["web"] is web and web.poll() is None
        assert lines[0].startswith(f"worker (pid {worker.pid}) was killed by SIGKILL; restarting it in 0.1 s")
        assert lines[1] == f"restarted worker (pid {replacement.pid})"
        assert restart_seconds < 2, restart_seconds
    finally:
        supervisor.stopping.set()
        thread.join(timeout=10)
    assert results == [0]
    assert replacement.poll() is not None and web.poll() is not None


def test_the_backoff_doubles_for_each_death_of_the_same_child(lines):
    supervisor = Supervisor(log=lines.append, backoff=0.05, max_restarts=10, poll_interval=0.02)
    supervisor.start(ProcessSpec.python("beat", ["-c", "raise SystemExit(2)"]))
    try:
        while sum("exited with status 2" in line for line in lines) < 3:
            assert supervisor.check() is None
            time.sleep(0.02)
    finally:
        supervisor.stop_all()
    delays = [line.split("restarting it in ")[1].split(" s")[0] for line in lines if "restarting it in" in line]
    assert delays[:3] == ["0.05", "0.1", "0.2"]


def test_a_child_that_keeps_crashing_makes_it_give_up_and_stop_everything_with_status_1(lines):
    supervisor = Supervisor(log=lines.append, max_restarts=3, window=60, backoff=0.01, poll_interval=0.02)
    crasher = supervisor.start(ProcessSpec.python("worker", ["-c", "raise SystemExit(3)"]))
    web = supervisor.start(ProcessSpec.python("web", SLEEPER))

    assert supervisor.run() == 1

    assert sum("worker" in line and "exited with status 3; restarting it in" in line for line in lines) == 3
    last = supervisor.children["worker"]
    assert last.pid != crasher.pid
    assert lines[-1] == (
        f"giving up on worker: it died 4 times within 60 s (last: pid {last.pid} exited with status 3); "
        "stopping everything"
    )
    assert web.poll() is not None  # stopped with it


SUPERVISED = """
import json, signal, subprocess, sys
from hosting import devserver
from hosting.processes import ProcessSpec, Supervisor

sleeper = ["-c", "import time; time.sleep(120)"]
stubborn = ["-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(120)"]

def start(supervisor):
    children = [
        supervisor.start(ProcessSpec.python("web", sleeper, output=subprocess.DEVNULL)),
        supervisor.start(ProcessSpec.python("worker", sleeper, output=subprocess.DEVNULL)),
        supervisor.start(ProcessSpec.python("beat", stubborn, output=subprocess.PIPE)),
    ]
    children[2].stdout.readline()  # its SIGTERM handler is in place
    print(json.dumps([child.pid for child in children]), flush=True)

signal.signal(signal.SIGTERM, devserver._interrupt)  # as make run's main() does
sys.exit(devserver._supervise(Supervisor(stop_timeout=1), start))
"""


def test_sigterm_stops_every_child_and_exits_0():
    make_run = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED],
        cwd=processes.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pids = json.loads(make_run.stdout.readline())
        assert all(_alive(pid) for pid in pids)
        os.kill(make_run.pid, signal.SIGTERM)
        _, stderr = make_run.communicate(timeout=15)
    finally:
        if make_run.poll() is None:
            make_run.kill()
    assert make_run.returncode == 0, stderr
    assert not any(_alive(pid) for pid in pids)  # the one ignoring SIGTERM too (SIGKILL after stop_timeout)
    assert "restarting" not in stderr  # stopping is not dying


def test_make_run_runs_web_worker_and_beat_through_the_supervisor(tmp_path, monkeypatch):
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    specs = devserver.platform_specs()
    assert [spec.name for spec in specs] == ["web", "worker", "beat"]
    assert [spec.command for spec in specs] == [
        [sys.executable, *processes.daphne_args(host=devserver.HOST, port=devserver.PORT)],
        [sys.executable, *processes.worker_args(queues="cpu,default", loglevel="info")],
        [sys.executable, *processes.beat_args(schedule=tmp_path / "celerybeat-schedule")],
    ]

    # main() itself, set-up stubbed: it starts those specs under one supervisor and exits with run()'s status.
    started: list[str] = []

    class FakeSupervisor:
        def __init__(self, **kwargs):
            self.stopped = False

        def start(self, spec):
            started.append(spec.name)

        def run(self):
            return 1

        def stop_all(self):
            self.stopped = True

    monkeypatch.setattr(processes, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(os, "environ", dict(os.environ))
    for name in ("_database_url", "_secret_key", "_demo_weights", "_manage", "_weights_summary"):
        monkeypatch.setattr(devserver, name, lambda *args: "stub")
    monkeypatch.setattr(devserver, "_ensure_redis", lambda supervisor: None)
    monkeypatch.setattr(devserver, "_remember_choices", lambda: None)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exit:
            devserver.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert exit.value.code == 1
    assert started == ["web", "worker", "beat"]
