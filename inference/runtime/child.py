"""The runner process: imports a user's Cog predictor, runs its setup() once, then serves
predictions over the socket passed as --fd (messages: `inference.runtime.protocol`).

    python -P -m inference.runtime.child --fd N [--entry train] PROJECT_DIR PREDICTOR_REF

With `--entry train`, PREDICTOR_REF is cog.yaml's `train:` (a function, or a class with
setup()/train()) and each `predict` message runs train() instead: a training is served like
a prediction (logs, cancel, the terminal message), with its own inputs and its weights as output.

Logs: fds 1 and 2 both point at one pipe that a thread pumps into `log` messages tagged with
the prediction running at the time, so print(), logging and writes from C code keep their
order. Output written while loading the predictor and in setup() goes out with id null before
ready/setup_failed; the parent keeps it as the setup logs, and it survives a child that dies
in setup().

Cancel: a sync predictor gets cog.CancelationException, raised by a SIGUSR1 handler only
while the main thread is inside the predictor's code; an async one gets its task cancelled.

Concurrency: async predictors run on a single event loop that lives as long as the process.
With a limit above one (`COG_MAX_CONCURRENCY`, which the worker sets from cog.yaml's
`concurrency.max`, else `@cog.concurrent(max=N)`), several predictions run at once as tasks
on that loop. What their code prints is routed by a ContextVar naming the prediction (as
coglet does), since one pipe cannot tell writers apart; the parent keeps the count within
the limit, which `ready` reports.
"""

import argparse
import asyncio
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

from inference.runtime import child_metrics, protocol
from inference.runtime.child_logs import LogPump, PredictionRoutedStream, log_owner, send
from inference.runtime.child_values import OutputFiles, coerce_input, encode_output
from inference.runtime.protocol import Channel
from inference.runtime.schema import load_predictor, predict_method, train_method

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
_END = object()


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _max_concurrency(declared: Any, is_async: bool) -> int:
    """How many predictions may run at once: COG_MAX_CONCURRENCY wins over
    @cog.concurrent(max=N), as in coglet. Only async predictors run concurrently."""
    raw = os.environ.get("COG_MAX_CONCURRENCY", "").strip()
    try:
        limit = int(raw) if raw else int(getattr(declared, "__cog_concurrent_max__", 1))
    except ValueError:
        raise ValueError(f"COG_MAX_CONCURRENCY must be a whole number, not {raw!r}") from None
    if limit > 1 and not is_async:
        print(f"Concurrency {limit} ignored: only async predictors run predictions concurrently")
        return 1
    return max(limit, 1)


class Server:
    def __init__(self, channel: Channel, pump: LogPump) -> None:
        self._channel = channel
        self._pump = pump
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._current: str | None = None  # the sync prediction running, if any
        self._cancel_requested: set[str] = set()
        self._in_user_code = False
        self._tasks: dict[str, asyncio.Task] = {}  # async predictions in flight
        self._output_files: dict[str, OutputFiles | None] = {}  # where each one's files go
        self._metrics: dict[str, child_metrics.MetricRecorder] = {}  # what each one recorded
        child_metrics.install(self._running_metrics)  # before the predictor's module is imported
        self.max_concurrency = 1
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        self._main_thread_id = threading.get_ident()  # signal.signal() works on no other thread

    def setup(self, project_dir: Path, predictor_ref: str, entry: str = "predict") -> bool:
        setup_time = 0.0
        try:
            predictor = load_predictor(project_dir, predictor_ref)
            # Checked before paying for setup().
            declared = train_method(predictor) if entry == "train" else predict_method(predictor)
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
            send(self._channel, protocol.SETUP_FAILED, error=_describe(exc))
            return False
        self._pump.flush()
        send(self._channel, protocol.READY, setup_time=setup_time, max_concurrency=self.max_concurrency)
        return True

    def _run_setup(self, instance: Any) -> None:
        setup = getattr(instance, "setup", None)
        if setup is None:
            return
        kwargs = {}
        parameter = inspect.signature(setup).parameters.get("weights")
        if parameter is not None:
            # Cog's convention: a trained version's weights (COG_WEIGHTS, a local path here)
            # as a cog.Path when setup() asks for a Path, else as the string.
            weights = os.environ.get("COG_WEIGHTS") or None
            try:
                annotation = typing.get_type_hints(setup).get("weights")
            except Exception:  # an annotation that does not resolve: pass the string, as cog 0.23 does
                annotation = None
            kwargs["weights"] = coerce_input(annotation, weights, "weights")
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
        self.max_concurrency = _max_concurrency(declared, self._is_async)

    def serve(self) -> None:
        threading.Thread(target=self._read_control, name="control", daemon=True).start()
        if self.max_concurrency > 1:
            self._loop.run_until_complete(self._serve_concurrently())
            return
        while (message := self._inbox.get())["type"] == protocol.PREDICT:
            self._accept(message)
            self._run(message["id"], message["input"])

    def _accept(self, message: dict[str, Any]) -> None:
        output_dir = message.get("output_dir")
        self._output_files[message["id"]] = OutputFiles(Path(output_dir)) if output_dir else None
        self._metrics[message["id"]] = child_metrics.MetricRecorder()

    def _running_metrics(self) -> child_metrics.MetricRecorder | None:
        """The metrics of the prediction whose code is running: the task's own when several
        run at once, else the one prediction in flight (from any thread it started)."""
        prediction_id = log_owner.get() or self._current
        return None if prediction_id is None else self._metrics.get(prediction_id)

    async def _serve_concurrently(self) -> None:
        sys.stdout = PredictionRoutedStream(self._channel, sys.stdout)
        sys.stderr = PredictionRoutedStream(self._channel, sys.stderr)
        self._pump.prediction_id = None  # fd-level writes can no longer be attributed
        while (message := await self._loop.run_in_executor(None, self._inbox.get))["type"] == protocol.PREDICT:
            prediction_id = message["id"]
            self._accept(message)
            self._tasks[prediction_id] = self._loop.create_task(self._run_task(prediction_id, message["input"]))
        if self._tasks:  # shutdown: let what runs finish, as a sequential server would
            await asyncio.wait(list(self._tasks.values()))

    async def _run_task(self, prediction_id: str, raw_input: dict[str, Any]) -> None:
        log_owner.set(prediction_id)  # this task's own copy of the context
        output, iterator, error = None, False, None
        started = time.perf_counter()
        try:
            kwargs = self._inputs(raw_input)
            started = time.perf_counter()
            output, iterator = await self._predict_async(prediction_id, kwargs)
        except BaseException as exc:  # a cancel arrives here as CancelledError
            error = exc
        predict_time = time.perf_counter() - started
        del self._tasks[prediction_id]
        self._finish(prediction_id, predict_time, output, iterator, error)

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
        if self._is_async:
            self._loop.call_soon_threadsafe(self._cancel_task, prediction_id)
        elif self._current == prediction_id and prediction_id not in self._cancel_requested:
            self._cancel_requested.add(prediction_id)
            # To the main thread itself, so a blocking call there (sleep, I/O) is interrupted.
            signal.pthread_kill(self._main_thread_id, signal.SIGUSR1)

    def _cancel_task(self, prediction_id: str) -> None:
        task = self._tasks.get(prediction_id)
        if task is not None and prediction_id not in self._cancel_requested:
            self._cancel_requested.add(prediction_id)
            task.cancel()

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self._in_user_code and self._current in self._cancel_requested:
            raise cog.CancelationException()

    @contextlib.contextmanager
    def _user_code(self) -> Iterator[None]:
        """The region where a cancel may raise: never while we are sending a message, which
        an exception would cut in half."""
        self._in_user_code = True  # before the check, so a signal arriving in between still raises
        try:
            if self._current in self._cancel_requested:
                raise cog.CancelationException()
            yield
        finally:
            self._in_user_code = False

    def _run(self, prediction_id: str, raw_input: dict[str, Any]) -> None:
        """One prediction at a time (sync predictors, and async ones without concurrency)."""
        self._cancel_requested.clear()
        self._current = self._pump.prediction_id = prediction_id
        output, iterator, error = None, False, None
        started = time.perf_counter()
        try:
            kwargs = self._inputs(raw_input)
            started = time.perf_counter()
            if self._is_async:
                self._tasks[prediction_id] = task = self._loop.create_task(self._predict_async(prediction_id, kwargs))
                try:
                    output, iterator = self._loop.run_until_complete(task)
                finally:
                    del self._tasks[prediction_id]
            else:
                output, iterator = self._predict_sync(prediction_id, kwargs)
        except BaseException as exc:
            error = exc
        self._finish(prediction_id, time.perf_counter() - started, output, iterator, error)
        self._current = self._pump.prediction_id = None

    def _finish(
        self, prediction_id: str, predict_time: float, output: Any, iterator: bool, error: BaseException | None
    ) -> None:
        """Send the prediction's terminal message, after every log written before it."""
        terminal: tuple[str, dict[str, Any]]
        if prediction_id in self._cancel_requested:
            # Whatever the predictor did with the exception, the caller asked for a cancel.
            self._cancel_requested.discard(prediction_id)
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
        metrics = self._metrics.pop(prediction_id).values()  # kept when it fails, as in coglet
        send(self._channel, type_, id=prediction_id, predict_time=predict_time, metrics=metrics, **fields)
        del self._output_files[prediction_id]

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
        value = encode_output(item, self._output_files[prediction_id])
        send(self._channel, protocol.OUTPUT, id=prediction_id, value=value)

    def _predict_sync(self, prediction_id: str, kwargs: dict[str, Any]) -> tuple[Any, bool]:
        with self._user_code():
            result = self._fn(**kwargs)
        if not self._is_stream(result):
            return encode_output(result, self._output_files[prediction_id]), False
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
            return encode_output(result, self._output_files[prediction_id]), False
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
    parser.add_argument("--entry", choices=("predict", "train"), default="predict")
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
        ready = server.setup(project_dir, args.predictor_ref, args.entry)
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
