"""The built-in text-generation model, run through the real runner as the platform runs it.

No weights can be downloaded here, so the model is a tiny random-weight one built locally
(zoo/text-generation/tiny_model.py): it talks nonsense, through the real transformers code.
"""

import itertools
import json
import re
import subprocess
import sys
import threading
import time

import pytest
import torch

from inference.runtime.runner import Runner, RunnerSetupError
from tests.zoo.packages import REF, ZOO, load_package_module, set_up_in_process, started_runner

PACKAGE = ZOO / "text-generation"
PROMPT = "what is a model?"
_ids = itertools.count()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return load_package_module(PACKAGE, "tiny_model").build(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def runner(model_dir):
    with started_runner(PACKAGE, {"HEARTH_TEXT_MODEL": str(model_dir)}) as runner:
        yield runner


@pytest.fixture(scope="module")
def local(model_dir):
    """The same predictor in this process, for what the runner cannot show."""
    return set_up_in_process(load_package_module(PACKAGE, "predict"), {"HEARTH_TEXT_MODEL": str(model_dir)})


def generate(runner: Runner, on_output=None, **input):
    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"prompt": PROMPT, **input}, on_output=on_output)
    assert result.status == "succeeded", result.error
    return result


def text(result) -> str:
    return "".join(result.output)


def token_count(local, text: str) -> int:
    # Exact: the tiny tokenizer is word-level, so every generated token is one word of the text.
    return len(local.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_setup_logs_device_and_load_time(runner, model_dir):
    loaded = rf"Loaded {re.escape(str(model_dir))} on (cpu \(torch.float32\)|cuda \(torch.float16\)) in \d+\.\d+ s"
    assert re.search(loaded, runner.setup_logs)


def test_streams_the_decoded_text_chunk_by_chunk(runner, local):
    chunks, arrivals = [], []

    def on_output(chunk):
        arrivals.append(time.monotonic())
        chunks.append(chunk)

    started = time.monotonic()
    result = generate(runner, on_output, max_tokens=200, temperature=0)
    returned = time.monotonic()

    assert result.output == chunks
    assert len(chunks) >= 5
    # Streamed as generated: the first chunk comes long before the last token is written.
    assert arrivals[0] - started < (returned - started) / 2
    inputs = local.tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    ids = local.model.generate(**inputs, max_new_tokens=200, do_sample=False)
    prompt_length = inputs["input_ids"].shape[-1]
    assert text(result) == local.tokenizer.decode(ids[0, prompt_length:], skip_special_tokens=True)
    assert re.search(r"^Generated \d+ tokens in \d+\.\d+ s \(\d+\.\d tokens/s\)$", result.logs, re.MULTILINE)


def _text_chunks(local, interval: float):
    return load_package_module(PACKAGE, "predict")._TextChunks(local.tokenizer, interval=interval)


def test_text_written_faster_than_the_chunk_interval_goes_out_together(local):
    chunks = _text_chunks(local, interval=60)
    for piece in ("The ", "hearth ", "keeps "):
        chunks.on_finalized_text(piece)
    chunks.on_finalized_text("warm", stream_end=True)

    # The first piece goes at once; the rest waited for the interval, and the end flushed them.
    assert list(chunks) == ["The ", "hearth keeps warm"]


def test_text_written_slower_than_the_chunk_interval_goes_out_piece_by_piece(local):
    chunks = _text_chunks(local, interval=0)
    for piece in ("The ", "hearth ", "keeps "):
        chunks.on_finalized_text(piece)
    chunks.on_finalized_text("warm", stream_end=True)

    assert list(chunks) == ["The ", "hearth ", "keeps ", "warm"]


@pytest.mark.parametrize("cleans_up_spaces", [False, True], ids=["decoded-once-a-token", "textstreamer-decoding"])
def test_chunks_join_into_the_decoded_text(local, monkeypatch, cleans_up_spaces):
    # A tokenizer that cleans up spaces after decoding keeps TextStreamer's way of decoding.
    monkeypatch.setattr(local.tokenizer, "clean_up_tokenization_spaces", cleans_up_spaces)
    ids = local.tokenizer("The hearth keeps the house warm .", add_special_tokens=False)["input_ids"]
    chunks = _text_chunks(local, interval=0)
    chunks.put(torch.tensor([[ids[0]]]))  # generate() hands over the prompt first: not text
    for token_id in ids:
        chunks.put(torch.tensor([token_id]))
    chunks.end()

    assert "".join(chunks) == local.tokenizer.decode(ids, skip_special_tokens=True)


def test_max_tokens_bounds_the_answer(runner, local):
    short = generate(runner, max_tokens=3, temperature=0)
    long = generate(runner, max_tokens=20, temperature=0)

    assert 0 < token_count(local, text(short)) <= 3
    assert token_count(local, text(short)) < token_count(local, text(long)) <= 20
    assert text(long).startswith(text(short))


def test_the_same_seed_samples_the_same_text(runner):
    first = generate(runner, max_tokens=16, temperature=1.0, seed=7)
    again = generate(runner, max_tokens=16, temperature=1.0, seed=7)
    other = generate(runner, max_tokens=16, temperature=1.0, seed=8)

    assert text(first) == text(again)
    assert text(other) != text(first)
    assert "Using seed: 7" in first.logs


def test_greedy_ignores_the_seed(runner):
    first = generate(runner, max_tokens=16, temperature=0, seed=1)
    second = generate(runner, max_tokens=16, temperature=0, seed=2)

    assert text(first) == text(second)


def test_a_stop_sequence_ends_the_answer_before_it(runner):
    full = text(generate(runner, max_tokens=24, temperature=0))
    words = full.split(" ")
    # Two words, so the stop sequence spans two streamed chunks.
    stop = " ".join(words[4:6])

    cut = generate(runner, max_tokens=24, temperature=0, stop_sequences=f"never said,{stop}")

    assert text(cut) == full[: full.index(stop)]
    assert full.index(stop) > 0


def test_cancel_stops_generation_and_keeps_the_runner(runner):
    prediction_id = f"p{next(_ids)}"
    started = time.monotonic()
    result = runner.predict(
        prediction_id=prediction_id,
        input={"prompt": PROMPT, "max_tokens": 4096, "temperature": 0},
        on_output=lambda chunk: runner.cancel(prediction_id),
    )

    assert result.status == "canceled"
    # Past the runner's grace period the child would have been killed instead.
    assert time.monotonic() - started < 2
    assert runner.is_alive()
    generate(runner, max_tokens=4)


def test_a_reader_going_away_stops_generation(local):
    stream = local.predict(
        prompt=PROMPT,
        system_prompt="",
        max_tokens=4096,
        temperature=0,
        top_p=0.95,
        seed=None,
        stop_sequences="",
        messages="",
    )
    next(stream)
    started = time.monotonic()
    stream.close()

    # Generating all 4096 tokens would take several seconds.
    assert time.monotonic() - started < 1
    assert not [thread for thread in threading.enumerate() if thread.name == "text-generation"]


def test_without_a_chat_template_the_system_prompt_comes_first(local, monkeypatch):
    monkeypatch.setattr(local.tokenizer, "chat_template", None)

    inputs = local._encode("what is a model?", "be brief")

    assert local.tokenizer.decode(inputs["input_ids"][0]) == local.tokenizer.decode(
        local.tokenizer("be brief\n\nwhat is a model?")["input_ids"]
    )


def test_a_missing_model_directory_fails_setup(tmp_path):
    missing = tmp_path / "no-model"
    with pytest.raises(RunnerSetupError, match=rf"Setup failed: HEARTH_TEXT_MODEL={re.escape(str(missing))}: no such"):
        Runner.start(project_dir=PACKAGE, predictor_ref=REF, env={"HEARTH_TEXT_MODEL": str(missing)})


def test_schema():
    completed = subprocess.run(
        [sys.executable, "-m", "inference.runtime.schema", str(PACKAGE), REF],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    schemas = json.loads(completed.stdout)["components"]["schemas"]

    assert schemas["Output"] == {
        "items": {"type": "string"},
        "type": "array",
        "title": "Output",
        "x-cog-array-display": "concatenate",
        "x-cog-array-type": "iterator",
    }
    inputs = schemas["Input"]
    assert inputs["required"] == ["prompt"]
    bounds = {
        name: {key: spec[key] for key in ("type", "default", "minimum", "maximum") if key in spec}
        for name, spec in inputs["properties"].items()
    }
    assert bounds == {
        "prompt": {"type": "string"},
        "system_prompt": {"type": "string", "default": ""},
        "max_tokens": {"type": "integer", "default": 256, "minimum": 1, "maximum": 4096},
        "temperature": {"type": "number", "default": 0.7, "minimum": 0, "maximum": 5},
        "top_p": {"type": "number", "default": 0.95, "minimum": 0.01, "maximum": 1},
        "seed": {"type": "integer"},
        "stop_sequences": {"type": "string", "default": ""},
        "messages": {"type": "string", "default": ""},
    }
