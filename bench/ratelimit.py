"""What the per-token rate limit adds to a request: the one Redis round trip of
`hosting.ratelimit.acheck` (INCR + EXPIRE, pipelined), timed in-process against local Redis.
A/B interleaved so machine load hits both sides alike. Prints figures; not a test.

    .venv/bin/python bench/ratelimit.py [-n 5000]
"""

import argparse
import asyncio
import os
import sys
import time

from platform_support import REDIS_URL, REPO_ROOT, fmt, percentiles

sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hosting.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-bench-secret-key-bench-secret-key")
os.environ["REDIS_URL"] = REDIS_URL
os.environ["RATE_LIMIT_CREATE_PER_MINUTE"] = "1000000000"


async def measure(n: int) -> tuple[list[float], list[float]]:
    from hosting import ratelimit

    with_limit, without = [], []
    await ratelimit.acheck(ratelimit.CREATE, 1)  # connect
    for _ in range(n):
        started = time.perf_counter()
        await ratelimit.acheck(ratelimit.CREATE, 1)
        with_limit.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.sleep(0)  # the same trip through the event loop, no Redis
        without.append(time.perf_counter() - started)
    return with_limit, without


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    import django

    django.setup()
    with_limit, without = asyncio.run(measure(args.n))
    print(f"rate limit check, {args.n} calls against {REDIS_URL}")
    print(f"  acheck (INCR+EXPIRE pipelined): {fmt(percentiles(with_limit))}")
    print(f"  baseline (event-loop yield)   : {fmt(percentiles(without))}")


if __name__ == "__main__":
    main()
