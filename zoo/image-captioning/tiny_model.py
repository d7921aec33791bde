"""A tiny random-weight BLIP-2, built locally, for tests, benchmarks and demos.

No weights can be downloaded here, so this trains a word-level tokenizer on a few lines (with
OPT's special tokens: <s>, <pad>, </s>, <unk>, and each text begins with </s>) and saves it as a
Blip2Processor beside a BLIP-2 of the real architecture (a ViT, a Q-Former and an OPT language
model) with one or two layers each and random weights, in the layout save_pretrained writes:
exactly what the predictor loads from a Hugging Face id such as Salesforce/blip2-opt-2.7b. It
sees nothing, but captions and answers through the same code path as a real model.

    python zoo/image-captioning/tiny_model.py DIRECTORY
"""

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2Processor,
    BlipImageProcessorPil,
    OPTConfig,
    PreTrainedTokenizerFast,
)

TEXT = """\
a photograph of a red house by the sea
a cat sitting on a wooden table next to a cup
Question: what colour is the sky? Answer: blue
Question: how many dogs are there? Answer: two
"""

BOS, PAD, EOS, UNK = "<s>", "<pad>", "</s>", "<unk>"
IMAGE_SIZE = 32  # 224 in real BLIP-2; a few patches keep tests fast
NUM_QUERY_TOKENS = 4  # 32 in real BLIP-2


def build_tokenizer() -> PreTrainedTokenizerFast:
    # Word-level, so every generated token decodes to one whole word: tests can count tokens
    # by counting words, and the demo's nonsense is at least made of words.
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(TEXT.splitlines(), trainers.WordLevelTrainer(special_tokens=[BOS, PAD, EOS, UNK]))
    # As OPT's tokenizer: every text starts with </s>, which is also its beginning-of-sequence token.
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{EOS} $A", pair=f"{EOS} $A {EOS} $B", special_tokens=[(EOS, tokenizer.token_to_id(EOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        # As OPT declares; the model takes no token_type_ids.
        model_input_names=["input_ids", "attention_mask"],
    )


def build(directory: Path, seed: int = 0) -> Path:
    """Write the processor and a random model to `directory`; the same seed, the same weights."""
    tokenizer = build_tokenizer()
    image_processor = BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    # Adds the <image> token that stands for the Q-Former's output in the prompt.
    processor = Blip2Processor(image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=NUM_QUERY_TOKENS)
    hidden = 32
    config = Blip2Config(
        vision_config={
            "hidden_size": hidden,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": 8,
        },
        qformer_config={
            "vocab_size": 64,  # the Q-Former takes no text in BLIP-2's captioning model
            "hidden_size": hidden,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "encoder_hidden_size": hidden,
            "cross_attention_frequency": 1,
        },
        text_config=OPTConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden,
            word_embed_proj_dim=hidden,
            num_hidden_layers=2,
            num_attention_heads=2,
            ffn_dim=64,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ).to_dict(),
        num_query_tokens=NUM_QUERY_TOKENS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(build(Path(sys.argv[1])))
