"""A tiny random-weight chat model, built locally, for tests, benchmarks and demos.

No weights can be downloaded here, so this trains a word-level tokenizer on a few lines and
saves it beside a two-layer Llama with random weights, in the layout save_pretrained writes:
exactly what the predictor loads from a Hugging Face id. It talks nonsense, but through the
same code path as a real model.

    python zoo/text-generation/tiny_model.py DIRECTORY
"""

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

TEXT = """\
The hearth keeps the house warm through the long winter night.
A model is a directory with a cog file and a predictor that answers questions.
Tokens stream one by one, so the reader sees the answer grow while the model thinks.
Small models run on a laptop; large ones need a graphics card with plenty of memory.
Ask a question, and the machine will reply with words it has learned from text.
"""

EOS, PAD, UNK = "<|end|>", "<|pad|>", "<|unk|>"
ROLES = ["<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    # Word-level, so every generated token decodes to one whole word: tests can count
    # tokens by re-encoding the text.
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(TEXT.splitlines(), trainers.WordLevelTrainer(special_tokens=[UNK, PAD, EOS, *ROLES]))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=ROLES,
        chat_template=CHAT_TEMPLATE,
        # As real causal-LM tokenizers declare; older transformers would add token_type_ids,
        # which generate() rejects.
        model_input_names=["input_ids", "attention_mask"],
    )


def build(directory: Path, seed: int = 0, *, hidden_size: int = 64, layers: int = 2) -> Path:
    """Write the tokenizer and a random model to `directory`; the same seed, the same weights.

    Larger `hidden_size` and `layers` make a model that spends longer on each token, as real
    ones do (the benchmarks use one to show the platform's share at that pace)."""
    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        # Room for the predictor's largest max_tokens plus a prompt.
        max_position_embeddings=8192,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(build(Path(sys.argv[1])))
