"""A throwaway Hearth on this machine for benchmarks: a fresh `hearth_bench` database on
the local PostgreSQL, Redis database 14, Daphne and Celery worker processes."""

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from hosting import processes  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE = os.environ.get("BENCH_DATABASE", "hearth_bench")
# One token drives every request: the limits stay on (their cost is part of the figures) but
# are set far above what a benchmark sends.
RATE_LIMIT = os.environ.get("BENCH_RATE_LIMIT_PER_MINUTE", "100000000")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class BenchPlatform:
    url: str
    token: str
    web_pid: int
    worker_pids: list[int]
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """A manage.py command on the bench's database (what an operator would run)."""
        return _manage(self.env, *args)

    def client(self):
        import replicate

        return replicate.Client(api_token=self.token, base_url=self.url)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each part of the platform, and by this process (the client).

        A figure that holds still while this machine's speed drifts (20% within minutes on
        the VMs here) far better than latency does: compare two versions of a change by it.
        """
        table = _process_table()
        parts = {role: sum(table[pid][2] for pid in pids) for role, pids in self._parts(table).items()}
        return {**parts, "client": time.process_time()}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory (VmRSS) of each part of the platform now, in MiB. Like `cpu_seconds`,
        "postgres" is every PostgreSQL process on the machine (backends count the shared
        buffers they have touched)."""
        return {role: sum(map(_rss_kib, pids)) / 1024 for role, pids in self._parts(_process_table()).items()}

    def _parts(self, table: "ProcessTable") -> dict[str, set[int]]:
        """The pids behind each part: a worker's descendants are its model runners."""
        workers = set(self.worker_pids) & table.keys()
        return {
            "web": _family([self.web_pid], table),
            "worker": workers,
            "runner": _family(self.worker_pids, table) - workers,
            "postgres": {pid for pid, (_, name, _) in table.items() if name == "postgres"},
            "redis": {pid for pid, (_, name, _) in table.items() if name == "redis-server"},
        }


ProcessTable = dict[int, tuple[int, str, float]]


def _process_table() -> ProcessTable:
    """Every running process's parent pid, command name and CPU seconds, from Linux's /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, _, rest = (entry / "stat").read_text().partition(" (")[2].rpartition(") ")
        except OSError:  # it ended meanwhile
            continue
        fields = rest.split()  # from the state on: the parent pid next, user and system time 12th and 13th
        table[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS)
    return table


def _family(pids: list[int], table: ProcessTable) -> set[int]:
    """The given processes that still run, and all their descendants."""
    family, pending = set(pids) & table.keys(), list(pids)
    while pending:
        parent = pending.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        family.update(children)
        pending.extend(children)
    return family


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it ended meanwhile
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def cpu_per_item(before: dict[str, float], after: dict[str, float], items: int) -> str:
    """Milliseconds of CPU each part used per item between two `cpu_seconds()` readings."""
    return "  ".join(f"{role} {(after[role] - before[role]) / items * 1000:.2f}" for role in before)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": statistics.median(ordered), "p90": pick(0.90), "p99": pick(0.99)}


def fmt(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 1000:7.2f} ms" for k, v in stats.items())


def _prepare(env: dict[str, str], models: dict[str, Path]) -> str:
    import psycopg
    import redis

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()

    _manage(env, "migrate", "--no-input")
    token = _manage(env, "createuser", "bench").strip()
    for name, directory in models.items():
        _manage(env, "push", str(directory), f"bench/{name}")
    return token


def _manage(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def bench_platform(
    models: dict[str, Path], *, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[BenchPlatform]:
    port = processes.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hosting.settings",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key",
        "DATABASE_URL": f"{PG_SERVER.replace('postgresql://', 'postgres://')}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "DATA_DIR": str(REPO_ROOT / "var" / "bench"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_CREATE_PER_MINUTE": RATE_LIMIT,
        "RATE_LIMIT_API_PER_MINUTE": RATE_LIMIT,
        **(extra_env or {}),
    }
    token = _prepare(env, models)
    children = [processes.start_daphne(host="127.0.0.1", port=port, env=env, output=subprocess.DEVNULL)]
    children += [processes.start_worker(queues="cpu", env=env, output=subprocess.DEVNULL) for _ in range(workers)]
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", children[0])
        yield BenchPlatform(
            url=f"http://127.0.0.1:{port}",
            token=token,
            web_pid=children[0].pid,
            worker_pids=[child.pid for child in children[1:]],
            env=env,
        )
    finally:
        for child in children:
            processes.stop(child)
