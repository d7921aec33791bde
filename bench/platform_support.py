"""A throwaway Hearth on this machine for benchmarks: a fresh `hearth_bench` database on
the local PostgreSQL, Redis database 14, Daphne and Celery worker processes."""

import contextlib
import os
import statistics
import subprocess
import sys
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


@dataclass
class BenchPlatform:
    url: str
    token: str

    def client(self):
        import replicate

        return replicate.Client(api_token=self.token, base_url=self.url)


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

    def manage(*args: str) -> str:
        command = [sys.executable, "manage.py", *args]
        return subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True).stdout

    manage("migrate", "--no-input")
    token = manage("createuser", "bench").strip()
    for name, directory in models.items():
        manage("push", str(directory), f"bench/{name}")
    return token


@contextlib.contextmanager
def bench_platform(models: dict[str, Path], *, workers: int = 1) -> Iterator[BenchPlatform]:
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
    }
    token = _prepare(env, models)
    children = [processes.start_daphne(host="127.0.0.1", port=port, env=env, output=subprocess.DEVNULL)]
    children += [processes.start_worker(queues="cpu", env=env, output=subprocess.DEVNULL) for _ in range(workers)]
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", children[0])
        yield BenchPlatform(url=f"http://127.0.0.1:{port}", token=token)
    finally:
        for child in children:
            processes.stop(child)
