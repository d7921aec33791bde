"""Text generation with a Hugging Face causal language model, streamed as it is written.

HEARTH_TEXT_MODEL names the weights: a Hugging Face Hub id or a local directory written by
save_pretrained. Set it in the worker's environment, or in cog.yaml's `environment:` (which
takes precedence) to pin it in the package.

A version trained by train.py gets its LoRA adapter as setup()'s `weights` (Cog hands the
trained weights over in COG_WEIGHTS): it is merged into the base model once, so predictions
run at the base model's speed.
"""

import json
import os
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from cog import BasePredictor, ConcatenateIterator, Input, current_scope
from tokenizers.decoders import DecodeStream
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BatchEncoding,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
    set_seed,
)

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
# Text written within this long of the last chunk goes out with the next token (_TextChunks):
# one frame of a 60 Hz screen, so no reader can see text sooner than it shows.
CHUNK_INTERVAL_SECONDS = 0.016


class Predictor(BasePredictor):
    def setup(self, weights: Path | str | None = None) -> None:
        source = model_source()
        started = time.perf_counter()
        device = "cuda" if torch.cuda.is_available() else "cpu"
        # Half precision halves GPU memory and time; CPUs have no fast float16 kernels.
        dtype = torch.float16 if device == "cuda" else torch.float32
        if device == "cpu":
            # generate() runs on a thread of its own while this process streams the text out:
            # leave that a core. On 2 cores, token-by-token decoding was no faster on two
            # torch threads than on one, and 7-25% slower beside the reading thread.
            torch.set_num_threads(max(1, torch.get_num_threads() - 1))
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)
        print(f"Loaded {source} on {device} ({dtype}) in {time.perf_counter() - started:.2f} s")
        # Cog's runtime passes COG_WEIGHTS in; read it here too for callers of setup() that do not.
        weights = weights or os.environ.get("COG_WEIGHTS") or None
        if weights is not None:
            self.model = _with_adapter_merged(self.model, weights)

    def predict(
        self,
        prompt: str = Input(description="What to ask the model"),
        system_prompt: str = Input(description="Instructions that come before the prompt", default=""),
        max_tokens: int = Input(description="Most tokens to generate", default=256, ge=1, le=4096),
        temperature: float = Input(
            description="Randomness of sampling; 0 always takes the likeliest token", default=0.7, ge=0, le=5
        ),
        top_p: float = Input(
            description="Sample only from the likeliest tokens that together hold this probability",
            default=0.95,
            ge=0.01,
            le=1,
        ),
        seed: int = Input(description="Random seed, for repeatable sampling; empty for a random one", default=None),
        stop_sequences: str = Input(
            description="Comma-separated texts that end the answer when generated; they are not returned",
            default="",
        ),
        messages: str = Input(
            description='A whole conversation as JSON, [{"role": "system"|"user"|"assistant", "content": "..."}, ...]: '
            "the model answers its last message, and prompt and system_prompt are not used",
            default="",
        ),
    ) -> ConcatenateIterator[str]:
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "big")
        print(f"Using seed: {seed}")
        set_seed(seed)
        settings = {"max_new_tokens": max_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            settings.update(temperature=temperature, top_p=top_p)
        # Models without a pad token pad with end-of-text; generate() warns on each call unless told.
        pad = self.tokenizer.pad_token_id
        settings["pad_token_id"] = self.tokenizer.eos_token_id if pad is None else pad
        if messages:
            inputs = encode_conversation(self.tokenizer, messages).to(self.model.device)
        else:
            inputs = self._encode(prompt, system_prompt).to(self.model.device)

        generation = _Generation(self.model, self.tokenizer, inputs, settings)
        stops = [stop for stop in stop_sequences.split(",") if stop]
        try:
            yield from _until_stop_sequence(generation.text, stops)
        finally:
            # At a stop sequence, on cancel, or when the reader goes away: stop generating now.
            generation.stop()
        generation.raise_failure()
        # As Replicate's language models report them: what OpenAI's `usage` is made of.
        current_scope().record_metric("input_token_count", inputs["input_ids"].shape[-1])
        current_scope().record_metric("output_token_count", generation.new_tokens)
        print(
            f"Generated {generation.new_tokens} tokens in {generation.elapsed:.2f} s "
            f"({generation.new_tokens / generation.elapsed:.1f} tokens/s)"
        )

    def _encode(self, prompt: str, system_prompt: str) -> BatchEncoding:
        return encode_prompt(self.tokenizer, prompt, system_prompt)


def encode_prompt(tokenizer, prompt: str, system_prompt: str) -> BatchEncoding:
    """The tokens the model answers after: the chat template's, ending where the answer starts.

    train.py teaches the model its completions after exactly these tokens."""
    if tokenizer.chat_template:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": prompt})
        return tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
    text = f"{system_prompt}\n\n{prompt}" if system_prompt else prompt
    return tokenizer(text, return_tensors="pt")


def model_source() -> str:
    source = os.environ.get("HEARTH_TEXT_MODEL") or DEFAULT_MODEL
    # from_pretrained takes a path it cannot find for a Hub id, and says the id is malformed.
    if source.startswith(("/", ".")) and not Path(source).is_dir():
        raise FileNotFoundError(f"HEARTH_TEXT_MODEL={source}: no such model directory")
    return source


def _with_adapter_merged(model, weights: Path | str):
    """`model` with the LoRA adapter that train.py wrote merged into its weights.

    `weights` is what Cog hands setup(): a local path or a URL (http, https or data) of the
    adapter's archive (.tar or .zip), or a directory holding adapter_config.json."""
    from peft import PeftModel  # only trained versions need it

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="text-generation-adapter-") as scratch:
        adapter = _adapter_directory(weights, Path(scratch))
        merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    print(f"Merged the LoRA adapter {weights} in {time.perf_counter() - started:.2f} s")
    return merged


def _adapter_directory(weights: Path | str, scratch: Path) -> Path:
    """The directory of the adapter that `weights` names, downloaded and unpacked into `scratch` as needed."""
    location = str(weights)
    if location.startswith(("http://", "https://", "data:")):
        downloaded = scratch / "weights"
        # The timeout is for a stalled connection (each read), not for the whole download.
        with urllib.request.urlopen(location, timeout=60) as response, downloaded.open("wb") as file:
            shutil.copyfileobj(response, file)
        path = downloaded
    else:
        path = Path(location.removeprefix("file://"))
    if path.is_file():
        unpacked = scratch / "adapter"
        unpacked.mkdir()
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                archive.extractall(unpacked, filter="data")  # no paths that leave the directory
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                archive.extractall(unpacked)  # zipfile drops ".." and leading "/" by itself
        else:
            raise ValueError(f"weights {weights}: neither a .tar nor a .zip of a LoRA adapter")
        path = unpacked
    if not path.is_dir():
        raise FileNotFoundError(f"weights {weights}: no such file or directory")
    # At the top of the archive, or in a folder of its own within it.
    configs = sorted(path.rglob("adapter_config.json"), key=lambda config: len(config.parts))
    if not configs:
        raise ValueError(f"weights {weights}: no adapter_config.json (not a LoRA adapter from train.py)")
    return configs[0].parent


def encode_conversation(tokenizer, messages: str) -> BatchEncoding:
    """The tokens the model answers a conversation after (the `messages` input, as JSON)."""
    try:
        turns = json.loads(messages)
    except ValueError as exc:
        raise ValueError(f"messages is not JSON: {exc}") from exc
    if not isinstance(turns, list) or not turns:
        raise ValueError("messages must be a non-empty list of {role, content}")
    for turn in turns:
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise ValueError("each of messages must be an object with a string content")
        if turn.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"a message's role must be system, user or assistant, not {turn.get('role')!r}")
    turns = [{"role": turn["role"], "content": turn["content"]} for turn in turns]
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(turns, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    # Without a chat template: the conversation as a transcript, ending where the answer starts.
    text = "".join(f"{turn['role']}: {turn['content']}\n" for turn in turns) + "assistant:"
    return tokenizer(text, return_tensors="pt")


class _Halt(StoppingCriteria):
    """Ends generate() after the current token once `event` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TextChunks(TextIteratorStreamer):
    """A TextIteratorStreamer that decodes each token once and hands text to its reader at
    most every `interval` seconds.

    TextStreamer decodes the whole answer again for every token (up to the last newline),
    which grows with the answer; a fast tokenizer's own DecodeStream decodes only what each
    token adds, and writes the same text.

    Each hand-over wakes the reading thread, which then takes the GIL from generate(), and
    becomes one message through every process of the platform (runner, worker, Redis, the
    web process, the client). With tokens coming every few milliseconds (a small model on
    a CPU), that cost the tiny test model 5-15% of its tokens/s at a 5 ms interval on two
    cores. Text that comes sooner waits for the next token, so it is late by less than one
    token's time; a model slower than `interval` a token sends every token the moment it
    is decoded.
    """

    def __init__(self, tokenizer, *, interval: float, skip_special_tokens: bool = True) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=skip_special_tokens)
        self._interval = interval
        self._held = ""
        self._handed_at = 0.0
        # Slow tokenizers have no DecodeStream; clean-up after decoding would change the text.
        cleans_up = getattr(tokenizer, "clean_up_tokenization_spaces", False)
        incremental = getattr(tokenizer, "is_fast", False) and not cleans_up
        self._decoder = DecodeStream(skip_special_tokens=skip_special_tokens) if incremental else None

    def put(self, value: torch.Tensor) -> None:
        if self._decoder is None:
            super().put(value)
            return
        if self.next_tokens_are_prompt:  # generate() hands over the prompt first
            self.next_tokens_are_prompt = False
            return
        for token_id in value.reshape(-1).tolist():
            # None while a token ends inside a character that the next one completes.
            text = self._decoder.step(self.tokenizer.backend_tokenizer, token_id)
            if text:
                self.on_finalized_text(text)

    def end(self) -> None:
        if self._decoder is None:
            super().end()
        else:
            self.on_finalized_text("", stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self._held += text
        now = time.monotonic()
        if self._held and (stream_end or now - self._handed_at >= self._interval):
            self.text_queue.put(self._held, timeout=self.timeout)
            self._held, self._handed_at = "", now
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)


class _Generation:
    """model.generate() on a thread of its own, so its text can be read while it is written."""

    def __init__(self, model, tokenizer, inputs: BatchEncoding, settings: dict) -> None:
        self.text = _TextChunks(tokenizer, interval=CHUNK_INTERVAL_SECONDS, skip_special_tokens=True)
        self.new_tokens = 0
        self.elapsed = 0.0
        self._halt = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(model, inputs, settings), name="text-generation", daemon=True
        )
        self._thread.start()

    def _run(self, model, inputs: BatchEncoding, settings: dict) -> None:
        started = time.perf_counter()
        try:
            output = model.generate(
                **inputs,
                **settings,
                streamer=self.text,
                stopping_criteria=StoppingCriteriaList([_Halt(self._halt)]),
            )
            self.new_tokens = output.shape[-1] - inputs["input_ids"].shape[-1]
        except BaseException as exc:
            self._failure = exc
            self.text.end()  # generate() did not, and the reader would wait for it forever
        self.elapsed = time.perf_counter() - started

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def _until_stop_sequence(chunks: Iterable[str], stops: list[str]) -> Iterator[str]:
    """The chunks, ended just before the first stop sequence.

    A chunk's tail that could be the start of a stop sequence is held back until the next
    chunk shows whether it is, so no part of a stop sequence is ever yielded.
    """
    pending = ""
    for chunk in chunks:
        pending += chunk
        found = [at for at in (pending.find(stop) for stop in stops) if at >= 0]
        if found:
            if min(found) > 0:
                yield pending[: min(found)]
            return
        ready = len(pending) - _partial_stop_length(pending, stops)
        if ready > 0:
            yield pending[:ready]
            pending = pending[ready:]
    if pending:
        yield pending


def _partial_stop_length(text: str, stops: list[str]) -> int:
    """The length of the longest end of `text` that a stop sequence begins with."""
    return max(
        (size for stop in stops for size in range(1, min(len(stop), len(text) + 1)) if text.endswith(stop[:size])),
        default=0,
    )
