"""Soak: steady load at a fixed rate on the echo model through the official `replicate` client
(sync `replicate.run`, from a small thread pool so the rate holds while a call is slow), for
minutes on end. Each minute: requests sent, errors, p50/p99 latency of the calls that ended in
it (timed from when each was due, so a backlog shows) and the resident memory of each part of
the platform. At the end: each part's RSS growth from minute 2 to the last (minute 1 warms up).
Exits 1 if any call failed or returned the wrong output. Prints figures; not a test.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 5] [--threads 16]
"""

import argparse
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from platform_support import REPO_ROOT, bench_platform, fmt, percentiles

ECHO = REPO_ROOT / "zoo" / "echo"
GRACE_S = 60  # how long calls still running at the end may take before they count as errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5, help="predictions started per second")
    parser.add_argument("--threads", type=int, default=16, help="calls in flight at most")
    args = parser.parse_args()
    if args.minutes < 2 or args.rate <= 0:
        parser.error("--minutes must be 2 or more and --rate above 0")

    finished: queue.SimpleQueue[tuple[float, str | None]] = queue.SimpleQueue()
    local = threading.local()

    def predict(due: float) -> None:
        try:
            output = local.client.run("bench/echo", input={"text": "x"})
            error = None if output == "x" else f"wrong output {output!r}"
        except Exception as exc:  # every failure counts, whatever it is
            error = f"{type(exc).__name__}: {exc}"
        finished.put((time.monotonic() - due, error))

    rss, errors, first_error = [], 0, None
    with bench_platform({"echo": ECHO}) as platform:
        pool = ThreadPoolExecutor(args.threads, initializer=lambda: setattr(local, "client", platform.client()))
        print(f"echo model, {args.rate:g} predictions/s for {args.minutes} min, RSS in MiB")
        futures, start = [], time.monotonic()
        for minute in range(1, args.minutes + 1):
            sent, minute_end = 0, start + minute * 60
            while (due := start + len(futures) / args.rate) < minute_end:
                time.sleep(max(0.0, due - time.monotonic()))
                futures.append(pool.submit(predict, due))
                sent += 1
            time.sleep(max(0.0, minute_end - time.monotonic()))
            still_running = len(wait(futures, timeout=GRACE_S).not_done) if minute == args.minutes else 0
            latencies, minute_errors = [], still_running
            while not finished.empty():
                latency, error = finished.get()
                latencies.append(latency)
                minute_errors += error is not None
                first_error = first_error or error
            if still_running:
                first_error = first_error or f"{still_running} call(s) still running {GRACE_S} s after the end"
            errors += minute_errors
            rss.append(platform.rss_mib())
            stats = percentiles(latencies) if latencies else {}
            timing = fmt({k: stats[k] for k in ("p50", "p99")}) if stats else "no calls ended"
            memory = "  ".join(f"{role} {mib:.1f}" for role, mib in rss[-1].items())
            print(f"  min {minute:3d}  sent {sent:4d}  errors {minute_errors:3d}  {timing}  {memory}", flush=True)
        pool.shutdown(wait=False, cancel_futures=True)  # stragglers fail once the platform stops
    growth = "  ".join(f"{role} {(rss[-1][role] / rss[1][role] - 1) * 100:+.1f}%" for role in rss[1] if rss[1][role])
    print(f"  RSS growth, minute 2 to {args.minutes}: {growth}")
    print(f"  errors: {errors}" + (f" (first: {first_error})" if first_error else ""))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
