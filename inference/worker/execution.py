"""Running one prediction inside a Celery worker (ARCHITECTURE §5).

`prediction_run` claims the prediction, gets a warm runner for its version, relays every
log line and output item to the prediction's event stream as it comes, saves progress to
Postgres in batches, and records the final state.

A runner whose async predictor allows several predictions at once (cog.yaml
`concurrency.max`, `@cog.concurrent`) takes each in a thread of its own, so the worker's
(solo) task returns and fetches the next prediction while this one runs; once the runner is
full, `acquire` blocks the task, and the queue waits for this worker or goes to another.
Liveness heartbeats, not Celery's ack, protect these predictions if the worker dies.
"""

import atexit
import logging
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from hosting.redis_clients import sync_client
from inference import cancellation, enqueue, events, prediction_cache, webhooks
from inference.deployments import instances
from inference.files import inputs
from inference.files.outputs import OutputFileError, OutputFiles
from inference.models import Prediction, Version
from inference.observability import counters
from inference.registry import environments, weights
from inference.registry.packaging import extract_package
from inference.runtime.pool import Lease, RunnerPool, RunnerSpec
from inference.runtime.runner import RunnerSetupError
from inference.runtime.schema import output_is_iterator
from inference.trainings.services import training_output
from inference.worker import records, training_runs
from inference.worker.instances import InstanceKeeper
from inference.worker.liveness import Heartbeat
from inference.worker.spending import SpendingGuard

logger = logging.getLogger(__name__)

# Progress reaches Postgres at most this often; the event stream carries every item at once.
PROGRESS_SAVE_INTERVAL = 0.5

_pool = RunnerPool(max_runners=settings.MAX_WARM_RUNNERS, memory_budget=settings.RUNNER_MEMORY_BUDGET)
atexit.register(_pool.close)


def _package_dir(version: Version) -> Path:
    """The version's project, unpacked once on this machine, its cog.yaml `weights:` fetched
    (once per machine, `weights.fetch`) and put at their targets before anyone can see it;
    raises WeightsError when one cannot be had."""
    destination = Path(settings.RUNTIME_DIR) / "versions" / version.sha256
    if destination.is_dir():
        return destination
    archive = Path(settings.RUNTIME_DIR) / "packages" / f"{version.sha256}.tar.gz"
    if not archive.is_file():
        archive.parent.mkdir(parents=True, exist_ok=True)
        with version.package.open("rb") as source:
            archive.write_bytes(source.read())
    records = version.config.get("weights") or []
    return extract_package(
        archive, destination, prepare=(lambda project: weights.place(records, project)) if records else None
    )


def _runner_spec(version: Version) -> RunnerSpec:
    env = {**environments.runner_variables(version.environment), **version.config.get("environment", {})}
    concurrency = version.config.get("concurrency", 1)
    if concurrency > 1:  # else @cog.concurrent(max=N) on the predictor decides, as in coglet
        env["COG_MAX_CONCURRENCY"] = str(concurrency)
    model = version.model
    # A version whose environment this machine has not built yet builds it here: the cold boot
    # of the first prediction on each worker machine (a push on the same machine built it already).
    python, in_use_lock = environments.python_for(
        version.environment, log=lambda line: logger.info("version %s: %s", version.sha256[:12], line.rstrip())
    )
    project_dir = _package_dir(version)
    if trained_weights := version.config.get("trained_weights"):  # a version a training made
        env["COG_WEIGHTS"] = str(project_dir / trained_weights)  # Cog's way to setup(weights)
    return RunnerSpec(
        key=version.sha256,
        project_dir=project_dir,
        predictor_ref=version.predictor_ref,
        env=env,
        idle_timeout=None if model.keep_warm else float(model.idle_timeout),
        python=python,
        in_use_lock=in_use_lock,
    )


# Deployments' minimum instances, started with the worker (tasks.py, on worker_ready).
instance_keeper = InstanceKeeper(_pool, _runner_spec)


def passed_to_warm_worker(prediction_id: str, *, version: str, hardware: str) -> bool:
    """Whether the prediction went to another worker of `hardware` where `version` is up and
    idle (by the workers' last reports), because it would cold-boot here. A worker that died
    before taking it leaves it `starting`: the sweep queues it again on its SKU's queue."""
    if _pool.has_runner(version):
        return False
    try:
        target = instances.warm_worker(version=version, hardware=hardware, other_than=instance_keeper.worker)
    except redis.RedisError:  # no reports to go by: run it here
        return False
    return target is not None and _passed_to(prediction_id, target=target, version=version, why="version is warm")


def passed_on_for_deployment(
    prediction_id: str, *, deployment_id: int, version: str, hardware: str, max_instances: int
) -> bool:
    """Whether a deployment's prediction went to another worker: one of the deployment's
    instances where its version is up and idle, rather than booting it here; or any of them
    when its `max_instances` workers are others (the cap: it never boots on one more)."""
    me = instance_keeper.worker
    try:
        warm_here = _pool.has_runner(version)
        if warm_here and instance_keeper.serve(
            deployment_id=deployment_id, version=version, max_instances=max_instances
        ):
            return False
        holders = instances.instance_holders(
            deployment_id=deployment_id, version=version, slots=max_instances, other_than=me
        )
        target = None
        if not warm_here and holders:
            target = instances.warm_worker(version=version, hardware=hardware, other_than=me, among=holders)
        if target is None:
            if instance_keeper.serve(deployment_id=deployment_id, version=version, max_instances=max_instances):
                return False
            # Its instances are all elsewhere: the first holder queues it behind its own.
            holders = holders or instances.instance_holders(
                deployment_id=deployment_id, version=version, slots=max_instances, other_than=me
            )
            target = holders[0] if holders else None
    except redis.RedisError:  # nothing to count instances by: run it here
        return False
    if target is None:  # the holders let go in between: run it here
        return False
    return _passed_to(prediction_id, target=target, version=version, why="an instance of its deployment runs")


def _passed_to(prediction_id: str, *, target: str, version: str, why: str) -> bool:
    try:
        enqueue.run_prediction(prediction_id, queue=instances.worker_queue(target), version=version, forwarded=True)
    except KombuOperationalError:  # the broker refused it: run it here after all
        return False
    logger.info("prediction %s passed to %s, where %s", prediction_id, target, why)
    return True


class _Progress:
    """Collects what the runner reports, publishing each piece at once and saving to
    Postgres at most every PROGRESS_SAVE_INTERVAL (a trailing save catches the last piece)."""

    def __init__(self, prediction: Prediction, *, iterator_output: bool) -> None:
        self.prediction = prediction
        self.iterator_output = iterator_output
        # Logs of an earlier attempt (a worker lost mid-prediction) stay in front.
        self.logs: list[str] = [prediction.logs] if prediction.logs else []
        self.outputs: list[Any] = []
        self._lock = threading.Lock()
        self._pending_save: threading.Timer | None = None
        self._finished = False
        self._stream = events.StreamWriter(prediction.id)

    def log(self, text: str) -> None:
        text = storable(text)
        self.logs.append(text)
        self._stream.publish("logs", text)
        self._schedule_save()

    def output(self, value: Any) -> None:
        value = storable(value)
        self.outputs.append(value)
        self._stream.publish("output", value)
        self._schedule_save()

    def _schedule_save(self) -> None:
        with self._lock:
            if self._pending_save is None and not self._finished:
                self._pending_save = threading.Timer(PROGRESS_SAVE_INTERVAL, self._save)
                self._pending_save.daemon = True
                self._pending_save.start()

    def _save(self) -> None:
        with self._lock:
            self._pending_save = None
            if self._finished:
                return
            logs, output = "".join(self.logs), (list(self.outputs) if self.iterator_output else None)
        event = "output" if output != self.prediction.output else "logs"
        self.prediction.logs, self.prediction.output = logs, output
        try:
            Prediction.objects.filter(pk=self.prediction.pk, status=Prediction.Status.PROCESSING).update(
                logs=logs, output=output
            )
            # The save interval is also the webhook throttle: output/logs at most every 0.5 s.
            _send_webhook(self.prediction, event)
        except (DatabaseError, KombuOperationalError) as exc:
            # The next save, or the final write (which retries), carries what this one had.
            logger.warning("progress of prediction %s not saved: %r", self.prediction.id, exc)
        finally:
            connection.close()  # this timer thread's connection goes back to the pool

    def finish(self) -> None:
        """No saves after this: the final state is written by the caller, and its `done`
        event follows every event published here."""
        with self._lock:
            self._finished = True
            if self._pending_save is not None:
                self._pending_save.cancel()
        self._stream.close()


class _CancelWatcher:
    """Listens for cancel requests from web processes and forwards them to the runner."""

    def __init__(self) -> None:
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="cancel-watcher", daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        while True:
            try:
                pubsub = sync_client().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(cancellation.CANCEL_CHANNEL)
                for message in pubsub.listen():
                    self._cancel(message["data"])
            except Exception:  # the watcher must outlive Redis hiccups
                logger.exception("cancel watcher lost its subscription; resubscribing")
                time.sleep(1)

    def _cancel(self, prediction_id: str) -> None:
        with self._lock:
            runner = self._running.get(prediction_id)
        if runner is not None:
            runner.cancel(prediction_id)

    def register(self, prediction_id: str, runner: Any) -> None:
        self._ensure_started()
        with self._lock:
            self._running[prediction_id] = runner

    def unregister(self, prediction_id: str) -> None:
        with self._lock:
            self._running.pop(prediction_id, None)


_cancel_watcher = _CancelWatcher()
_heartbeat = Heartbeat()


def _seconds_to_deadline(prediction: Prediction) -> float | None:
    if prediction.deadline is None:
        return None
    return max(0.0, (prediction.deadline - timezone.now()).total_seconds())


def _abort(prediction: Prediction) -> None:
    """End a prediction whose Cancel-After deadline passed before it started running (queued,
    or while its model booted): `aborted`, not billed (it has no predict_time), and with no
    `started_at`, since it never started (inference/api/deadlines.py says who sees `canceled`)."""
    Prediction.objects.filter(pk=prediction.pk, status=Prediction.Status.PROCESSING).update(started_at=None)
    prediction.started_at = None
    _finish(prediction, status=Prediction.Status.ABORTED, output=None, error=None, logs=prediction.logs, metrics={})


def _deadline_timer(prediction: Prediction, runner: Any) -> threading.Timer | None:
    """Cancels the prediction through the normal cancel path when its Cancel-After deadline comes."""
    remaining = _seconds_to_deadline(prediction)
    if remaining is None:
        return None
    timer = threading.Timer(remaining, runner.cancel, args=[prediction.id])
    timer.daemon = True
    timer.start()
    return timer


def _claim(prediction_id: str, *, fair: bool = False) -> tuple[Prediction, bool] | None:
    """The claimed prediction (`fair`: the fairest waiting on its hardware, perhaps another than
    `prediction_id`), and whether its model must boot first (no runner of its version is up
    here): its `start` entry says so, and a `running` entry follows the boot."""
    fair = fair and settings.FAIR_SHARE_WINDOW_SECONDS > 0
    prediction = records.claim(prediction_id, now=timezone.now(), fair=fair)
    if prediction is None:
        return None
    prediction_id = prediction.id
    booting = prediction.is_training or not _pool.has_runner(prediction.version.sha256)
    counters.prediction_claimed(prediction)  # its time queued, for /metrics
    # One round trip for the liveness key and the stream's `start` entry.
    pipe = sync_client().pipeline(transaction=False)
    _heartbeat.start(prediction_id, via=pipe)
    events.publish(prediction_id, "start", {"booting": booting}, via=pipe)
    try:
        pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # Claimed in Postgres, so it runs: the heartbeat sets its key at the next beat once
        # Redis answers (before, a claim that failed here left the prediction to the sweep).
        logger.warning("prediction %s claimed but not announced (%r); running it", prediction_id, exc)
    return prediction, booting


def storable(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD: PostgreSQL stores none, in text
    or in JSON, and a model's print or output must not cost it its prediction."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


def _finish(prediction: Prediction, *, status: str, output: Any, error: str | None, logs: str, metrics: dict) -> None:
    prediction.completed_at = timezone.now()
    prediction.status = status
    prediction.output, prediction.error, prediction.logs = storable(output), storable(error), storable(logs)
    prediction.metrics = {**metrics, "total_time": (prediction.completed_at - prediction.created_at).total_seconds()}
    # The charge, the run count and the final state are written together; it ran: bill it,
    # whatever the outcome.
    records.record_outcome(prediction, predict_time=metrics.get("predict_time"))
    records.announce_done(prediction)
    if status == Prediction.Status.SUCCEEDED and prediction.cache_key:
        prediction_cache.remember(prediction.id, prediction.cache_key)
    _send_webhook(prediction, "completed")


def _send_webhook(prediction: Prediction, event: str) -> None:
    webhooks.queue_event(prediction, event)


def prediction_run(*, prediction_id: str, fair: bool = False) -> None:
    """Run a queued prediction to a terminal state. A prediction no longer `starting`
    (canceled while queued, or already claimed) is left alone. `fair`: the message may run
    another prediction waiting on the same hardware, the fairest to run next
    (`records.claim`)."""
    claimed = _claim(prediction_id, fair=fair)
    if claimed is None:
        return
    prediction, booting = claimed
    prediction_id = prediction.id
    run = None
    try:
        run = _prepare(prediction, booting=booting)
    finally:
        if run is None:  # it ended before reaching a runner
            _heartbeat.stop(prediction_id)
    if run is None:
        return
    if run.lease.runner.max_concurrency > 1:
        threading.Thread(target=_complete_in_thread, args=(prediction, run), name=f"prediction-{prediction_id}").start()
    else:
        _complete(prediction, run)


class _ScratchDir:
    """Per prediction: its input files (fetched here, read by the runner) and the copies of
    its output files (written by the runner, stored from here); removed when it ends.

    Only the first file put there makes the directory (both writers make their parents):
    most predictions have no files, and making and removing an empty directory for each
    cost the worker about 0.5 ms a prediction on 2 cores.
    """

    def __init__(self, prediction: Prediction) -> None:
        # A name of its own for each attempt: a run after a lost worker starts afresh.
        self.path = Path(settings.PREDICTION_SCRATCH_DIR) / f"{prediction.id}-{secrets.token_hex(4)}"

    def cleanup(self) -> None:
        try:
            shutil.rmtree(self.path)
        except FileNotFoundError:  # nothing was put there
            pass


@dataclass
class _PreparedRun:
    lease: Lease | training_runs.TrainingLease
    scratch: _ScratchDir
    runner_input: dict
    outputs: OutputFiles


def _prepare(prediction: Prediction, *, booting: bool) -> _PreparedRun | None:
    """Its input files and a runner, or None when it has already ended (aborted past its
    deadline in the queue or while booting, an input that cannot be read, its model's setup failed).
    `booting`: its `start` entry announced a cold boot, so a `running` entry ends it."""
    if _seconds_to_deadline(prediction) == 0:  # its Cancel-After deadline passed in the queue
        _abort(prediction)
        return None
    _send_webhook(prediction, "start")
    scratch = _ScratchDir(prediction)
    try:
        runner_input = inputs.materialise(prediction=prediction, directory=scratch.path / "inputs")
        spec = _runner_spec(prediction.version)
        lease: Lease | training_runs.TrainingLease
        if prediction.is_training:  # on a runner of its own, with cog.yaml's `train:` entry point
            lease = training_runs.boot_trainer(spec, prediction.version.config["train"])
        else:
            lease = _pool.acquire(spec)
    except BaseException as exc:
        scratch.cleanup()
        ended = _ended_before_running(prediction, exc)
        if ended is None:
            raise
        error, logs, metrics = ended
        _finish(prediction, status=Prediction.Status.FAILED, output=None, error=error, logs=logs, metrics=metrics)
        return None
    if _seconds_to_deadline(prediction) == 0:  # it passed while the model booted: it never ran
        lease.release()  # the runner stays warm for the next prediction
        scratch.cleanup()
        _abort(prediction)
        return None
    if booting:  # the one extra entry of a cold boot: the browser shows the boot is over
        try:
            events.publish(prediction.id, "running", {})
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Only the browser's "Booting" misses it; raised here, it left the lease held for good.
            logger.warning("prediction %s: the end of its boot was not announced (%r)", prediction.id, exc)
    return _PreparedRun(lease, scratch, runner_input, OutputFiles(prediction, scratch.path / "outputs"))


def _ended_before_running(prediction: Prediction, exc: BaseException) -> tuple[str, str, dict] | None:
    """The error, logs and metrics of a prediction that failed before reaching a runner (an input
    that cannot be read, an environment or weights that cannot be had, a setup that failed), or
    None for an exception that is no such end."""
    if isinstance(exc, inputs.InputFileError):
        return f"Could not read input {exc}", prediction.logs, {}
    if isinstance(exc, environments.EnvironmentBuildError):
        return str(exc), exc.log, {"cold_boot": True}
    if isinstance(exc, RunnerSetupError):
        return f"Model setup failed: {exc}", exc.logs, {"cold_boot": True}
    if isinstance(exc, weights.WeightsError):  # cog.yaml weights that this machine could not fetch
        return f"Model setup failed: {exc}", f"{prediction.logs}{exc}\n", {"cold_boot": True}
    return None


def _complete_in_thread(prediction: Prediction, run: _PreparedRun) -> None:
    try:
        _complete(prediction, run)
    except Exception:
        logger.exception("prediction %s failed in the worker", prediction.id)  # the sweep will find it
    finally:
        connection.close()  # this thread's connection goes back to the pool


def _complete(prediction: Prediction, run: _PreparedRun) -> None:
    """Run the prediction on its leased runner, store its output files, record the outcome."""
    earlier_logs = prediction.logs  # of an earlier attempt; progress saves update prediction.logs
    try:
        try:
            result = _predict(prediction, run.lease.runner, run.runner_input, run.outputs)
        finally:
            run.lease.release()
        if result is None:
            return
        # The predictor's own metrics (cog's record_metric) first: Hearth's keys win over them,
        # as do total_time and cost, added later.
        metrics = {**result.metrics, "predict_time": result.predict_time, "cold_boot": run.lease.cold_boot}
        if prediction.started_at is not None:  # claimed: the time it waited for a worker
            metrics["queue_time"] = max(0.0, (prediction.started_at - prediction.created_at).total_seconds())
        if run.lease.cold_boot:
            metrics["setup_time"] = run.lease.runner.setup_time
            metrics["boot_time"] = run.lease.runner.boot_time
        status, output, error = result.status, result.output, result.error
        if status == Prediction.Status.SUCCEEDED:
            try:
                if prediction.is_training:  # its weights become a version of its destination
                    output = training_output(training=prediction, output=output, outputs=run.outputs)
                else:
                    output = run.outputs.store(output)
            except OutputFileError as exc:  # it ran, so it is billed all the same
                status, output, error = Prediction.Status.FAILED, None, f"Output failed: {exc}"
        _finish(prediction, status=status, output=output, error=error, logs=earlier_logs + result.logs, metrics=metrics)
    finally:
        run.scratch.cleanup()
        _heartbeat.stop(prediction.id)


def _predict(prediction: Prediction, runner: Any, runner_input: dict, outputs: OutputFiles) -> Any:
    """Run `predict` on a leased runner; None if the prediction was canceled before it began."""
    prediction_id = prediction.id
    iterator_output = not prediction.is_training and output_is_iterator(prediction.version.openapi_schema)
    progress = _Progress(prediction, iterator_output=iterator_output)
    _cancel_watcher.register(prediction_id, runner)
    deadline = guard = None
    try:
        # Asked to cancel before the watcher knew this prediction: it never runs.
        if cancellation.is_cancel_requested(prediction_id):
            _finish(
                prediction, status=Prediction.Status.CANCELED, output=None, error=None, logs=prediction.logs, metrics={}
            )
            return None
        deadline = _deadline_timer(prediction, runner)
        guard = SpendingGuard.start_for(prediction, runner)
        result = runner.predict(
            prediction_id=prediction_id,
            input=runner_input,
            on_log=progress.log,
            on_output=lambda item: progress.output(outputs.store(item)),
            # A training has no default run-time limit: it takes as long as it takes.
            timeout=None if prediction.is_training else settings.PREDICTION_MAX_RUN_TIME,
            output_dir=outputs.directory,
        )
        if guard is not None and guard.stopped_because and result.status == Prediction.Status.CANCELED:
            result.status, result.error = Prediction.Status.FAILED, guard.stopped_because
        return result
    finally:
        _cancel_watcher.unregister(prediction_id)
        progress.finish()
        if deadline is not None:
            deadline.cancel()
        if guard is not None:
            guard.stop()
