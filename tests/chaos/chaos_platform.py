"""The platform the chaos tests break: Daphne, two Celery workers and Celery beat under
`make run`'s own Supervisor (a killed process comes back as it would there), on the test
database and on a redis-server of its own, which the tests may empty, cut off and restart
without touching the Redis that other tests share.

Its processes connect to PostgreSQL as `application_name=hearth-chaos`, so a test can
terminate their backends and only theirs. The timings that decide how fast a lost prediction
is found are short (the settings below); beat runs the liveness sweep every 5 s, the shortest
period hosting/settings.py gives it.
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from io import StringIO
from pathlib import Path

import httpx
import psycopg
import redis
from django.conf import settings
from django.core.management import call_command

from accounts.models import Account
from billing.models import Hardware
from billing.skus import seed_default_hardware
from hosting import processes
from hosting.processes import ProcessSpec, Supervisor
from inference.models import Prediction
from tests.conftest import Persona, make_persona
from tests.live_platform import server_env

RECORDER = Path(__file__).parent / "recorder"
SKU = "cpu-chaos"
APPLICATION_NAME = "hearth-chaos"
WORKERS = ("worker-1", "worker-2")

# What the platform's processes run with: three missed 1 s beats lose a prediction's worker,
# a prediction unclaimed for 2 s is queued again, and a reservation is grown every second or
# two, so the spending guard's database writes happen during the faults too.
CHAOS_SETTINGS = {
    "PREDICTION_HEARTBEAT_SECONDS": "1",
    "PREDICTION_REQUEUE_SECONDS": "2",
    "BILLING_RESERVATION_SECONDS": "2",
    "STREAM_KEEPALIVE_SECONDS": "1",
}


class PrivateRedis:
    """A redis-server on a free port, without persistence (as `make run` and `.ci/run` start
    one): a restart loses every key, queue and stream."""

    def __init__(self, directory: Path) -> None:
        self.port = processes.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.admin().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # a crash: nothing is saved, nothing is flushed
            self.process.wait()
            self.process = None

    def admin(self) -> redis.Redis:
        """A connection of the test's own (CLIENT KILL skips it)."""
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)


def terminate_backends() -> int:
    """pg_terminate_backend on every PostgreSQL connection of the platform's processes, as a
    database restart or an operator would; returns how many there were."""
    database = settings.DATABASES["default"]
    with psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"], port=database["PORT"], autocommit=True
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
        ).fetchall()
    return len(rows)


def process_children(pid: int) -> list[int]:
    """The pids of `pid`'s children, from Linux's /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@dataclass
class ChaosPlatform:
    url: str
    persona: Persona
    redis: PrivateRedis
    supervisor: Supervisor
    record: Path
    log_dir: Path
    supervisor_lines: list[str] = field(default_factory=list)

    def http(self, timeout: float = 10) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.persona.plaintext}"},
            timeout=timeout,
        )

    def worker_pids(self) -> list[int]:
        return [self.supervisor.children[name].pid for name in WORKERS]

    def records(self) -> list[tuple[str, str, int]]:
        """(event, tag, runner pid) for every `start` and `end` the predictor wrote."""
        lines = self.record.read_text().splitlines() if self.record.exists() else []
        return [(event, tag, int(pid)) for event, tag, pid in (line.split() for line in lines)]

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)


def _push_recorder() -> Persona:
    seed_default_hardware(Hardware)  # flushed by transactional tests that ran before
    Hardware.objects.get_or_create(sku=SKU, defaults={"name": "CPU (chaos)", "price_per_second": Decimal("0.0001")})
    persona = make_persona("chaos")
    # A limit far above what the tests spend: creates take the admission path and predictions
    # hold reservations that the spending guard grows, as a limited account's do.
    Account.objects.filter(pk=persona.account.pk).update(spending_limit=Decimal("100"))
    call_command("push", str(RECORDER), "chaos/recorder", hardware=SKU, stdout=StringIO(), stderr=StringIO())
    return persona


def _others_finished(timeout: float = 60) -> None:
    """Beat's sweep here looks at every prediction in the database, and finds none of another
    platform's liveness keys in this Redis: a prediction the e2e platform still ran would look
    lost and be queued here. So this one starts once every other prediction has finished."""
    deadline = time.monotonic() + timeout
    while Prediction.objects.exclude(status__in=Prediction.TERMINAL_STATUSES).exists():
        assert time.monotonic() < deadline, "predictions of earlier tests are still running"
        time.sleep(0.2)


def start_chaos_platform(log_dir: Path) -> Iterator[ChaosPlatform]:
    """Start everything, warm both workers' runners, yield; stop everything after."""
    _others_finished()
    persona = _push_recorder()
    private_redis = PrivateRedis(log_dir)
    private_redis.start()
    port = processes.free_port()
    env = server_env(port)
    env.update(CHAOS_SETTINGS)
    env["DATABASE_URL"] += f"?application_name={APPLICATION_NAME}"
    env["REDIS_URL"] = private_redis.url
    env["HEARTH_CHAOS_RECORD"] = str(log_dir / "runs.txt")
    lines: list[str] = []
    supervisor = Supervisor(log=lines.append, backoff=0.2, poll_interval=0.1, stop_timeout=10)

    def spec(name: str, args: list[str]) -> ProcessSpec:
        return ProcessSpec.python(name, args, env=env, output=(log_dir / f"{name}.log").open("ab"))

    web = supervisor.start(spec("web", processes.daphne_args(host="127.0.0.1", port=port)))
    for name in WORKERS:
        supervisor.start(spec(name, processes.worker_args(queues=f"{SKU},default", loglevel="info")))
    supervisor.start(spec("beat", processes.beat_args(schedule=log_dir / "celerybeat-schedule")))
    supervising = threading.Thread(target=supervisor.run, name="chaos-supervisor", daemon=True)
    supervising.start()
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", web)
        platform = ChaosPlatform(
            url=f"http://127.0.0.1:{port}",
            persona=persona,
            redis=private_redis,
            supervisor=supervisor,
            record=log_dir / "runs.txt",
            log_dir=log_dir,
            supervisor_lines=lines,
        )
        _warm_up(platform)
        yield platform
    finally:
        supervisor.stopping.set()
        supervising.join(timeout=30)
        private_redis.stop()
        for log in sorted(log_dir.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-4000:]}")


def _warm_up(platform: ChaosPlatform) -> None:
    """Both workers boot their runner before any fault (a cold boot is not what is measured)."""
    with platform.http(timeout=60) as http:
        for index in range(4):
            response = http.post(
                "/v1/models/chaos/recorder/predictions",
                json={"input": {"tag": f"warm-{index}", "seconds": 0.5, "steps": 1}},
            )
            assert response.status_code == 201, response.text
        deadline = time.monotonic() + 60
        while len({pid for event, _tag, pid in platform.records() if event == "end"}) < len(WORKERS):
            assert time.monotonic() < deadline, f"the workers did not both run a prediction: {platform.records()}"
            http.post(
                "/v1/models/chaos/recorder/predictions",
                json={"input": {"tag": f"warm-{time.monotonic_ns()}", "seconds": 0.5, "steps": 1}},
            )
            time.sleep(0.5)
    deadline = time.monotonic() + 60
    while (
        Prediction.objects.filter(account=platform.persona.account)
        .exclude(status__in=Prediction.TERMINAL_STATUSES)
        .exists()
    ):
        assert time.monotonic() < deadline, "the warm-up predictions did not finish"
        time.sleep(0.2)
