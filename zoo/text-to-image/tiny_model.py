"""A tiny random-weight SDXL pipeline, built locally, for tests, benchmarks and demos.

No weights can be downloaded here, so this builds every part of Stable Diffusion XL (a UNet
with SDXL's added text-and-time conditioning, a VAE that scales by 8, two CLIP text encoders,
the second with a projection, and two CLIP tokenizers) from very small configs with random
weights, and saves them with save_pretrained: the layout of a Hugging Face SDXL repository,
which is what the predictor loads. It paints noise, but through the same code as a real model.

    python zoo/text-to-image/tiny_model.py DIRECTORY
"""

import json
import sys
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from tokenizers import pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77  # CLIP's context, as in the real SDXL
TEXT_HIDDEN = 16  # each encoder's width; the UNet attends to both, concatenated
PROJECTION = 16  # the second encoder's pooled embedding, which SDXL adds to the time embedding
TIME_EMBED = 8  # per number of SDXL's six size-and-crop conditions


def build_tokenizer() -> CLIPTokenizer:
    """A byte-level CLIP BPE tokenizer with no merges: every byte is a token, so any prompt encodes."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [BOS, EOS, *alphabet, *(f"{char}</w>" for char in alphabet)]
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(tokens)}))
        Path(scratch, "merges.txt").write_text("#version: 0.2\n")
        # The files CLIP ships, read the same way by every transformers version.
        return CLIPTokenizer.from_pretrained(scratch, model_max_length=MAX_TOKENS)


def build_pipeline(tokenizer: CLIPTokenizer) -> StableDiffusionXLPipeline:
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_HIDDEN,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=MAX_TOKENS,
        projection_dim=PROJECTION,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        # Three levels as in SDXL, but attention only at the smallest, where it is cheap: even
        # a 1024x1024 demo image then takes seconds a step on a CPU rather than many.
        block_out_channels=(8, 8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=(2, 2, 4),
        use_linear_projection=True,
        cross_attention_dim=2 * TEXT_HIDDEN,
        # SDXL's extra conditioning: the pooled text embedding and the six size numbers.
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED,
        projection_class_embeddings_input_dim=6 * TIME_EMBED + PROJECTION,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        # Four blocks, so images are 8 times the latents' size, as in the real SDXL VAE.
        block_out_channels=(4, 4, 4, 4),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=2,
        sample_size=64,
    )
    # SDXL base's own scheduler settings.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
    )


def build(directory: Path, seed: int = 0) -> Path:
    """Write the pipeline to `directory`; the same seed, the same weights."""
    torch.manual_seed(seed)
    pipeline = build_pipeline(build_tokenizer())
    directory.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(directory)
    return directory


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(build(Path(sys.argv[1])))
