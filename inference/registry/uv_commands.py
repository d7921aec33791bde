"""Running uv (the `uv` package's binary) with the operator's package sources, streaming its output.

Every uv call of the platform goes through here, so resolution at push and builds on workers
see the same index, find-links, cache and Python-download rule.
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import uv
from django.conf import settings

Log = Callable[[str], None]


class UvFailed(Exception):
    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass
class UvRun:
    output: str
    seconds: float


def source_options() -> list[str]:
    """Where packages come from: the operator's index (or none), extra indexes, find-links."""
    options = ["--default-index", settings.PACKAGE_INDEX_URL] if settings.PACKAGE_INDEX_URL else ["--no-index"]
    for url in settings.PACKAGE_EXTRA_INDEX_URLS:
        options += ["--index", url]
    for location in settings.PACKAGE_FIND_LINKS:
        options += ["--find-links", location]
    return options


def environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The platform's own virtualenv and uv settings from the shell must not leak into a build.
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"} and not key.startswith("UV_")
    }
    env.update(
        UV_CACHE_DIR=str(settings.UV_CACHE_DIR),
        UV_PYTHON_DOWNLOADS="automatic" if settings.PYTHON_DOWNLOADS else "never",
        UV_NO_PROGRESS="1",  # spinners are noise in a build log
        NO_COLOR="1",
    )
    return env


def run(args: Sequence[str], *, log: Log, timeout: float | None = None, cwd: str | None = None) -> UvRun:
    """Run `uv args...`, passing each line it prints to `log` as it comes; UvFailed on failure."""
    return run_command([uv.find_uv_bin(), *args], log=log, timeout=timeout, cwd=cwd, env=environment())


def run_command(
    command: Sequence[str], *, log: Log, timeout: float | None, cwd: str | None, env: dict[str, str]
) -> UvRun:
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        assert process.stdout is not None
        # Killing the process group ends the read below, output or not.
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout is not None else None
        if timer is not None:
            timer.start()
        try:
            for line in process.stdout:
                lines.append(line)
                log(line)
            returncode = process.wait()
        finally:
            if timer is not None:
                timer.cancel()
    output = "".join(lines)
    if timed_out.is_set():
        raise UvFailed(f"{os.path.basename(command[0])} took longer than {timeout:g} s", output)
    if returncode != 0:
        raise UvFailed(_summary(output) or f"exit status {returncode}", output)
    return UvRun(output, time.monotonic() - started)


def _summary(output: str) -> str:
    """uv's error, without the hints and the progress lines before it."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("×", "error:")):
            return "\n".join(lines[index : index + 12])
    return "\n".join(lines[-12:])
