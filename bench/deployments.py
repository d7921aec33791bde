"""Deployments: what a kept-warm instance saves, and how throughput scales with workers. Prints
figures; it is not a pass/fail test.

    .venv/bin/python bench/deployments.py [--runs 5] [--total 40]

(a) Time to first output of zoo/text-generation (transformers, tiny random weights: its boot is
    the real one of loading torch and a model) through a deployment with min_instances 1, against
    the same model pushed as its own version with no deployment, idle past its 1 s idle timeout
    before each run so that each of its predictions boots cold. Both stream; the clock runs from
    the create request to the first token on the SSE stream.
(b) Throughput of one SKU with 1 and then 2 worker processes: `--total` predictions of a model
    that sleeps 0.5 s (the time a GPU model spends in its kernels), all created at once, timed
    to the last completion (server timestamps); the ratio is the scaling.
"""

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from platform_support import REPO_ROOT, bench_platform, fmt, percentiles

TEXT_GENERATION = REPO_ROOT / "zoo" / "text-generation"
SLEEPER = REPO_ROOT / "tests" / "fixtures" / "models" / "sleeper"
sys.path.insert(0, str(REPO_ROOT))


def _variant(source: Path, directory: Path, tag: str) -> Path:
    """`source` with a comment of its own: another version id, so a runner of its own."""
    shutil.copytree(source, directory)
    with (directory / "predict.py").open("a") as predictor:
        predictor.write(f"\n# {tag}\n")
    return directory


def _first_token_seconds(create) -> tuple[float, bool]:
    started = time.perf_counter()
    prediction = create()
    for _ in prediction.stream():
        first = time.perf_counter() - started
        break
    prediction.wait()
    prediction.reload()
    return first, bool(prediction.metrics.get("cold_boot"))


def time_to_first_output(runs: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    tiny = scratch / "tiny-llm"
    sys.path.insert(0, str(TEXT_GENERATION))
    from tiny_model import build  # zoo/text-generation's own builder of tiny random weights

    build(tiny)
    models = {
        "warm": _variant(TEXT_GENERATION, scratch / "warm", "warm"),
        "cold": _variant(TEXT_GENERATION, scratch / "cold", "cold"),
    }
    env = {"HEARTH_TEXT_MODEL": str(tiny), "KEEP_WARM_INTERVAL_SECONDS": "1"}
    with bench_platform(models, extra_env=env) as platform:
        platform.manage("shell", "-c", "from inference.models import Model; Model.objects.update(idle_timeout=1)")
        client = platform.client()
        warm_version = client.models.get("bench/warm").latest_version.id
        cold_version = client.models.get("bench/cold").latest_version.id
        client.deployments.create(
            name="warm", model="bench/warm", version=warm_version, hardware="cpu", min_instances=1, max_instances=1
        )
        _wait_for_instance(platform)
        text = {"prompt": "hello", "max_new_tokens": 8}
        deployed, cold = [], []
        for _ in range(runs):
            time.sleep(3)  # past the 1 s idle timeout: the plain model's runner is gone
            deployed.append(
                _first_token_seconds(
                    lambda: client.deployments.predictions.create("bench/warm", input=text, stream=True)
                )
            )
            cold.append(
                _first_token_seconds(lambda: client.predictions.create(version=cold_version, input=text, stream=True))
            )
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"(a) time to first token, zoo/text-generation (tiny weights), {runs} runs each, idle 3 s before each")
    for label, samples in (("deployment, min_instances 1", deployed), ("model, cold after idle", cold)):
        seconds = [s for s, _ in samples]
        boots = sum(cold_boot for _, cold_boot in samples)
        print(f"  {label:30s}: {fmt(percentiles(seconds))}  cold boots: {boots}/{len(samples)}")


def _wait_for_instance(platform) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        figures = httpx.get(f"{platform.url}/metrics/scaling").json()["deployments"].get("bench/warm")
        if figures and figures["instances"]["warm"] >= 1:
            return
        time.sleep(0.2)
    raise SystemExit("the deployment's instance did not boot within 120 s")


def throughput(total: int) -> None:
    rates = {}
    for workers in (1, 2):
        with bench_platform({"sleeper": SLEEPER}, workers=workers) as platform:
            client = platform.client()
            for _ in range(workers):  # boot a runner on each worker first: time steady state only
                client.run("bench/sleeper", input={"seconds": 0})
            _boot_every_worker(client, workers)
            made = [client.predictions.create(model="bench/sleeper", input={"seconds": 0.5}) for _ in range(total)]
            for prediction in made:
                prediction.wait()
                assert prediction.status == "succeeded", prediction.error
            # The server's clock, from the first create to the last completion: the client's
            # wait() sleeps a 0.5 s poll interval per prediction, which would dominate.
            first = min(_moment(prediction.created_at) for prediction in made)
            last = max(_moment(prediction.completed_at) for prediction in made)
            rates[workers] = total / (last - first)
    print(f"(b) throughput, {total} predictions of 0.5 s each created at once, one SKU (cpu)")
    for workers, rate in rates.items():
        print(f"  {workers} worker process(es): {rate:5.2f} predictions/s")
    print(f"  scaling ratio 2/1: {rates[2] / rates[1]:.2f}")


def _moment(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _boot_every_worker(client, workers: int) -> None:
    """Enough short predictions at once that each worker takes one and boots its runner."""
    made = [client.predictions.create(model="bench/sleeper", input={"seconds": 1}) for _ in range(workers * 2)]
    for prediction in made:
        prediction.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--total", type=int, default=40)
    args = parser.parse_args()
    time_to_first_output(args.runs)
    throughput(args.total)


if __name__ == "__main__":
    main()
