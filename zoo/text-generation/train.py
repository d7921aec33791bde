"""A LoRA fine-tune of the text-generation model, through Cog's training contract (cog.yaml `train:`).

`train_data` is a JSONL file, one {"prompt": ..., "completion": ...} object a line (a
"system_prompt" too, optionally). The model learns to answer each prompt, encoded exactly as
predict.py encodes it, with its completion and then end-of-text: only the completion's tokens
count toward the loss. The base model is predict.py's (HEARTH_TEXT_MODEL). The result is the
LoRA adapter as save_pretrained writes it, in one .tar, which predict.py merges into the base
model when a trained version sets up (Cog passes it to setup() as `weights`).
"""

import json
import math
import os
import random
import tarfile
import tempfile
import time

import torch
from cog import BaseModel, Input, Path
from peft import LoraConfig, get_peft_model
from predict import encode_prompt, model_source  # predict.py beside this file: the same model, the same prompts
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup, set_seed

# Positions the loss skips (the prompt, the padding): PyTorch's cross-entropy ignore_index.
IGNORED = -100


class TrainingOutput(BaseModel):
    weights: Path


def train(
    train_data: Path = Input(
        description='A JSONL file: one {"prompt": ..., "completion": ...} object a line, '
        'optionally with a "system_prompt"'
    ),
    num_train_epochs: int = Input(description="Passes over the training data", default=3, ge=1, le=1000),
    max_steps: int = Input(
        description="Stop after this many steps, even with epochs left; empty for no limit", default=None, ge=1
    ),
    learning_rate: float = Input(
        description="Starting learning rate of the adapter (AdamW, decaying linearly to 0)",
        default=2e-4,
        ge=0,
        le=1,
    ),
    batch_size: int = Input(description="Examples in each step", default=4, ge=1, le=256),
    lora_rank: int = Input(description="Rank of the LoRA matrices: larger learns more", default=8, ge=1, le=256),
    lora_alpha: int = Input(
        description="LoRA scaling: the adapter's updates are scaled by lora_alpha / lora_rank",
        default=16,
        ge=1,
        le=1024,
    ),
    lora_dropout: float = Input(description="Dropout on the LoRA layers' inputs", default=0.05, ge=0, le=0.9),
    max_length: int = Input(
        description="Most tokens of one example, prompt and completion together; longer ones are cut",
        default=1024,
        ge=8,
        le=32768,
    ),
    seed: int = Input(description="Random seed, for a repeatable run; empty for a random one", default=None),
) -> TrainingOutput:
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    print(f"Using seed: {seed}")
    set_seed(seed)

    # Read first: a mistake in the data shows at once, not after the model has loaded.
    records = _records(train_data)
    started = time.perf_counter()
    source = model_source()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # bfloat16 halves GPU memory with float32's range, so training stays stable; float16 would
    # need loss scaling. The LoRA weights themselves train in float32 (peft upcasts them).
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)
    print(f"Loaded {source} on {device} ({dtype}) in {time.perf_counter() - started:.2f} s")

    examples = _examples(records, tokenizer, model, max_length)
    # Every linear layer but the output head: a small adapter that still reaches the whole model.
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=lora_rank,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules="all-linear",
    )
    model = get_peft_model(model, lora)
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    print(f"LoRA rank {lora_rank}: {trainable} trainable parameters")

    steps_per_epoch = math.ceil(len(examples) / batch_size)
    total_steps = num_train_epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=total_steps)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else _end_of_text(tokenizer, model)
    print(f"Training {total_steps} steps of up to {batch_size} examples, {len(examples)} examples in all")

    model.train()
    order = random.Random(seed)
    step = 0
    for epoch in range(1, num_train_epochs + 1):
        shuffled = order.sample(examples, len(examples))
        losses = []
        for start in range(0, len(shuffled), batch_size):
            if step == total_steps:
                break
            batch = _batch(shuffled[start : start + batch_size], pad, device)
            loss = model(**batch, use_cache=False).loss
            loss.backward()
            # Clipped, so one odd batch cannot throw the adapter far off.
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            print(f"step {step}/{total_steps} loss {losses[-1]:.4f}")
        if losses:
            print(f"epoch {epoch}/{num_train_epochs} mean loss {sum(losses) / len(losses):.4f}")
        if step == total_steps:
            break

    weights = _packed_adapter(model)
    print(
        f"Trained {step} steps in {time.perf_counter() - started:.2f} s; "
        f"the adapter is {weights.stat().st_size / 1e6:.1f} MB"
    )
    return TrainingOutput(weights=weights)


def _records(train_data: Path) -> list[dict[str, str]]:
    """The objects of the JSONL file, checked; blank lines are skipped."""
    with open(train_data, encoding="utf-8") as lines:
        records = [_record(line, number) for number, line in enumerate(lines, start=1) if line.strip()]
    if not records:
        raise ValueError("train_data has no examples: expected one JSON object a line")
    return records


def _examples(records: list[dict[str, str]], tokenizer, model, max_length: int) -> list[dict[str, list[int]]]:
    """Each record as token ids and the labels to learn: the completion's ids (then
    end-of-text) after the prompt's, the prompt's labels ignored."""
    end_of_text = _end_of_text(tokenizer, model)
    examples, cut, dropped = [], 0, 0
    for record in records:
        prompt = encode_prompt(tokenizer, record["prompt"], record.get("system_prompt", ""))["input_ids"][0].tolist()
        completion = tokenizer(record["completion"], add_special_tokens=False)["input_ids"]
        if end_of_text is not None:
            completion.append(end_of_text)  # so the trained model stops where the completion does
        if len(prompt) >= max_length:
            dropped += 1  # nothing of its completion would be left to learn
            continue
        if len(prompt) + len(completion) > max_length:
            cut += 1
            completion = completion[: max_length - len(prompt)]
        examples.append({"input_ids": prompt + completion, "labels": [IGNORED] * len(prompt) + completion})
    if cut or dropped:
        print(f"max_length {max_length}: {cut} completions cut short, {dropped} examples left out (prompt too long)")
    if not examples:
        raise ValueError(f"train_data: every prompt is longer than max_length ({max_length} tokens)")
    return examples


def _record(line: str, number: int) -> dict[str, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"train_data line {number}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f'train_data line {number}: expected an object like {{"prompt": ..., "completion": ...}}')
    for key in ("prompt", "completion"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise ValueError(f"train_data line {number}: {key!r} must be a non-empty string")
    if not isinstance(record.get("system_prompt", ""), str):
        raise ValueError(f"train_data line {number}: 'system_prompt' must be a string")
    return record


def _end_of_text(tokenizer, model) -> int | None:
    """The token that ends an answer: the one generate() stops at."""
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    eos = model.generation_config.eos_token_id
    return eos[0] if isinstance(eos, list) else eos


def _batch(examples: list[dict[str, list[int]]], pad: int | None, device: str) -> dict[str, torch.Tensor]:
    """The examples padded on the right to the longest one; padding is masked out and not learned."""
    width = max(len(example["input_ids"]) for example in examples)
    pad = 0 if pad is None else pad  # masked out either way
    input_ids, labels, attention_mask = [], [], []
    for example in examples:
        missing = width - len(example["input_ids"])
        input_ids.append(example["input_ids"] + [pad] * missing)
        labels.append(example["labels"] + [IGNORED] * missing)
        attention_mask.append([1] * len(example["input_ids"]) + [0] * missing)
    return {
        "input_ids": torch.tensor(input_ids, device=device),
        "labels": torch.tensor(labels, device=device),
        "attention_mask": torch.tensor(attention_mask, device=device),
    }


def _packed_adapter(model) -> Path:
    """The adapter as save_pretrained writes it (adapter_config.json, adapter_model.safetensors),
    in one uncompressed .tar: Cog returns one file, and the weights would not compress anyway."""
    output = Path(tempfile.mkdtemp(prefix="text-generation-training-"))
    adapter = output / "adapter"
    model.save_pretrained(adapter)
    archive = output / "lora-adapter.tar"
    with tarfile.open(archive, "w") as tar:
        for file in sorted(adapter.iterdir()):
            tar.add(file, arcname=file.name)
    return archive
