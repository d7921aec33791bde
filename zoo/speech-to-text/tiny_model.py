"""A tiny random-weight Whisper, built locally, for tests, benchmarks and demos.

No weights can be downloaded here, so this trains a byte-level BPE vocabulary on a few lines,
adds the special tokens Whisper decodes with (the same ones in the same order as OpenAI's
multilingual vocabulary: <|endoftext|>, <|startoftranscript|>, one token per language,
<|translate|>, <|transcribe|>, ..., <|notimestamps|>, then the timestamps <|0.00|> to
<|30.00|>), and saves it as a WhisperProcessor beside a two-layer Whisper with random weights
and its generation config, in the layout save_pretrained writes: exactly what the predictor
loads from a Hugging Face id such as openai/whisper-large-v3. It hears nothing, but transcribes
through the same code path as a real model.

    python zoo/speech-to-text/tiny_model.py DIRECTORY
"""

import sys
from pathlib import Path

import torch
from tokenizers import AddedToken, ByteLevelBPETokenizer
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from transformers.models.whisper.tokenization_whisper import LANGUAGES

TEXT = """\
The hearth keeps the house warm through the long winter night.
Speak into the microphone, and the model writes down every word it hears.
Subtitles need a start and an end for each line, down to the millisecond.
"""

END = "<|endoftext|>"
START = "<|startoftranscript|>"
NO_TIMESTAMPS = "<|notimestamps|>"
# Whisper finds a language's token at START + 1 + its index in LANGUAGES, so the order matters.
SPECIAL = [
    END,
    START,
    *(f"<|{code}|>" for code in LANGUAGES),
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    NO_TIMESTAMPS,
]
# One token per 20 ms of a 30 s window; they must come right after <|notimestamps|>.
TIMESTAMPS = [f"<|{step * 0.02:.2f}|>" for step in range(1501)]


def build_tokenizer(directory: Path) -> WhisperTokenizer:
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXT.splitlines(), vocab_size=320, min_frequency=1, show_progress=False)
    bpe.save_model(str(directory))  # vocab.json and merges.txt, as OpenAI's GPT-2 style vocabulary
    tokenizer = WhisperTokenizer(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"), add_prefix_space=False
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[1:]}, replace_extra_special_tokens=True)
    # Timestamps are ordinary tokens in Whisper's vocabulary: decoding keeps them unless asked not to.
    tokenizer.add_tokens([AddedToken(stamp, special=False, normalized=False) for stamp in TIMESTAMPS])
    return tokenizer


def generation_config(tokenizer: WhisperTokenizer, config: WhisperConfig, languages: list[str]) -> GenerationConfig:
    """What Whisper's generate() reads besides the model config: the ids of its control tokens."""
    ids = tokenizer.convert_tokens_to_ids
    return GenerationConfig(
        decoder_start_token_id=ids(START),
        bos_token_id=ids(END),
        eos_token_id=ids(END),
        pad_token_id=ids(END),
        max_length=config.max_target_positions,
        # English-only Whispers (*.en) say so here, and take no language or task tokens.
        is_multilingual=len(languages) > 1,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in languages},
        task_to_id={"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")},
        no_timestamps_token_id=ids(NO_TIMESTAMPS),
        prev_sot_token_id=ids("<|startofprev|>"),
        # Past this a first timestamp is not allowed (1.0 s), as in OpenAI's decoding options.
        max_initial_timestamp_index=50,
        begin_suppress_tokens=[ids(END)],
        suppress_tokens=[],
    )


def build(directory: Path, seed: int = 0, languages: list[str] | None = None) -> Path:
    """Write the processor and a random model to `directory`; the same seed, the same weights.

    `languages`: the codes the model knows (all of Whisper's by default; ["en"] for an
    English-only model, like openai/whisper-tiny.en)."""
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,  # 30 s of audio, as every Whisper: the encoder's window
        max_target_positions=64,  # 448 in real Whisper; fewer decoding steps keep tests fast
        decoder_start_token_id=tokenizer.convert_tokens_to_ids(START),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        # The same as the generation config's, as in OpenAI's configs (generate() warns otherwise).
        begin_suppress_tokens=[tokenizer.eos_token_id],
        suppress_tokens=[],
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = generation_config(tokenizer, config, list(LANGUAGES) if languages is None else languages)
    model.save_pretrained(directory)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(
        directory
    )
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(build(Path(sys.argv[1])))
