"""Platform overhead on a prediction: the echo model through the official `replicate` client
(Daphne + Celery worker + PostgreSQL + Redis, all on this machine) versus the same predictor
called in-process. Prints figures; it is not a pass/fail test.

    .venv/bin/python bench/overhead.py [-n 300] [--workers 1]
"""

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from platform_support import REPO_ROOT, bench_platform, cpu_per_item, fmt, percentiles

ECHO = REPO_ROOT / "zoo" / "echo"


def in_process_latencies(n: int) -> list[float]:
    sys.path.insert(0, str(ECHO))
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

    with bench_platform({"echo": ECHO}, workers=args.workers) as platform:
        client = platform.client()
        platform_latencies(client, 30)  # warm-up: boots the runner, fills pools and caches
        cpu_before = platform.cpu_seconds()
        through_hearth = percentiles(platform_latencies(client, args.n))
        cpu_used = cpu_per_item(cpu_before, platform.cpu_seconds(), args.n)
        local = percentiles(in_process_latencies(args.n))
        version = client.models.get("bench/echo").latest_version.id
        create_only = percentiles(create_only_latencies(client, version, args.n))
        print(
            f"echo model, {args.n} sequential sync predictions (replicate.run, Prefer: wait), {args.workers} worker(s)"
        )
        print(f"  through Hearth : {fmt(through_hearth)}")
        print(f"  in-process     : {fmt(local)}")
        print(f"  overhead       : {fmt({k: through_hearth[k] - local[k] for k in local})}")
        print(f"  create, no wait: {fmt(create_only)}   (web half only)")
        print(f"  CPU ms per prediction: {cpu_used}")
        for concurrency in (1, 4, 16):
            rate = throughput(platform.client, concurrency, args.throughput_total)
            print(f"  throughput at concurrency {concurrency:2d}: {rate:7.1f} predictions/s")


if __name__ == "__main__":
    main()
