"""Token streaming through Hearth: a 200-token no-op generator read over SSE with the official
client's `stream()`, versus iterating the same generator in-process. Prints time to first
token and the latency each token gains on the way (the model stamps each token with the
wall clock; reader and model share this machine's clock). Not a pass/fail test.

    .venv/bin/python bench/streaming.py [--runs 20] [--tokens 200]
"""

import argparse
import sys
import time

from platform_support import REPO_ROOT, bench_platform, cpu_per_item, fmt, percentiles
from replicate.stream import ServerSentEvent

CLOCK = REPO_ROOT / "bench" / "models" / "clock"
OUTPUT = ServerSentEvent.EventType.OUTPUT


def through_sse(client, tokens: int, interval: float) -> tuple[float, list[float], float]:
    started = time.time()
    first, delays = None, []
    for event in client.stream("bench/clock", input={"tokens": tokens, "interval": interval}):
        if event.event == OUTPUT:
            now = time.time()
            first = first or now - started
            delays.append(now - float(event.data))
    return first, delays, time.time() - started


def in_process(tokens: int, interval: float) -> tuple[float, list[float], float]:
    sys.path.insert(0, str(CLOCK))
    from predict import Predictor

    predictor = Predictor()
    started = time.time()
    first, delays = None, []
    for stamp in predictor.predict(tokens=tokens, interval=interval):
        now = time.time()
        first = first or now - started
        delays.append(now - float(stamp))
    return first, delays, time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between tokens in the model")
    args = parser.parse_args()

    with bench_platform({"clock": CLOCK}) as platform:
        client = platform.client()
        through_sse(client, 5, 0)  # warm-up: boots the runner
        cpu_before = platform.cpu_seconds()
        results = [through_sse(client, args.tokens, args.interval) for _ in range(args.runs)]
        cpu_used = cpu_per_item(cpu_before, platform.cpu_seconds(), args.tokens * args.runs)
        local = [in_process(args.tokens, args.interval) for _ in range(args.runs)]
    print(f"{args.tokens}-token no-op generator, {args.runs} runs, interval {args.interval * 1000:g} ms")
    for label, runs in (("SSE via Hearth", results), ("in-process    ", local)):
        ttft = percentiles([r[0] for r in runs])
        delays = percentiles([d for r in runs for d in r[1]])
        total = percentiles([r[2] for r in runs])
        print(f"  {label} time to first token: {fmt(ttft)}")
        print(f"  {label} per-token delay    : {fmt(delays)}")
        print(f"  {label} whole stream       : {fmt(total)}")
    print(f"  CPU ms per token through Hearth: {cpu_used}")


if __name__ == "__main__":
    main()
