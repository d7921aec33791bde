"""The zoo's predictors on whatever device torch finds: each package's tiny random model built
here, set up and run once in this process, so their CUDA paths (float16, tensors moved to the
GPU) are exercised where a GPU is; there, also the text-generation predictor's streamed decode
rate against bare generate() on a 0.6 B-parameter random Llama. CI has no GPU: run this on a
lent one. Prints PASS or FAIL a check and exits 1 on any failure; writes the lines to
$OUT/gpu_check.txt when OUT is set.

    .venv/bin/python bench/zoo_on_gpu.py

On a machine with torch and transformers but not this project (the lent H200 here), carry
wheels of cog, coglet, structlog, diffusers, soundfile, soxr, cffi, pycparser,
importlib_metadata and this project's transformers, install them with
`pip install --no-deps --target /tmp/site` and put /tmp/site on PYTHONPATH.
"""

import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import PIL.Image
import soundfile
import torch
from cog import Path as CogPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this project's root

from tests.zoo.packages import ZOO, load_package_module

SCRATCH = Path(tempfile.mkdtemp())
results = []


def predictor(package: str, env_var: str, **build):
    os.environ[env_var] = str(load_package_module(ZOO / package, "tiny_model").build(SCRATCH / package, **build))
    instance = load_package_module(ZOO / package, "predict").Predictor()
    instance.setup()
    return instance


def check(function):
    started = time.perf_counter()
    try:
        detail = function()
        results.append(f"PASS {function.__name__} ({time.perf_counter() - started:.1f} s): {detail}")
    except Exception:
        results.append(f"FAIL {function.__name__}:\n{traceback.format_exc()[-2500:]}")
    print(results[-1], flush=True)


def text_generation():
    p = predictor("text-generation", "HEARTH_TEXT_MODEL")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert (p.model.device.type, p.model.dtype) == (device, torch.float16 if device == "cuda" else torch.float32)
    chunks = list(
        p.predict(
            prompt="hello there",
            system_prompt="",
            max_tokens=40,
            temperature=0.0,
            top_p=1.0,
            seed=0,
            stop_sequences="",
            messages="",
        )
    )
    inputs = p._encode("hello there", "").to(device)
    out = p.model.generate(**inputs, max_new_tokens=40, do_sample=False, pad_token_id=p.tokenizer.eos_token_id)
    expected = p.tokenizer.decode(out[0, inputs["input_ids"].shape[-1] :], skip_special_tokens=True)
    assert "".join(chunks) == expected, ("".join(chunks), expected)
    sampled = "".join(
        p.predict(
            prompt="hi",
            system_prompt="be brief",
            max_tokens=20,
            temperature=0.7,
            top_p=0.9,
            seed=1,
            stop_sequences="",
            messages="",
        )
    )
    again = "".join(
        p.predict(
            prompt="hi",
            system_prompt="be brief",
            max_tokens=20,
            temperature=0.7,
            top_p=0.9,
            seed=1,
            stop_sequences="",
            messages="",
        )
    )
    assert sampled == again, "the same seed gave other text"
    return f"{len(chunks)} chunks; greedy text equals generate() on {device} {p.model.dtype}; a seed repeats its sample"


def text_generation_rate(hidden_size: int = 2048, layers: int = 16, tokens: int = 200):
    """bench/text_generation.py's decode rate, on a model the size a GPU makes worth it."""
    p = predictor("text-generation", "HEARTH_TEXT_MODEL", hidden_size=hidden_size, layers=layers)
    inputs = p._encode("what is a model?", "").to(p.model.device)
    bare, streamed = [], []
    settings = {"do_sample": False, "pad_token_id": p.tokenizer.eos_token_id}
    for round_ in range(6):
        if p.model.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        p.model.generate(**inputs, max_new_tokens=1, **settings)
        first = time.perf_counter() - started
        started = time.perf_counter()
        out = p.model.generate(**inputs, max_new_tokens=tokens, **settings)
        elapsed = time.perf_counter() - started
        new = out[0, inputs["input_ids"].shape[-1] :]
        # As bench/text_generation.py: both ways make the same `tokens` tokens, or the rates would not compare.
        assert len(new) == tokens, f"the model ended after {len(new)} tokens"
        arrivals, chunks = [], []
        for chunk in p.predict(
            prompt="what is a model?",
            system_prompt="",
            max_tokens=tokens,
            temperature=0.0,
            top_p=1.0,
            seed=0,
            stop_sequences="",
            messages="",
        ):
            arrivals.append(time.perf_counter())
            chunks.append(chunk)
        assert "".join(chunks) == p.tokenizer.decode(new, skip_special_tokens=True), "the predictor wrote other text"
        if round_:  # the first warms the kernels up
            bare.append((tokens - 1) / (elapsed - first))
            streamed.append((tokens - 1) / (arrivals[-1] - arrivals[0]))
    share = statistics.median(s / b for s, b in zip(streamed, bare, strict=True))
    return (
        f"random Llama {hidden_size}x{layers} ({sum(x.numel() for x in p.model.parameters()) / 1e6:.0f} M "
        f"params, {p.model.dtype}): bare {statistics.median(bare):.0f} tok/s, predictor streamed "
        f"{statistics.median(streamed):.0f} tok/s = {share:.1%} of bare (decode, {tokens} tokens, 5 rounds)"
    )


def embeddings():
    p = predictor("embeddings", "HEARTH_EMBEDDING_MODEL")
    vectors = torch.tensor(p.predict(texts=["a cat on a mat", "a dog in the fog\nsecond line"]))
    assert vectors.shape[0] == 3 and torch.isfinite(vectors).all()
    norms = vectors.norm(dim=1)
    return f"{tuple(vectors.shape)} on {p.device}, norms {norms.min():.3f}-{norms.max():.3f}"


def text_to_image():
    p = predictor("text-to-image", "HEARTH_IMAGE_MODEL")
    paths = p.predict(
        prompt="a red fox in the snow",
        negative_prompt="",
        width=64,
        height=64,
        num_outputs=2,
        scheduler="K_EULER",
        num_inference_steps=2,
        guidance_scale=7.5,
        seed=5,
    )
    images = [PIL.Image.open(path) for path in paths]
    pixels = np.asarray(images[0])
    assert len(images) == 2 and images[0].size == (64, 64) and np.isfinite(pixels).all() and pixels.std() > 0
    return f"{len(images)} PNGs 64x64 on {p.device}, pixel std {pixels.std():.1f}"


def speech_to_text():
    p = predictor("speech-to-text", "HEARTH_SPEECH_MODEL")
    rate = 22_050
    times = np.arange(rate) / rate
    audio = SCRATCH / "tone.wav"
    soundfile.write(audio, (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32), rate)
    result = p.predict(
        audio=CogPath(audio), language="auto", translate=False, transcription="plain text", temperature=0
    )
    return f"on {p.device} ({p.dtype}): {str(result)[:160]}"


def image_captioning():
    p = predictor("image-captioning", "HEARTH_CAPTION_MODEL")
    picture = SCRATCH / "house.png"
    PIL.Image.new("RGB", (96, 64), (90, 160, 230)).save(picture)
    caption = p.predict(image=CogPath(picture), question="", caption=True, max_new_tokens=10)
    answer = p.predict(image=CogPath(picture), question="what is this?", caption=False, max_new_tokens=10)
    return f"on {p.device} ({p.dtype}): caption {caption!r}, answer {answer!r}"


if __name__ == "__main__":
    print(
        f"torch {torch.__version__}, cuda {torch.cuda.is_available()}: "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-'}",
        flush=True,
    )
    checks = [text_generation, embeddings, text_to_image, speech_to_text, image_captioning]
    if torch.cuda.is_available():
        checks.append(text_generation_rate)
    for function in checks:
        check(function)
    out = Path(os.environ.get("OUT", SCRATCH))
    (out / "gpu_check.txt").write_text("\n".join(results) + "\n")
    sys.exit(0 if all(line.startswith("PASS") for line in results) else 1)
