"""The text-generation model on this machine: runner cold boot, and tokens/s through the
runner versus bare model.generate() and the streaming predictor in-process, on the tiny
random-weight model of zoo/text-generation/tiny_model.py (no real weights can be downloaded
here). Prints figures; it is not a pass/fail test.

    .venv/bin/python bench/text_generation.py [--tokens 200] [--repeat 5] [--boots 3]
"""

import argparse
import contextlib
import importlib.util
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "zoo" / "text-generation"
sys.path.insert(0, str(REPO_ROOT))

from inference.runtime.runner import Runner  # noqa: E402

PROMPT = "what is a model?"


def load_package_module(name: str):
    # By path: the package's directory name is no Python package name.
    spec = importlib.util.spec_from_file_location(f"text_generation_{name}", PACKAGE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_runner(model_dir: Path) -> Runner:
    return Runner.start(
        project_dir=PACKAGE, predictor_ref="predict.py:Predictor", env={"HEARTH_TEXT_MODEL": str(model_dir)}
    )


def cold_boots(model_dir: Path, boots: int) -> tuple[list[float], list[float]]:
    """Runner.start() times, and the share of each spent in the predictor's setup()."""
    totals, setups = [], []
    for _ in range(boots):
        started = time.perf_counter()
        runner = start_runner(model_dir)
        totals.append(time.perf_counter() - started)
        setups.append(runner.setup_time)
        runner.stop()
    return totals, setups


def through_runner(model_dir: Path, tokens: int, repeat: int) -> tuple[list[float], list[float], str]:
    """tokens/s of whole predictions as the worker sees them, time to the first chunk, the text."""
    runner = start_runner(model_dir)
    rates, first_chunks = [], []
    try:
        for index in range(repeat + 1):  # the first one warms up
            arrivals: list[float] = []
            started = time.perf_counter()
            result = runner.predict(
                prediction_id=f"bench{index}",
                input={"prompt": PROMPT, "max_tokens": tokens, "temperature": 0},
                on_output=lambda _chunk, arrivals=arrivals: arrivals.append(time.perf_counter()),
            )
            elapsed = time.perf_counter() - started
            assert result.status == "succeeded", result.error
            if index:
                rates.append(tokens / elapsed)
                first_chunks.append(arrivals[0] - started)
    finally:
        runner.stop()
    return rates, first_chunks, "".join(result.output)


def in_process(model_dir: Path, tokens: int, repeat: int) -> tuple[list[float], list[float], str]:
    """tokens/s of bare model.generate() and of the predictor called here, and the text."""
    os.environ["HEARTH_TEXT_MODEL"] = str(model_dir)
    predictor = load_package_module("predict").Predictor()
    quiet = contextlib.redirect_stdout(io.StringIO())  # its logs, which the runner would collect
    with quiet:
        predictor.setup()
    tokenizer, model = predictor.tokenizer, predictor.model
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    settings = {"max_tokens": tokens, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop_sequences": ""}
    bare_rates, predictor_rates = [], []
    for index in range(repeat + 1):
        started = time.perf_counter()
        output = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        with quiet:
            streamed = "".join(predictor.predict(prompt=PROMPT, system_prompt="", **settings))
        predicted = time.perf_counter() - started
        if index:
            bare_rates.append(tokens / bare)
            predictor_rates.append(tokens / predicted)
    new = output[0, inputs["input_ids"].shape[-1] :]
    assert len(new) == tokens, "the model ended early: the rates would not compare"
    text = tokenizer.decode(new, skip_special_tokens=True)
    assert streamed == text, "the predictor and model.generate() wrote different text"
    return bare_rates, predictor_rates, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boots", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = load_package_module("tiny_model").build(Path(scratch) / "tiny-model")
        totals, setups = cold_boots(model_dir, args.boots)
        runner_rates, first_chunks, runner_text = through_runner(model_dir, args.tokens, args.repeat)
        bare_rates, predictor_rates, bare_text = in_process(model_dir, args.tokens, args.repeat)
    assert runner_text == bare_text, "the runner and model.generate() wrote different text"

    median = statistics.median
    bare = median(bare_rates)
    print(
        f"runner cold boot (Runner.start): median {median(totals):.2f} s of {args.boots} "
        f"(min {min(totals):.2f}, max {max(totals):.2f}), of which setup() {median(setups):.2f} s"
    )
    print(f"{args.tokens} tokens greedy, tokens/s, median (min-max) of {args.repeat}:")
    for name, rates in [
        ("bare model.generate() in-process", bare_rates),
        ("the predictor in-process (streamed)", predictor_rates),
        ("through the runner (streamed)", runner_rates),
    ]:
        spread = f"({min(rates):.0f}-{max(rates):.0f})"
        print(f"  {name:37} {median(rates):7.1f} {spread:11} {median(rates) / bare:4.0%} of bare")
    print(f"first chunk through the runner after {median(first_chunks) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
