"""The text-generation model on this machine: runner cold boot, and tokens/s through Hearth
(the official client's `stream()` over SSE, Daphne + Celery worker + runner) and through the
runner alone, versus bare model.generate() and the streaming predictor in-process, on the
tiny random-weight model of zoo/text-generation/tiny_model.py (no real weights can be
downloaded here). Prints figures; it is not a pass/fail test.

Two rates per row: `whole` counts the whole call (prompt, queueing, connection, first token
included); `decode` counts the tokens after the first over the time from the first to the
last, the rate at which a reader sees text appear. Time to the first token is printed apart.

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
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "zoo" / "text-generation"
sys.path.insert(0, str(REPO_ROOT))

from inference.runtime.runner import Runner  # noqa: E402
from platform_support import bench_platform  # noqa: E402
from replicate.stream import ServerSentEvent  # noqa: E402

OUTPUT = ServerSentEvent.EventType.OUTPUT

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


@dataclass
class Rates:
    whole: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)

    def add(self, tokens: int, started: float, arrivals: list[float], ended: float) -> None:
        self.whole.append(tokens / (ended - started))
        self.decode.append((tokens - 1) / (arrivals[-1] - arrivals[0]))
        self.first_token.append(arrivals[0] - started)


def through_runner(model_dir: Path, tokens: int, repeat: int) -> tuple[Rates, str]:
    """As the worker sees a prediction: the runner's output messages, and the text."""
    runner = start_runner(model_dir)
    rates = Rates()
    try:
        for index in range(repeat + 1):  # the first one warms up
            arrivals: list[float] = []
            started = time.perf_counter()
            result = runner.predict(
                prediction_id=f"bench{index}",
                input={"prompt": PROMPT, "max_tokens": tokens, "temperature": 0},
                on_output=lambda _chunk, arrivals=arrivals: arrivals.append(time.perf_counter()),
            )
            ended = time.perf_counter()
            assert result.status == "succeeded", result.error
            if index:
                rates.add(tokens, started, arrivals, ended)
    finally:
        runner.stop()
    return rates, "".join(result.output)


def through_hearth(model_dir: Path, tokens: int, repeat: int) -> tuple[Rates, str]:
    """As a client of the platform sees it: `replicate.stream()` over SSE, and the text."""
    os.environ["HEARTH_TEXT_MODEL"] = str(model_dir)  # the worker's runners load this model
    rates = Rates()
    with bench_platform({"text-generation": PACKAGE}) as platform:
        client = platform.client()
        for index in range(repeat + 1):  # the first one boots the runner
            chunks, arrivals = [], []
            started = time.perf_counter()
            for event in client.stream(
                "bench/text-generation", input={"prompt": PROMPT, "max_tokens": tokens, "temperature": 0}
            ):
                if event.event == OUTPUT:
                    arrivals.append(time.perf_counter())
                    chunks.append(event.data)
            ended = time.perf_counter()
            if index:
                rates.add(tokens, started, arrivals, ended)
    return rates, "".join(chunks)


def in_process(model_dir: Path, tokens: int, repeat: int) -> tuple[Rates, Rates, str]:
    """Bare model.generate() and the predictor called here, and the text.

    generate() streams nothing, so its first token is timed as a call for one token, and
    its decode rate is that of the remaining tokens."""
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
    bare, streaming = Rates(), Rates()
    for index in range(repeat + 1):
        started = time.perf_counter()
        model.generate(**inputs, max_new_tokens=1, do_sample=False)
        first_token = time.perf_counter()
        started_all = time.perf_counter()
        output = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
        ended = time.perf_counter()
        chunks, arrivals = [], []
        started_streaming = time.perf_counter()
        with quiet:
            for chunk in predictor.predict(prompt=PROMPT, system_prompt="", **settings):
                arrivals.append(time.perf_counter())
                chunks.append(chunk)
        ended_streaming = time.perf_counter()
        streamed = "".join(chunks)
        if index:
            bare.whole.append(tokens / (ended - started_all))
            bare.decode.append((tokens - 1) / (ended - started_all - (first_token - started)))
            bare.first_token.append(first_token - started)
            streaming.add(tokens, started_streaming, arrivals, ended_streaming)
    new = output[0, inputs["input_ids"].shape[-1] :]
    assert len(new) == tokens, "the model ended early: the rates would not compare"
    text = tokenizer.decode(new, skip_special_tokens=True)
    assert streamed == text, "the predictor and model.generate() wrote different text"
    return bare, streaming, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boots", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = load_package_module("tiny_model").build(Path(scratch) / "tiny-model")
        totals, setups = cold_boots(model_dir, args.boots)
        hearth, hearth_text = through_hearth(model_dir, args.tokens, args.repeat)
        runner, runner_text = through_runner(model_dir, args.tokens, args.repeat)
        bare, streaming, bare_text = in_process(model_dir, args.tokens, args.repeat)
    assert runner_text == bare_text == hearth_text, "the platform and model.generate() wrote different text"

    median = statistics.median
    print(
        f"runner cold boot (Runner.start): median {median(totals):.2f} s of {args.boots} "
        f"(min {min(totals):.2f}, max {max(totals):.2f}), of which setup() {median(setups):.2f} s"
    )
    print(f"{args.tokens} tokens greedy, medians of {args.repeat}; % of bare model.generate():")
    print(f"  {'':40} {'whole tok/s':>11} {'':5} {'decode tok/s':>12} {'':5} {'first token':>11}")
    for name, rates in [
        ("bare model.generate() in-process", bare),
        ("the predictor in-process (streamed)", streaming),
        ("through the runner (streamed)", runner),
        ("through Hearth (replicate.stream, SSE)", hearth),
    ]:
        whole, decode = median(rates.whole), median(rates.decode)
        print(
            f"  {name:40} {whole:11.1f} {whole / median(bare.whole):5.0%} {decode:12.1f} "
            f"{decode / median(bare.decode):5.0%} {median(rates.first_token) * 1000:8.1f} ms"
        )


if __name__ == "__main__":
    main()
