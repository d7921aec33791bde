"""The worker's resource report: its runners found among its real child processes, their
memory, and the report in Redis that the web reads."""

import subprocess
import sys
import time

import psutil
import pytest

from hosting.redis_clients import sync_client
from inference.observability import gpus, resources
from inference.runtime.runner import child_command


@pytest.fixture
def fake_runner(tmp_path):
    """A child process with a runner's command line (`child_command`) that holds 20 MB."""
    project = tmp_path / "versions" / ("c" * 64)
    project.mkdir(parents=True)
    command = child_command(0, project, "predict.py:Predictor")
    # Runs as the runner's module would be run, but what runs is a stand-in holding memory.
    command[1] = "import time; ballast = bytearray(20_000_000); time.sleep(60)  # inference.runtime.child"
    process = subprocess.Popen([sys.executable, *command])
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).memory_info().rss < 20_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield "c" * 64
    process.kill()
    process.wait()


def test_runners_are_found_among_the_workers_children_with_their_memory(fake_runner):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not a runner
    try:
        memory = resources.runner_memory()
    finally:
        other.kill()
        other.wait()
    assert list(memory) == [fake_runner] and memory[fake_runner] >= 20_000_000


def test_the_report_reaches_redis_and_expires(settings, fake_runner):
    settings.KEEP_WARM_INTERVAL_SECONDS = 1
    gpus.reset()  # no NVML on this machine: no GPUs, and no error
    sync_client().delete("hearth:resources:test-host:1")
    resources.report("test-host:1")
    (report,) = [report for report in resources.reports() if report["worker"] == "test-host:1"]
    assert report["runners"][fake_runner] >= 20_000_000 and isinstance(report["gpus"], list)
    assert 0 < sync_client().ttl("hearth:resources:test-host:1") <= 3
