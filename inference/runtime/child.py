"""The runner process: imports a user's Cog predictor, runs its setup() once, then serves
predictions over the socket passed as --fd (messages: `inference.runtime.protocol`).

    python -P -m inference.runtime.child --fd N PROJECT_DIR PREDICTOR_REF

Logs: fds 1 and 2 both point at one pipe that a thread pumps into `log` messages tagged with
the prediction running at the time, so print(), logging and writes from C code keep their
order. Output written while loading the predictor and in setup() goes out with id null before
ready/setup_failed; the parent keeps it as the setup logs, and it survives a child that dies
in setup().

Cancel: a sync predictor gets cog.CancelationException, raised by a SIGUSR1 handler only
while the main thread is inside the predictor's code; an async one gets its task cancelled.
Async predictors run one at a time on a single event loop that lives as long as the process.
"""

import argparse
import asyncio
import codecs
import contextlib
import faulthandler
import inspect
import os
import queue
import signal
import sys
import threading
import time
import traceback
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import cog
from cog.input import FieldInfo

from inference.runtime import protocol
from inference.runtime.child_values import OutputFiles, coerce_input, encode_output
from inference.runtime.protocol import Channel
from inference.runtime.schema import load_predictor, predict_method

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
_END = object()


def _send(channel: Channel, type_: str, **fields: Any) -> None:
    try:
        channel.send(type_, **fields)
    except OSError:
        os._exit(1)  # the parent has gone: nobody is left to serve


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class LogPump:
    """Routes fds 1 and 2 through one pipe and sends what comes out as `log` messages."""

    def __init__(self, channel: Channel) -> None:
        self.prediction_id: str | None = None
        self._channel = channel
        self._marker = b"\0hearth-log-marker-" + os.urandom(8).hex().encode() + b"\0"
        self._reached = threading.Event()
        self._read_fd, self._marker_fd = os.pipe()
        os.dup2(self._marker_fd, 1)
        os.dup2(self._marker_fd, 2)
        for stream in (sys.stdout, sys.stderr):
            # Line buffering keeps prints to stdout and stderr in the order they were made.
            stream.reconfigure(line_buffering=True)
        threading.Thread(target=self._pump, name="log-pump", daemon=True).start()

    def flush(self) -> None:
        """Return once everything written to stdout/stderr so far has been sent.

        The marker goes through the same pipe, so when the pump reaches it every earlier
        write, whoever made it, is already out. It is written through a descriptor of our
        own because the model may have pointed fds 1 and 2 elsewhere for a while (as
        cog.suppress_output does).
        """
        sys.stdout.flush()
        sys.stderr.flush()
        self._reached.clear()
        os.write(self._marker_fd, self._marker)
        self._reached.wait()

    def _pump(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = b""
        while chunk := os.read(self._read_fd, 65536):
            pending += chunk
            while (at := pending.find(self._marker)) >= 0:
                self._send(decoder.decode(pending[:at]))
                pending = pending[at + len(self._marker) :]
                self._reached.set()
            # A read may end inside a marker: hold back what could be its beginning.
            start = pending.rfind(b"\0", max(0, len(pending) - len(self._marker) + 1))
            cut = start if start >= 0 and self._marker.startswith(pending[start:]) else len(pending)
            self._send(decoder.decode(pending[:cut]))
            pending = pending[cut:]

    def _send(self, text: str) -> None:
        if text:
            _send(self._channel, protocol.LOG, id=self.prediction_id, text=text)


class Server:
    def __init__(self, channel: Channel, pump: LogPump) -> None:
        self._channel = channel
        self._pump = pump
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._current: str | None = None
        self._cancel_requested: str | None = None
        self._in_user_code = False
        self._task: asyncio.Task | None = None
        self._output_files: OutputFiles | None = None
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)

    def setup(self, project_dir: Path, predictor_ref: str) -> bool:
        setup_time = 0.0
        try:
            predictor = load_predictor(project_dir, predictor_ref)
            declared = predict_method(predictor)  # checked before paying for setup()
            if inspect.isclass(predictor):
                instance = predictor()
                started = time.perf_counter()
                self._run_setup(instance)
                setup_time = time.perf_counter() - started
                # Called through the instance, so decorators that predict_method sees
                # past (torch.inference_mode() and the like) still apply.
                self._bind(getattr(instance, declared.__name__), declared)
            else:
                self._bind(predictor, declared)
        except BaseException as exc:
            traceback.print_exc()
            self._pump.flush()
            _send(self._channel, protocol.SETUP_FAILED, error=_describe(exc))
            return False
        self._pump.flush()
        _send(self._channel, protocol.READY, setup_time=setup_time)
        return True

    def _run_setup(self, instance: Any) -> None:
        setup = getattr(instance, "setup", None)
        if setup is None:
            return
        kwargs = {}
        if "weights" in inspect.signature(setup).parameters:
            kwargs["weights"] = os.environ.get("COG_WEIGHTS")
        result = setup(**kwargs)
        if inspect.isawaitable(result):
            self._loop.run_until_complete(result)

    def _bind(self, fn: Any, declared: Any) -> None:
        """`fn` is what gets called; `declared` the undecorated function behind it."""
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(declared) or inspect.isasyncgenfunction(declared)
        self._params = inspect.signature(fn).parameters
        self._hints = typing.get_type_hints(declared)  # resolvable: the schema needed them too
        returns = self._hints.get("return")
        returns = typing.get_origin(returns) or returns
        self._declares_stream = isinstance(returns, type) and issubclass(returns, (Iterator, AsyncIterator))

    def serve(self) -> None:
        threading.Thread(target=self._read_control, name="control", daemon=True).start()
        while (message := self._inbox.get())["type"] == protocol.PREDICT:
            output_dir = message.get("output_dir")
            self._output_files = OutputFiles(Path(output_dir)) if output_dir else None
            self._run(message["id"], message["input"])

    def _read_control(self) -> None:
        while True:
            try:
                message = self._channel.recv()
            except (EOFError, OSError):
                os._exit(1)  # the parent has gone
            if message["type"] == protocol.CANCEL:
                self._cancel(message["id"])
            else:
                self._inbox.put(message)
                if message["type"] == protocol.SHUTDOWN:
                    return

    def _cancel(self, prediction_id: str) -> None:
        if self._current != prediction_id or self._cancel_requested == prediction_id:
            return
        self._cancel_requested = prediction_id
        if self._is_async:
            self._loop.call_soon_threadsafe(self._cancel_task, prediction_id)
        else:
            # To the main thread itself, so a blocking call there (sleep, I/O) is interrupted.
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    def _cancel_task(self, prediction_id: str) -> None:
        if self._current == prediction_id and self._task is not None:
            self._task.cancel()

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self._in_user_code and self._cancel_requested == self._current:
            raise cog.CancelationException()

    @contextlib.contextmanager
    def _user_code(self) -> Iterator[None]:
        """The region where a cancel may raise: never while we are sending a message, which
        an exception would cut in half."""
        self._in_user_code = True  # before the check, so a signal arriving in between still raises
        try:
            if self._cancel_requested == self._current:
                raise cog.CancelationException()
            yield
        finally:
            self._in_user_code = False

    def _run(self, prediction_id: str, raw_input: dict[str, Any]) -> None:
        self._cancel_requested = None
        self._current = self._pump.prediction_id = prediction_id
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            kwargs = self._inputs(raw_input)
            started = time.perf_counter()
            if self._is_async:
                self._task = self._loop.create_task(self._predict_async(prediction_id, kwargs))
                output, iterator = self._loop.run_until_complete(self._task)
            else:
                output, iterator = self._predict_sync(prediction_id, kwargs)
        except BaseException as exc:
            error = exc
        predict_time = time.perf_counter() - started
        self._task = None
        if self._cancel_requested == prediction_id:
            # Whatever the predictor did with the exception, the caller asked for a cancel.
            terminal = (protocol.CANCELED, {})
        elif error is not None:
            traceback.print_exception(error)
            terminal = (protocol.FAILED, {"error": _describe(error)})
        elif iterator:
            terminal = (protocol.DONE, {"iterator": True})
        else:
            terminal = (protocol.DONE, {"iterator": False, "output": output})
        self._pump.flush()
        type_, fields = terminal
        _send(self._channel, type_, id=prediction_id, predict_time=predict_time, **fields)
        self._current = self._pump.prediction_id = None

    def _inputs(self, raw: dict[str, Any]) -> dict[str, Any]:
        kwargs = {}
        for name, param in self._params.items():
            if name in raw:
                value = raw[name]
            elif isinstance(param.default, FieldInfo):
                value = param.default.default  # Python would pass the Input(...) object itself
            else:
                continue
            kwargs[name] = coerce_input(self._hints.get(name), value, name)
        return kwargs

    def _is_stream(self, result: Any) -> bool:
        if inspect.isgenerator(result) or inspect.isasyncgen(result):
            return True
        return self._declares_stream and isinstance(result, (Iterator, AsyncIterator))

    def _send_output(self, prediction_id: str, item: Any) -> None:
        _send(self._channel, protocol.OUTPUT, id=prediction_id, value=encode_output(item, self._output_files))

    def _predict_sync(self, prediction_id: str, kwargs: dict[str, Any]) -> tuple[Any, bool]:
        with self._user_code():
            result = self._fn(**kwargs)
        if not self._is_stream(result):
            return encode_output(result, self._output_files), False
        items = iter(result)
        while True:
            with self._user_code():
                item = next(items, _END)
            if item is _END:
                return None, True
            self._send_output(prediction_id, item)

    async def _predict_async(self, prediction_id: str, kwargs: dict[str, Any]) -> tuple[Any, bool]:
        result = self._fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        if not self._is_stream(result):
            return encode_output(result, self._output_files), False
        if isinstance(result, AsyncIterator):
            async for item in result:
                self._send_output(prediction_id, item)
        else:
            for item in result:
                self._send_output(prediction_id, item)
        return None, True


def _hand_imports_to_the_model(project_dir: Path) -> None:
    """Make `import x` in the model mean what it means under Cog.

    Model repositories often have an inference.py of their own, which our `inference`
    package would shadow: forget ours (this module keeps its references) and take the repo
    root off sys.path and off the PYTHONPATH the model's subprocesses inherit. The project
    directory goes first on sys.path, as the working directory does under Cog.
    """
    for name in [name for name in sys.modules if name == "inference" or name.startswith("inference.")]:
        del sys.modules[name]
    sys.path[:] = [str(project_dir)] + [p for p in sys.path if p != _REPO_ROOT]
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _REPO_ROOT]
    if paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        os.environ.pop("PYTHONPATH", None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inference.runtime.child")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("project_dir", type=Path)
    parser.add_argument("predictor_ref")
    args = parser.parse_args(argv)
    os.set_inheritable(args.fd, False)  # the model's own subprocesses must not hold our socket
    # The worker's stderr: the only place a crash of this process can still be reported.
    worker_stderr = os.fdopen(os.dup(2), "w")
    faulthandler.enable(worker_stderr)
    project_dir = args.project_dir.resolve()
    channel = Channel(args.fd)
    try:
        pump = LogPump(channel)
        os.chdir(project_dir)
        _hand_imports_to_the_model(project_dir)
        server = Server(channel, pump)
        ready = server.setup(project_dir, args.predictor_ref)
        if ready:
            server.serve()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc(file=worker_stderr)
        worker_stderr.flush()
        os._exit(1)
    # Skip interpreter teardown: threads the model left running must not keep us alive.
    os._exit(0 if ready else 1)


if __name__ == "__main__":
    main()
