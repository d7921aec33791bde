"""Platform overhead on a prediction: the echo model through the official `replicate` client
(Daphne + Celery worker + PostgreSQL + Redis, all on this machine) versus the same predictor
called in-process. Prints figures; it is not a pass/fail test.

    .venv/bin/python bench/overhead.py [-n 300] [--workers 1]

Uses a scratch database `hearth_bench` (recreated) on DATABASE_URL's server, default the local
PostgreSQL, and Redis database 14.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from hosting import processes  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": statistics.median(ordered), "p90": pick(0.90), "p99": pick(0.99)}


def fmt(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 1000:7.2f} ms" for k, v in stats.items())


def setup_platform(env: dict[str, str]) -> str:
    import psycopg
    import redis

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS hearth_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE hearth_bench")
    redis.Redis.from_url(REDIS_URL).flushdb()
    manage = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    manage("migrate", "--no-input")
    token = manage("createuser", "bench")
    manage("push", str(REPO_ROOT / "zoo" / "echo"), "bench/echo")
    return token


def in_process_latencies(n: int) -> list[float]:
    sys.path.insert(0, str(REPO_ROOT / "zoo" / "echo"))
    from predict import Predictor  # the same unmodified predictor the platform runs

    predictor = Predictor()
    predictor.setup()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        predictor.predict(text="x")
        samples.append(time.perf_counter() - started)
    return samples


def platform_latencies(client, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.run("bench/echo", input={"text": "x"}) == "x"
        samples.append(time.perf_counter() - started)
    return samples


def create_only_latencies(client, version: str, n: int) -> list[float]:
    """The web half alone: authenticate, validate, insert, enqueue; no waiting."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        client.predictions.create(version=version, input={"text": "x"})
        samples.append(time.perf_counter() - started)
    return samples


def throughput(make_client, concurrency: int, total: int) -> float:
    clients = [make_client() for _ in range(concurrency)]
    per_client = total // concurrency

    def drive(client) -> None:
        for _ in range(per_client):
            assert client.run("bench/echo", input={"text": "x"}) == "x"

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(drive, clients))
    return per_client * concurrency / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="sequential predictions to time")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--throughput-total", type=int, default=320)
    args = parser.parse_args()

    import replicate

    port = processes.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hosting.settings",
        "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key",
        "DATABASE_URL": f"{PG_SERVER.replace('postgresql://', 'postgres://')}/hearth_bench",
        "REDIS_URL": REDIS_URL,
        "DATA_DIR": str(REPO_ROOT / "var" / "bench"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    }
    token = setup_platform(env)
    children = [processes.start_daphne(host="127.0.0.1", port=port, env=env, output=subprocess.DEVNULL)]
    children += [processes.start_worker(queues="cpu", env=env, output=subprocess.DEVNULL) for _ in range(args.workers)]
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", children[0])
        make_client = lambda: replicate.Client(api_token=token, base_url=f"http://127.0.0.1:{port}")  # noqa: E731
        client = make_client()
        platform_latencies(client, 30)  # warm-up: boots the runner, fills pools and caches
        platform = percentiles(platform_latencies(client, args.n))
        local = percentiles(in_process_latencies(args.n))
        version = client.models.get("bench/echo").latest_version.id
        create_only = percentiles(create_only_latencies(client, version, args.n))
        print(f"echo model, {args.n} sequential sync predictions (replicate.run, Prefer: wait), {args.workers} worker(s)")
        print(f"  through Hearth : {fmt(platform)}")
        print(f"  in-process     : {fmt(local)}")
        print(f"  overhead       : {fmt({k: platform[k] - local[k] for k in platform})}")
        print(f"  create, no wait: {fmt(create_only)}   (web half only)")
        for concurrency in (1, 4, 16):
            rate = throughput(make_client, concurrency, args.throughput_total)
            print(f"  throughput at concurrency {concurrency:2d}: {rate:7.1f} predictions/s")
    finally:
        for child in children:
            processes.stop(child)


if __name__ == "__main__":
    main()
