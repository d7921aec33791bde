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
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "zoo" / "text-generation"
sys.path.insert(0, str(REPO_ROOT))

from platform_support import bench_platform  # noqa: E402
from replicate.stream import ServerSentEvent  # noqa: E402

from inference.runtime.runner import Runner  # noqa: E402
from tests.zoo.packages import load_package_module  # noqa: E402

OUTPUT = ServerSentEvent.EventType.OUTPUT

PROMPT = "what is a model?"


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


@dataclass
class Run:
    """One generation as its reader saw it: when it began, when each chunk came, the text."""

    started: float
    arrivals: list[float]
    ended: float
    text: str


def timed(chunks: Iterable[str]) -> Run:
    started, arrivals, texts = time.perf_counter(), [], []
    for chunk in chunks:
        arrivals.append(time.perf_counter())
        texts.append(chunk)
    return Run(started, arrivals, time.perf_counter(), "".join(texts))


class Bare:
    """model.generate() called here. It streams nothing, so its first token is timed as a
    call for one token, and its decode rate is that of the remaining tokens."""

    def __init__(self, predictor, tokens: int) -> None:
        self.tokenizer, self.model, self.tokens = predictor.tokenizer, predictor.model, tokens
        self.inputs = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )

    def measure(self, rates: Rates) -> str:
        started = time.perf_counter()
        self.model.generate(**self.inputs, max_new_tokens=1, do_sample=False)
        first_token = time.perf_counter() - started
        started = time.perf_counter()
        output = self.model.generate(**self.inputs, max_new_tokens=self.tokens, do_sample=False)
        elapsed = time.perf_counter() - started
        rates.whole.append(self.tokens / elapsed)
        rates.decode.append((self.tokens - 1) / (elapsed - first_token))
        rates.first_token.append(first_token)
        new = output[0, self.inputs["input_ids"].shape[-1] :]
        assert len(new) == self.tokens, "the model ended early: the rates would not compare"
        return self.tokenizer.decode(new, skip_special_tokens=True)


def in_process_predictor(model_dir: Path):
    os.environ["HEARTH_TEXT_MODEL"] = str(model_dir)
    predictor = load_package_module(PACKAGE, "predict").Predictor()
    with contextlib.redirect_stdout(io.StringIO()):  # its logs, which the runner would collect
        predictor.setup()
    return predictor


def streamed_in_process(predictor, tokens: int) -> Run:
    settings = {"max_tokens": tokens, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop_sequences": "", "messages": ""}
    with contextlib.redirect_stdout(io.StringIO()):
        return timed(predictor.predict(prompt=PROMPT, system_prompt="", **settings))


def streamed_through_runner(runner: Runner, tokens: int) -> Run:
    """As the worker sees a prediction: the runner's output messages."""
    chunks, arrivals = [], []

    def on_output(chunk: str) -> None:
        arrivals.append(time.perf_counter())
        chunks.append(chunk)

    started = time.perf_counter()
    result = runner.predict(
        prediction_id=f"bench-{time.monotonic_ns()}",
        input={"prompt": PROMPT, "max_tokens": tokens, "temperature": 0},
        on_output=on_output,
    )
    assert result.status == "succeeded", result.error
    return Run(started, arrivals, time.perf_counter(), "".join(chunks))


def streamed_through_hearth(client, tokens: int) -> Run:
    """As a client of the platform sees it: `replicate.stream()` over SSE."""
    events = client.stream("bench/text-generation", input={"prompt": PROMPT, "max_tokens": tokens, "temperature": 0})
    return timed(event.data for event in events if event.event == OUTPUT)


def settle() -> None:
    """Lets the platform finish the last prediction (its final writes, the stream's expiry)
    before the next way is timed: on two cores that tail slowed whichever came next."""
    time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--hidden-size", type=int, default=64, help="of the random model (64: the tests' tiny one)")
    parser.add_argument("--layers", type=int, default=2, help="of the random model")
    args = parser.parse_args()

    rates = {name: Rates() for name in WAYS}
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = load_package_module(PACKAGE, "tiny_model").build(
            Path(scratch) / "tiny-model", hidden_size=args.hidden_size, layers=args.layers
        )
        totals, setups = cold_boots(model_dir, args.boots)
        os.environ["HEARTH_TEXT_MODEL"] = str(model_dir)  # the platform worker's runners load it too
        with bench_platform({"text-generation": PACKAGE}) as platform:
            client, runner = platform.client(), start_runner(model_dir)
            predictor = in_process_predictor(model_dir)
            bare = Bare(predictor, args.tokens)
            try:
                # Each round runs every way once, so a machine that slows down for a while
                # slows all of them alike; the first round boots the platform's runner.
                for index in range(args.repeat + 1):
                    settle()
                    text = bare.measure(rates[WAYS[0]] if index else Rates())
                    for name, way in (
                        (WAYS[1], lambda: streamed_in_process(predictor, args.tokens)),
                        (WAYS[2], lambda: streamed_through_runner(runner, args.tokens)),
                        (WAYS[3], lambda: streamed_through_hearth(client, args.tokens)),
                    ):
                        settle()
                        run = way()
                        assert run.text == text, f"{name} wrote other text than model.generate()"
                        if index:
                            rates[name].add(args.tokens, run.started, run.arrivals, run.ended)
            finally:
                runner.stop()

    median = statistics.median
    bare_rates = rates[WAYS[0]]

    def share(way: Rates, reference: Rates, rate: str) -> float:
        # Each round's ratio, then the median: rounds run side by side, so the machine's
        # drift between rounds (20% within minutes here) cancels out.
        pairs = zip(getattr(way, rate), getattr(reference, rate), strict=True)
        return median(mine / theirs for mine, theirs in pairs)

    print(
        f"runner cold boot (Runner.start): median {median(totals):.2f} s of {args.boots} "
        f"(min {min(totals):.2f}, max {max(totals):.2f}), of which setup() {median(setups):.2f} s"
    )
    print(f"random Llama, hidden size {args.hidden_size}, {args.layers} layers")
    print(f"{args.tokens} tokens greedy, {args.repeat} rounds: medians, and the median of each round's share of bare")
    print(f"  {'':40} {'whole tok/s':>11} {'':5} {'decode tok/s':>12} {'':5} {'first token':>11}")
    for name in WAYS:
        way = rates[name]
        print(
            f"  {name:40} {median(way.whole):11.1f} {share(way, bare_rates, 'whole'):5.0%} "
            f"{median(way.decode):12.1f} {share(way, bare_rates, 'decode'):5.0%} "
            f"{median(way.first_token) * 1000:8.1f} ms"
        )
    # The platform's own share, apart from the predictor's.
    hearth, predictor = rates[WAYS[3]], rates[WAYS[1]]
    print(
        f"through Hearth against the same predictor in-process: {share(hearth, predictor, 'whole'):.0%} whole, "
        f"{share(hearth, predictor, 'decode'):.0%} decode"
    )


WAYS = (
    "bare model.generate() in-process",
    "the predictor in-process (streamed)",
    "through the runner (streamed)",
    "through Hearth (replicate.stream, SSE)",
)


if __name__ == "__main__":
    main()
