"""Hearth across machines, for real: the web (Daphne, with Celery beat beside it), a worker serving
the `cpu` SKU and a worker serving `gpu-t4`, each in a network namespace of its own (`ip netns`)
with a veth link to this one, where PostgreSQL and Redis run. Each SKU's predictions run on its
own machine only; when the GPU machine disappears mid-prediction (every process on it killed, its
namespace and link deleted), the CPU machine keeps serving, beat's liveness sweep queues the lost
prediction again, and it completes, once, when a new GPU machine joins.

Creating namespaces needs root. CI runs as root; elsewhere the test fails and says so.

Which machine ran a prediction is read from the prediction itself: the `whereami` fixture model
returns its process's network namespace, which the test compares with the namespaces it made.
The machines use a redis-server of their own (started here, in this namespace): the shared test
Redis may hold the queues of the session's `platform` fixture, whose worker serves `cpu` too and
would take this test's `cpu` predictions.
"""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from io import StringIO
from pathlib import Path
from typing import IO

import httpx
import pytest
import replicate
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Account
from billing.models import Hardware, UsageRecord
from billing.skus import seed_default_hardware
from hosting import processes
from inference.models import Prediction
from inference.worker import liveness
from tests.chaos.chaos_platform import PrivateRedis
from tests.conftest import FIXTURE_MODELS, make_persona
from tests.live_platform import server_env

pytestmark = pytest.mark.e2e

OWNER = "machines"
MODELS = {"cpu": f"{OWNER}/where-cpu", "gpu-t4": f"{OWNER}/where-gpu"}
WEB_PORT = 8000  # the web machine's own network: no other process there can hold it
METRICS_TOKEN = "many-machines-metrics"  # the scaling figures are read from another machine
NEEDS_ROOT = (
    "this test creates network namespaces (`ip netns add`), which needs root (CAP_SYS_ADMIN and "
    "CAP_NET_ADMIN) and iproute2; CI runs it as root"
)


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class Relays:
    """TCP relays in this namespace from the host end of each machine's link to PostgreSQL and
    Redis, which listen on 127.0.0.1 only: what a machine sends them crosses its veth link, as it
    would cross the network to a database host. One asyncio loop in a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relays", daemon=True)
        self._thread.start()
        self._servers: dict[str, list[asyncio.Server]] = defaultdict(list)
        self._ends: dict[str, set[asyncio.StreamWriter]] = defaultdict(set)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def open(self, host: str, port: int, upstream: tuple[str, int]) -> None:
        async def start() -> None:
            server = await asyncio.start_server(partial(self._relay, host, upstream), host, port)
            self._servers[host].append(server)

        self._call(start())

    async def _relay(
        self, host: str, upstream: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.transport.abort()
            return
        ends = {writer, upstream_writer}
        self._ends[host] |= ends
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        finally:
            self._ends[host] -= ends

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            # One side gone, so is the other: neither protocol half-closes.
            writer.transport.abort()

    def close(self, host: str) -> None:
        """Stop relaying for `host`, cutting the connections its machine had open."""

        async def close() -> None:
            for server in self._servers.pop(host, []):
                server.close()
            for end in self._ends.pop(host, set()):
                end.transport.abort()

        self._call(close())

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        for host in list(self._servers):
            self.close(host)
        self._call(cancel_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class Machine:
    role: str
    namespace: str
    veth: str  # the host end of its link, in this namespace
    host_ip: str  # that end's address: where the machine finds PostgreSQL and Redis
    ip: str  # the machine's own address
    netns: str = ""  # `net:[inode]`, what the whereami model returns when it runs here
    processes: list[subprocess.Popen] = field(default_factory=list)
    gone: bool = False


class Machines:
    """Network namespaces as machines, each with a /30 veth link to this namespace. The addresses
    come from a /24 picked by this process's pid, so two runs at once do not share one."""

    def __init__(self, relays: Relays, upstreams: dict[int, tuple[str, int]], log_dir: Path) -> None:
        pid = os.getpid()
        self._prefix = f"hm{pid}"  # interface names: at most 15 characters
        self._subnet = f"10.231.{pid % 250}"
        self._relays, self._upstreams, self._log_dir = relays, upstreams, log_dir
        self._logs: list[IO] = []
        self.all: list[Machine] = []

    def add(self, role: str) -> Machine:
        n = len(self.all) + 1
        machine = Machine(
            role=role,
            namespace=f"hearth-{self._prefix}-{role}",
            veth=f"{self._prefix}v{n}",
            host_ip=f"{self._subnet}.{4 * n + 1}",
            ip=f"{self._subnet}.{4 * n + 2}",
        )
        try:
            _ip("netns", "add", machine.namespace)
        except (RuntimeError, OSError) as exc:  # OSError: no `ip` to run
            pytest.fail(f"{NEEDS_ROOT}; it failed: {exc}")
        self.all.append(machine)  # from here on, `close` removes what there is of it
        inside = f"{self._prefix}p{n}"
        _ip("link", "add", machine.veth, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", machine.namespace)
        _ip("addr", "add", f"{machine.host_ip}/30", "dev", machine.veth)
        _ip("link", "set", machine.veth, "up")
        _ip("-n", machine.namespace, "addr", "add", f"{machine.ip}/30", "dev", inside)
        _ip("-n", machine.namespace, "link", "set", inside, "up")
        _ip("-n", machine.namespace, "link", "set", "lo", "up")
        machine.netns = f"net:[{os.stat(f'/run/netns/{machine.namespace}').st_ino}]"
        for port, upstream in self._upstreams.items():
            self._relays.open(machine.host_ip, port, upstream)
        return machine

    def start(self, machine: Machine, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        """This interpreter with `args`, on `machine`."""
        log = (self._log_dir / f"{machine.role}-{name}.log").open("ab")
        self._logs.append(log)
        command = ["ip", "netns", "exec", machine.namespace, sys.executable, *args]
        child = processes.ProcessSpec(name, command, env, log).start()
        machine.processes.append(child)
        return child

    def _pids(self, machine: Machine) -> list[int]:
        return [int(pid) for pid in _ip("netns", "pids", machine.namespace, check=False).split()]

    def kill(self, machine: Machine) -> None:
        """The machine gone at once, as a power cut: every process on it SIGKILLed, then its
        namespace and link deleted and its relays' connections cut."""
        if machine.gone:
            return
        machine.gone = True
        deadline = time.monotonic() + 10
        # Again until none is left: a worker may start a runner while the first round lands.
        while (pids := self._pids(machine)) and time.monotonic() < deadline:
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        for child in machine.processes:
            with suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        _ip("netns", "del", machine.namespace, check=False)
        _ip("link", "del", machine.veth, check=False)  # gone with the namespace, unless setup stopped halfway
        self._relays.close(machine.host_ip)

    def close(self) -> None:
        for machine in reversed(self.all):
            self.kill(machine)
        for log in self._logs:
            log.close()


@dataclass
class Cluster:
    machines: Machines
    web: Machine
    env: Callable[[Machine], dict[str, str]]
    client: replicate.Client
    journal: Path

    @property
    def url(self) -> str:
        return f"http://{self.web.ip}:{WEB_PORT}"

    def start_worker(self, machine: Machine, sku: str) -> None:
        env = {**self.env(machine), "WORKER_HARDWARE": sku}
        self.machines.start(machine, "worker", processes.worker_args(queues=f"{sku},default", loglevel="info"), env)

    def workers(self) -> dict[str, int]:
        """Live workers per SKU, as the web reports them to autoscalers (from the workers' reports)."""
        response = httpx.get(
            f"{self.url}/metrics/scaling", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
        response.raise_for_status()
        return {sku: figures["workers"] for sku, figures in response.json()["hardware"].items() if figures["workers"]}

    def runs(self, tag: str) -> list[tuple[str, str]]:
        """(`start` or `done`, namespace) for each journal line of the runs tagged `tag`."""
        lines = self.journal.read_text().splitlines() if self.journal.exists() else []
        return [(event, netns) for event, run, netns in (line.split(" ") for line in lines) if run == tag]


def _wait_for(what: str, check: Callable[[], object], timeout: float, state: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s; {state()}"
        time.sleep(0.1)


def _finished(prediction, timeout: float):
    def done() -> bool:
        prediction.reload()
        return prediction.status in ("succeeded", "failed", "canceled", "aborted")

    _wait_for(
        f"prediction {prediction.id} to finish",
        done,
        timeout,
        lambda: f"still {prediction.status}, logs {prediction.logs!r}",
    )
    return prediction


def _push(sku: str) -> None:
    """The whereami model, as a model whose hardware is `sku`."""
    call_command(
        "push", str(FIXTURE_MODELS / "whereami"), MODELS[sku], hardware=sku, stdout=StringIO(), stderr=StringIO()
    )


def _print_logs(log_dir: Path) -> None:
    # Shown by pytest only when the test failed.
    for log in sorted(log_dir.glob("*.log")):
        print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def cluster(django_db_setup, django_db_blocker, tmp_path) -> Iterator[Cluster]:
    with ExitStack() as cleanup:  # every step undone in reverse, even when a later one fails
        with django_db_blocker.unblock():
            seed_default_hardware(Hardware)  # flushed by transactional tests that ran before
            persona = make_persona(OWNER)
            cleanup.callback(_remove_data, django_db_blocker)
            for sku in MODELS:
                _push(sku)
        cleanup.callback(_print_logs, tmp_path)

        redis = PrivateRedis(tmp_path)
        redis.start()
        cleanup.callback(redis.stop)
        relays = Relays()
        cleanup.callback(relays.stop)
        database = settings.DATABASES["default"]
        upstreams = {5432: (database["HOST"], int(database["PORT"])), 6379: ("127.0.0.1", redis.port)}
        machines = Machines(relays, upstreams, tmp_path)
        cleanup.callback(machines.close)

        web = machines.add("web")
        journal = tmp_path / "journal"

        def env(machine: Machine) -> dict[str, str]:
            """What a process on `machine` runs with: PostgreSQL and Redis across its link."""
            return {
                **server_env(WEB_PORT),
                "DATABASE_URL": f"postgres://{database['USER']}@{machine.host_ip}:5432/{database['NAME']}",
                "REDIS_URL": f"redis://{machine.host_ip}:6379/0",
                "PUBLIC_BASE_URL": f"http://{web.ip}:{WEB_PORT}",
                "ALLOWED_HOSTS": web.ip,
                "METRICS_TOKEN": METRICS_TOKEN,
                # A prediction unclaimed for 2 s is queued again, with a note when no worker
                # serves its SKU; beat runs that sweep, and the lost-worker one, every 5 s.
                "PREDICTION_REQUEUE_SECONDS": "2",
                "HEARTH_TEST_JOURNAL": str(journal),
            }

        daphne = machines.start(web, "daphne", processes.daphne_args(host=web.ip, port=WEB_PORT), env(web))
        machines.start(web, "beat", processes.beat_args(schedule=tmp_path / "beat-schedule"), env(web))
        cluster = Cluster(
            machines=machines,
            web=web,
            env=env,
            client=replicate.Client(api_token=persona.plaintext, base_url=f"http://{web.ip}:{WEB_PORT}"),
            journal=journal,
        )
        cluster.start_worker(machines.add("cpu"), "cpu")
        cluster.start_worker(machines.add("gpu-a"), "gpu-t4")
        processes.wait_for_http(f"{cluster.url}/v1/hardware", daphne, timeout=60)
        yield cluster


def _remove_data(django_db_blocker) -> None:
    """What the test made in the session's database, so no later test's sweep finds it."""
    with django_db_blocker.unblock():
        UsageRecord.objects.filter(account__username=OWNER).delete()  # they protect their predictions
        Account.objects.filter(username=OWNER).delete()  # its models, versions, predictions
        get_user_model().objects.filter(username=OWNER).delete()


def test_each_sku_runs_on_its_machine_and_survives_losing_one(cluster, django_db_blocker):
    client = cluster.client
    cpu, gpu = (next(m for m in cluster.machines.all if m.role == role) for role in ("cpu", "gpu-a"))
    on_machine = {"cpu": cpu.netns, "gpu-t4": gpu.netns}

    # Both workers report themselves through Redis, across their links; the web counts them.
    _wait_for("a worker of each SKU", lambda: cluster.workers() == {"cpu": 1, "gpu-t4": 1}, 60, cluster.workers)

    # Each SKU's predictions run on its own machine only, with both machines at work at once.
    batch = [
        (sku, client.models.predictions.create(model=MODELS[sku], input={"tag": f"{sku}-{i}", "seconds": 0.5}))
        for i in range(2)
        for sku in MODELS
    ]
    for sku, prediction in batch:
        _finished(prediction, 60)
        assert (prediction.status, prediction.output) == ("succeeded", on_machine[sku]), (sku, prediction.logs)

    # The GPU machine disappears while it runs a prediction.
    lost = client.models.predictions.create(model=MODELS["gpu-t4"], input={"tag": "lost", "seconds": 6})
    _wait_for("the GPU prediction to start", lambda: cluster.runs("lost"), 30, lambda: cluster.runs("lost"))
    cluster.machines.kill(gpu)

    # The other SKU keeps serving, right away.
    after = _finished(client.models.predictions.create(model=MODELS["cpu"], input={"tag": "after"}), 15)
    assert (after.status, after.output) == ("succeeded", cpu.netns), after.logs
    _wait_for("the GPU worker to drop out", lambda: cluster.workers() == {"cpu": 1}, 15, cluster.workers)

    # Beat's sweep (a task on `default`, run by the CPU worker) finds that the lost prediction's
    # worker stopped beating and queues it again on gpu-t4, where nothing serves it now: it
    # waits there, saying so, and does not run on the CPU machine.
    unserved = liveness.UNSERVED.format(sku="gpu-t4").strip()
    _wait_for(
        "the lost prediction to be queued again, waiting for a GPU worker",
        lambda: lost.reload() or (lost.status == "starting" and unserved in (lost.logs or "")),
        30,
        lambda: f"{lost.status}, logs {lost.logs!r}",
    )
    assert "queued again" in lost.logs
    assert cluster.runs("lost") == [("start", gpu.netns)]  # cut short: it never finished there

    # A new GPU machine joins and runs it, to the end, once.
    gpu_b = cluster.machines.add("gpu-b")
    cluster.start_worker(gpu_b, "gpu-t4")
    _finished(lost, 60)
    assert (lost.status, lost.output) == ("succeeded", gpu_b.netns), lost.logs
    assert cluster.runs("lost") == [("start", gpu.netns), ("start", gpu_b.netns), ("done", gpu_b.netns)]
    with django_db_blocker.unblock():
        assert Prediction.objects.get(pk=lost.id).attempts == 2
        assert UsageRecord.objects.filter(prediction_id=lost.id).count() == 1
    _wait_for("the new GPU worker to count", lambda: cluster.workers() == {"cpu": 1, "gpu-t4": 1}, 15, cluster.workers)
