"""The text-to-image and embeddings zoo models, pushed and run through the platform with the
unmodified client: a tiny random-weight SDXL built locally, and the real all-MiniLM-L6-v2."""

import re

import pytest
import torch
from replicate.exceptions import ModelError, ReplicateError
from replicate.helpers import FileOutput

from tests.zoo.tiny_diffusion_and_embeddings import open_png

pytestmark = pytest.mark.e2e

SMALL_IMAGE = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "num_inference_steps": 2}


def read(item, client) -> bytes:
    """An output file's bytes. The client makes FileOutput objects of https URLs only; the test
    platform serves plain http, so its URLs come back as strings, read the same way."""
    return (item if isinstance(item, FileOutput) else FileOutput(item, client)).read()


def test_text_to_image_returns_pngs_of_the_requested_size_and_count(platform):
    client = platform.client()
    output = client.run(
        "alice/text-to-image", input={**SMALL_IMAGE, "width": 64, "height": 96, "num_outputs": 3, "seed": 3}
    )

    images = [open_png(read(item, client)) for item in output]
    assert [(image.format, image.size) for image in images] == [("PNG", (64, 96))] * 3
    assert len({image.tobytes() for image in images}) == 3


def test_text_to_image_logs_every_denoising_step(platform):
    prediction = platform.client().predictions.create(
        version=platform.versions["text-to-image"], input={**SMALL_IMAGE, "num_inference_steps": 4, "seed": 11}
    )
    prediction.wait()

    assert prediction.status == "succeeded", prediction.error
    assert re.findall(r"^Step (\d)/4$", prediction.logs, re.MULTILINE) == ["1", "2", "3", "4"]
    assert "Using seed: 11" in prediction.logs


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"num_outputs": 5}, "input.num_outputs"), ({"width": 4096}, "input.width"), ({"height": 8}, "input.height")],
)
def test_text_to_image_refuses_out_of_range_inputs_with_422(platform, bad, field):
    client = platform.client()
    before = latest_prediction_id(client)

    with pytest.raises(ReplicateError) as raised:
        client.run("alice/text-to-image", input={**SMALL_IMAGE, **bad})

    assert raised.value.status == 422
    assert field in raised.value.detail
    assert latest_prediction_id(client) == before  # nothing was queued


def latest_prediction_id(client) -> str | None:
    results = client.predictions.list().results  # newest first
    return results[0].id if results else None


def test_text_to_image_fails_a_size_off_the_8_pixel_grid_and_serves_the_next(platform):
    client = platform.client()

    with pytest.raises(ModelError) as raised:
        client.run("alice/text-to-image", input={**SMALL_IMAGE, "width": 100})

    assert raised.value.prediction.status == "failed"
    assert raised.value.prediction.error == "width must be a multiple of 8, not 100"
    (image,) = client.run("alice/text-to-image", input=SMALL_IMAGE)
    assert open_png(read(image, client)).size == (64, 64)


def cosine(a: list[float], b: list[float]) -> float:
    return torch.nn.functional.cosine_similarity(torch.tensor([a]), torch.tensor([b])).item()


def test_embeddings_rank_a_paraphrase_above_an_unrelated_sentence(platform):
    anchor, paraphrase, unrelated = platform.client().run(
        "alice/embeddings",
        input={
            "texts": [
                "A man is playing a guitar.",
                "Someone is strumming an acoustic guitar.",
                "The central bank raised interest rates again.",
            ]
        },
    )

    assert [len(anchor), len(paraphrase), len(unrelated)] == [384] * 3
    assert cosine(anchor, paraphrase) > 0.6 > 0.2 > cosine(anchor, unrelated)


def test_embeddings_take_newline_separated_texts(platform):
    client = platform.client()
    texts = ["The cat sleeps on the sofa.", "A kitten naps on the couch.", "Trains leave every hour."]

    listed = client.run("alice/embeddings", input={"texts": texts})
    lined = client.run("alice/embeddings", input={"texts": ["\n".join(texts[:2]), texts[2]]})

    assert len(lined) == 3
    assert torch.allclose(torch.tensor(lined), torch.tensor(listed), atol=1e-5)


def test_embeddings_without_text_fail_clearly(platform):
    with pytest.raises(ModelError) as raised:
        platform.client().run("alice/embeddings", input={"texts": ["", "  "]})

    assert raised.value.prediction.error == "texts has no text to embed"
