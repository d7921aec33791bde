"""The worker's handle on one runner process (see `inference.runtime.child`).

A runner serves one prediction at a time, or up to `max_concurrency` (which the child
reports when ready) for async predictors that allow it: each runs in a `predict()` call of
its own thread. Whatever happens to the child (an exception, a crash, SIGKILL from the OOM
killer, a hang) `predict()` comes back with a result; a runner whose child has died stays
dead (`is_alive()` is False) and the pool replaces it. Killing the child (a cancel past its
grace period, a timeout) ends every prediction it was running.
"""

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.runtime import protocol
from inference.runtime.protocol import Channel

_REPO_ROOT = Path(__file__).resolve().parents[2]

# How long a blocked read waits before looking again at the deadlines and at the process;
# a message wakes it at once, so this only bounds how late a kill can be.
_POLL_SLICE = 0.1
# How long stop() and a closed socket give the child to exit by itself.
_EXIT_GRACE = 5.0


class RunnerSetupError(Exception):
    """setup() raised, timed out, or the child died before it was ready."""

    def __init__(self, message: str, logs: str = "") -> None:
        super().__init__(message)
        self.logs = logs


@dataclass
class PredictionResult:
    status: str  # "succeeded" | "failed" | "canceled"
    output: Any  # the list of items for iterator outputs
    error: str | None
    logs: str
    predict_time: float  # seconds inside predict(), measured in the child where it reported
    metrics: dict[str, Any] = field(default_factory=dict)  # recorded by the predictor (cog's record_metric)


class _ChildGone(Exception):
    pass


@dataclass
class _Active:
    id: str
    kill_at: float | None = None  # set by cancel(): the end of the grace period
    inbox: deque = field(default_factory=deque)  # its messages, read by another prediction's thread


class Runner:
    def __init__(self, proc: subprocess.Popen, channel: Channel, cancel_grace: float) -> None:
        self._proc = proc
        self._channel = channel
        self._cancel_grace = cancel_grace
        # Guards _active, _early_cancels, _reading and _gone against the other predict()
        # threads and cancel().
        self._lock = threading.Lock()
        self._message_filed = threading.Condition(self._lock)
        self._active: dict[str, _Active] = {}
        self._early_cancels: set[str] = set()
        self._reading = False  # one predict() thread reads the channel for all of them
        self._gone: str | None = None  # how the child ended, once a reader found out
        self.pid = proc.pid
        self.boot_time = 0.0
        self.setup_time = 0.0
        self.setup_logs = ""
        self.max_concurrency = 1

    @classmethod
    def start(
        cls,
        *,
        project_dir: Path,
        predictor_ref: str,
        env: Mapping[str, str] | None = None,
        setup_timeout: float | None = None,
        cancel_grace: float = 5.0,
        python: str | None = None,
        in_use_lock: Path | None = None,
        entry: str = "predict",
    ) -> "Runner":
        """Boot a child for the predictor and wait until its setup() has run.

        With `entry="train"`, `predictor_ref` is cog.yaml's `train:` and predict() runs train().

        `python` is the interpreter of the version's environment (the worker's own by
        default); the child holds a shared flock on `in_use_lock` for its whole life, so the
        environment is not removed under it. The setup logs (everything printed while
        loading and in setup()) end up in `setup_logs`, or in the RunnerSetupError's `logs`.
        """
        started = time.monotonic()
        project_dir = Path(project_dir).resolve()  # the child starts inside it: a relative path would resolve twice
        parent_sock, child_sock = socket.socketpair()
        command = [
            python or sys.executable,
            *child_command(child_sock.fileno(), project_dir, predictor_ref, entry=entry),
        ]
        try:
            with child_sock, _held_shared(in_use_lock) as lock_fds:
                proc = subprocess.Popen(
                    command,
                    cwd=project_dir,
                    env=_child_env(env),
                    pass_fds=(child_sock.fileno(), *lock_fds),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,  # the worker's signals (Ctrl-C, Celery's) must not reach it
                )
        except OSError as exc:
            parent_sock.close()
            raise RunnerSetupError(f"Could not start the runner process: {exc}") from exc
        runner = cls(proc, Channel(parent_sock.detach()), cancel_grace)
        try:
            runner._await_ready(started, setup_timeout)
        except BaseException:
            runner._kill()
            raise
        return runner

    def _await_ready(self, started: float, setup_timeout: float | None) -> None:
        deadline = None if setup_timeout is None else started + setup_timeout
        logs: list[str] = []
        while True:
            wait = _POLL_SLICE if deadline is None else min(_POLL_SLICE, deadline - time.monotonic())
            if wait <= 0:
                raise RunnerSetupError(f"Setup timed out after {setup_timeout:g} s", "".join(logs))
            try:
                message = self._receive(wait)
            except _ChildGone as gone:
                raise RunnerSetupError(f"Runner process exited during setup ({gone})", "".join(logs)) from None
            if message is None:
                continue
            kind = message["type"]
            if kind == protocol.LOG:
                logs.append(message["text"])
            elif kind == protocol.READY:
                self.boot_time = time.monotonic() - started
                self.setup_time = message["setup_time"]
                self.max_concurrency = message.get("max_concurrency", 1)
                self.setup_logs = "".join(logs)
                return
            elif kind == protocol.SETUP_FAILED:
                raise RunnerSetupError(f"Setup failed: {message['error']}", "".join(logs))

    def predict(
        self,
        *,
        prediction_id: str,
        input: dict,
        on_log: Callable[[str], None] | None = None,
        on_output: Callable[[Any], None] | None = None,
        timeout: float | None = None,
        output_dir: Path | None = None,
    ) -> PredictionResult:
        """Run one prediction, calling on_log/on_output from this thread as pieces arrive.

        With `output_dir`, files the predictor returns are copied there and appear in the
        output as their copy's path; without it, as data: URIs.

        on_output gets the items of iterator outputs; a plain output only comes back in the
        result. If a callback raises (or the worker interrupts this call), the child is
        killed, because it is mid-prediction and its stream cannot be picked up again, and
        the exception propagates.
        """
        with self._lock:
            if prediction_id in self._active or len(self._active) >= self.max_concurrency:
                raise RuntimeError(f"Runner {self.pid} is already running {', '.join(self._active)}")
            canceled_early = prediction_id in self._early_cancels
            self._early_cancels.discard(prediction_id)
            active = self._active[prediction_id] = _Active(prediction_id)
        try:
            if canceled_early:
                return PredictionResult("canceled", None, None, "", 0.0)
            return self._predict(active, input, on_log, on_output, timeout, output_dir)
        except BaseException:
            self._kill()
            raise
        finally:
            with self._lock:
                del self._active[prediction_id]

    def _predict(
        self,
        active: _Active,
        input: dict,
        on_log: Callable[[str], None] | None,
        on_output: Callable[[Any], None] | None,
        timeout: float | None,
        output_dir: Path | None,
    ) -> PredictionResult:
        prediction_id = active.id
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        logs: list[str] = []
        outputs: list[Any] = []

        def ended(status: str, error: str | None = None) -> PredictionResult:
            return PredictionResult(status, None, error, "".join(logs), time.monotonic() - started)

        if not self.is_alive():
            return ended("failed", "Runner process is not running")
        try:
            try:
                fields = {"output_dir": str(output_dir)} if output_dir is not None else {}
                self._channel.send(protocol.PREDICT, id=prediction_id, input=input, **fields)
            except OSError:
                raise _ChildGone(self._reap()) from None
            while True:
                now = time.monotonic()
                kill_at = active.kill_at
                if kill_at is not None and now >= kill_at:
                    self._kill()
                    return ended("canceled")
                if deadline is not None and now >= deadline:
                    self._kill()
                    return ended("failed", f"Prediction timed out after {timeout:g} s")
                wait = min([_POLL_SLICE, *(t - now for t in (deadline, kill_at) if t is not None)])
                message = self._next_message(active, wait)
                if message is None:
                    continue
                kind = message["type"]
                if kind == protocol.LOG:
                    logs.append(message["text"])
                    if on_log is not None:
                        on_log(message["text"])
                elif kind == protocol.OUTPUT:
                    outputs.append(message["value"])
                    if on_output is not None:
                        on_output(message["value"])
                elif kind in (protocol.DONE, protocol.FAILED, protocol.CANCELED):
                    return self._result(message, outputs, "".join(logs))
        except _ChildGone as gone:
            return ended("failed", f"Runner process exited unexpectedly ({gone})")

    def _next_message(self, active: _Active, wait: float) -> dict[str, Any] | None:
        """The next message for `active`'s prediction, or None after up to `wait` seconds.

        Whichever predict() thread finds nobody reading reads the channel, for all of them:
        messages of other predictions go to their inboxes. Stray logs, written between
        predictions or by C code while several run, have no id and are dropped.
        """
        give_up_at = time.monotonic() + wait
        with self._lock:
            while not active.inbox:
                if self._gone is not None:
                    raise _ChildGone(self._gone)
                if not self._reading:
                    self._reading = True
                    break
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    return None
                self._message_filed.wait(remaining)
            else:
                return active.inbox.popleft()
        message = None
        try:
            message = self._receive(max(0.0, give_up_at - time.monotonic()))
        except _ChildGone as gone:
            with self._lock:
                self._gone = str(gone)
            raise
        finally:
            with self._lock:
                self._reading = False
                owner = None if message is None or "id" not in message else self._active.get(message["id"])
                if owner is not None and owner is not active:
                    owner.inbox.append(message)
                self._message_filed.notify_all()  # another thread may read now, or has mail
        return message if owner is active else None

    @staticmethod
    def _result(message: dict[str, Any], outputs: list[Any], logs: str) -> PredictionResult:
        kind, metrics = message["type"], message.get("metrics") or {}
        if kind == protocol.DONE:
            output = outputs if message["iterator"] else message.get("output")
            return PredictionResult("succeeded", output, None, logs, message["predict_time"], metrics)
        if kind == protocol.FAILED:
            return PredictionResult("failed", None, message["error"], logs, message["predict_time"], metrics)
        return PredictionResult("canceled", None, None, logs, message["predict_time"], metrics)

    def cancel(self, prediction_id: str) -> None:
        """Ask the child to stop `prediction_id`; safe to call from any thread.

        If the child has not finished within the grace period, predict() kills it and
        reports the prediction canceled. A cancel that arrives before predict() was called
        for that id makes that call return canceled without running it.
        """
        with self._lock:
            active = self._active.get(prediction_id)
            if active is None:
                self._early_cancels.add(prediction_id)
                return
            if active.kill_at is not None:
                return
            active.kill_at = time.monotonic() + self._cancel_grace
        try:
            self._channel.send(protocol.CANCEL, id=prediction_id)
        except OSError:
            pass  # the child is gone; predict() is finding that out

    def is_alive(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        """Ask the child to exit, and kill it if it does not within a few seconds."""
        if self.is_alive():
            try:
                self._channel.send(protocol.SHUTDOWN)
                self._proc.wait(_EXIT_GRACE)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def _receive(self, wait: float) -> dict[str, Any] | None:
        """The next message, or None if none came within `wait` seconds.

        Raises _ChildGone, naming how the child ended, once it has died. The closed socket
        tells us at once; polling the process covers a child whose forked helpers still
        hold the socket open.
        """
        try:
            if self._channel.poll(wait):
                return self._channel.recv()
        except (EOFError, OSError):
            raise _ChildGone(self._reap()) from None
        if self._proc.poll() is not None and not self._channel.poll(0):
            raise _ChildGone(self._reap())
        return None

    def _reap(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(_EXIT_GRACE)
        self._kill()
        code = self._proc.returncode
        if code < 0:
            return f"signal {-code}"
        return f"exit code {code}"

    def _kill(self) -> None:
        """Kill the child's whole process group (the model's own subprocesses too)."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # nothing of ours left in the group
        self._proc.wait()
        self._channel.close()


def module_command(module: str) -> list[str]:
    """The interpreter arguments that run `module` as `python -m` would, but with the working
    directory (the model's project) off sys.path while our own package imports, so a model's
    inference.py cannot shadow it (the module adds the project itself). `-P` would do it, but
    only from Python 3.11 on, and a version's environment may be 3.10."""
    return ["-c", f"import runpy, sys; del sys.path[0]; runpy.run_module({module!r}, run_name='__main__')"]


def child_command(fd: int, project_dir: Path, predictor_ref: str, *, entry: str = "predict") -> list[str]:
    """The interpreter arguments that start `inference.runtime.child`."""
    options = ["--entry", entry] if entry != "predict" else []
    return [*module_command("inference.runtime.child"), "--fd", str(fd), *options, str(project_dir), predictor_ref]


@contextlib.contextmanager
def _held_shared(path: Path | None):
    """A descriptor holding a shared flock on `path`, for the child to inherit (nothing if None)."""
    if path is None:
        yield ()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield (fd,)
    finally:
        os.close(fd)  # the child's copy keeps the lock


def _child_env(overrides: Mapping[str, str] | None) -> dict[str, str]:
    # Logs are UTF-8 whatever the worker's locale, and a stray byte must not crash a print.
    env = {"PYTHONIOENCODING": "utf-8:backslashreplace", **os.environ, **(overrides or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env
