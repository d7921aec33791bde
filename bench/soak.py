"""Soak: steady load at a fixed rate on the echo model through the official `replicate` client
(sync `replicate.run`, from a small thread pool so the rate holds while a call is slow), for
minutes on end. Each minute: requests sent, errors, p50/p99 latency of the calls that ended in
it (timed from when each was due, so a backlog shows), the resident memory of each part of
the platform, and the keys in the bench's Redis database (mostly prediction event streams,
kept STREAM_RETENTION_SECONDS: they, and Redis with them, grow until a run passes that).
At the end: each part's RSS growth from the end of the warm-up to the last minute.
Exits 1 if any call failed or returned the wrong output. Prints figures; not a test.

PostgreSQL and Redis are shared with whatever else runs on the machine, so their figures
here are the server's own processes plus the backends of the bench database only, and the
redis-server serving the bench's port: other people's tests do not move them.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 5] [--threads 16] [--warm-up 2]

The database and Redis come from BENCH_DATABASE and BENCH_REDIS_URL (bench/platform_support.py).
"""

import argparse
import queue
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import urlsplit

import redis
from platform_support import DATABASE, REDIS_URL, REPO_ROOT, _process_table, _rss_kib, bench_platform, fmt, percentiles

ECHO = REPO_ROOT / "zoo" / "echo"
GRACE_S = 60  # how long calls still running at the end may take before they count as errors
# A backend's title: "postgres: [cluster: ]user database host(port) state"; an autovacuum
# worker names its database too. The postmaster and its helpers name none.
_PG_DATABASE = re.compile(r"postgres: (?:\S+: )?(?:autovacuum worker (\S+)|\S+ (\S+) (?:\S+\(\d+\)|\[local\]))")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # it ended meanwhile
        return ""


def _own_servers_mib() -> dict[str, float]:
    """RSS of PostgreSQL (server processes and the bench database's backends) and of the
    redis-server on the bench's port, in MiB."""
    port = str(urlsplit(REDIS_URL).port or 6379)
    postgres = redis_server = 0
    for pid, (_, name, _) in _process_table().items():
        if name == "postgres":
            match = _PG_DATABASE.search(_cmdline(pid))
            if match is None or DATABASE in match.groups():
                postgres += _rss_kib(pid)
        elif name == "redis-server" and re.search(rf":{port}\b", _cmdline(pid)):
            redis_server += _rss_kib(pid)
    return {"postgres": postgres / 1024, "redis": redis_server / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5, help="predictions started per second")
    parser.add_argument("--threads", type=int, default=16, help="calls in flight at most")
    parser.add_argument("--warm-up", type=int, default=2, help="RSS growth is measured from the end of this minute")
    args = parser.parse_args()
    if args.minutes < 2 or args.rate <= 0 or not 1 <= args.warm_up < args.minutes:
        parser.error("--minutes must be 2 or more, --rate above 0, --warm-up at least 1 and below --minutes")
    redis_db = redis.Redis.from_url(REDIS_URL)

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
            rss.append({**platform.rss_mib(), **_own_servers_mib()})
            stats = percentiles(latencies) if latencies else {}
            timing = fmt({k: stats[k] for k in ("p50", "p99")}) if stats else "no calls ended"
            memory = "  ".join(f"{role} {mib:.1f}" for role, mib in rss[-1].items())
            keys = redis_db.dbsize()
            print(
                f"  min {minute:3d}  sent {sent:4d}  errors {minute_errors:3d}  {timing}  {memory}  keys {keys}",
                flush=True,
            )
        pool.shutdown(wait=False, cancel_futures=True)  # stragglers fail once the platform stops
    base = rss[args.warm_up - 1]
    growth = "  ".join(f"{role} {(rss[-1][role] / base[role] - 1) * 100:+.1f}%" for role in base if base[role])
    print(f"  RSS growth, minute {args.warm_up} to {args.minutes}: {growth}")
    print(f"  errors: {errors}" + (f" (first: {first_error})" if first_error else ""))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
