"""The prediction cache: what a hit costs against running the prediction, side by side in one
run. Prints figures; it is not a pass/fail test.

    .venv/bin/python bench/cache.py [--runs 30]

Each round makes one prediction of a model that sleeps `--seconds` (a stand-in for a model's
own time) with a fresh input, then the same input again: the first runs on the worker (warm
runner), the second is answered from the cache. The clock runs from the create request to the
prediction's final state, as the client sees it: a create with `Prefer: cache` and, for the run,
`Prefer: wait` (a hit is final in the create's own answer). Also printed: the create alone with
and without `Prefer: cache` on a miss, the cost of looking the cache up on the hot path.
"""

import argparse
import sys
import time

import httpx
from platform_support import REPO_ROOT, bench_platform, fmt, percentiles

SLEEPER = REPO_ROOT / "tests" / "fixtures" / "models" / "sleeper"
sys.path.insert(0, str(REPO_ROOT))


def _create(http: httpx.Client, url: str, token: str, seconds: float, prefer: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = http.post(
        f"{url}/v1/models/bench/sleeper/predictions",
        json={"input": {"seconds": seconds}},
        headers={"Authorization": f"Bearer {token}", "Prefer": prefer},
    )
    took = time.perf_counter() - started
    assert response.status_code == 201, response.text
    return took, response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args()
    with bench_platform({"sleeper": SLEEPER}) as platform, httpx.Client(timeout=90) as http:
        owner = {"Authorization": f"Bearer {platform.token}"}
        patched = http.patch(
            f"{platform.url}/v1/models/bench/sleeper", json={"cache_policy": "deterministic"}, headers=owner
        )
        assert patched.status_code == 200, patched.text
        time.sleep(2.5)  # past MODEL_CACHE_SECONDS
        _create(http, platform.url, platform.token, 0, "wait")  # boot the runner
        ran, hits, miss_creates, plain_creates = [], [], [], []
        for run in range(args.runs):
            seconds = args.seconds + run * 1e-6  # a fresh input each round
            took, first = _create(http, platform.url, platform.token, seconds, "wait, cache")
            assert first["status"] == "succeeded" and not first["metrics"].get("cached"), first
            ran.append(took)
            took, again = _create(http, platform.url, platform.token, seconds, "wait, cache")
            assert again["metrics"].get("cached") is True, again
            hits.append(took)
        # Then the create alone (no wait) on a miss, with and without the look-up, alternating;
        # what they queue runs after the figures are taken.
        for run in range(args.runs):
            miss_creates.append(_create(http, platform.url, platform.token, 0.01 + run * 1e-6, "cache")[0])
            plain_creates.append(_create(http, platform.url, platform.token, 0.01 + run * 1e-6, "")[0])
    print(f"prediction cache, {args.runs} rounds, a model that sleeps {args.seconds} s, warm runner")
    print(f"  run on the worker (Prefer: wait)     : {fmt(percentiles(ran))}")
    print(f"  the same input again, a cache hit    : {fmt(percentiles(hits))}")
    print(f"  p50 ratio hit/run                    : {percentiles(hits)['p50'] / percentiles(ran)['p50']:.3f}")
    print(f"  create on a miss, with Prefer: cache : {fmt(percentiles(miss_creates))}")
    print(f"  create, no cache asked               : {fmt(percentiles(plain_creates))}")


if __name__ == "__main__":
    main()
