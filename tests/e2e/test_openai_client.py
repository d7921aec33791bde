"""The OpenAI-compatible API (/openai/v1, inference/openai_compat) through the real processes and
the unmodified `openai` client: chat streamed and not, completions, embeddings, the model list,
and its refusals as the client raises them. Every call is an ordinary prediction: it shows in
the Replicate API's history and is billed.

Olive's models are her own: `olive/chat-lm` (the zoo's text-generation on tiny random weights,
private), declared by `hearth push --openai-api chat`, and `olive/vectors` (the zoo's embeddings,
the real all-MiniLM-L6-v2, public), declared through `manage.py catalogue` from the zoo's
catalogue.json, as `make run` declares the zoo.
"""

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import openai
import pytest
import torch
from django.core.management import call_command

from accounts.models import Account
from hosting.redis_clients import sync_client
from tests.conftest import FIXTURE_MODELS, ZOO, make_persona

pytestmark = pytest.mark.e2e

CHAT, VECTORS, SLOW = "olive/chat-lm", "olive/vectors", "olive/slow-chat"
HEARTH = Path(sys.executable).with_name("hearth")
QUESTION = [{"role": "user", "content": "Write a haiku about a lighthouse."}]


@pytest.fixture(scope="module")
def olive(platform, django_db_blocker):
    with django_db_blocker.unblock():
        olive = make_persona("olive")
        call_command(
            "push", str(ZOO / "embeddings"), VECTORS, visibility="public", stdout=StringIO(), stderr=StringIO()
        )
        call_command("catalogue", str(ZOO / "embeddings"), VECTORS, stdout=StringIO(), stderr=StringIO())
        call_command("push", str(FIXTURE_MODELS / "slow-chat"), SLOW, stdout=StringIO(), stderr=StringIO())
        call_command("catalogue", str(FIXTURE_MODELS / "slow-chat"), SLOW, stdout=StringIO(), stderr=StringIO())
    # Declared by its owner, from another machine, as she pushes it.
    pushed = subprocess.run(
        [str(HEARTH), "push", str(ZOO / "text-generation"), CHAT, "--openai-api", "chat"],
        env={**os.environ, "HEARTH_URL": platform.url, "HEARTH_API_TOKEN": olive.plaintext},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pushed.returncode == 0, pushed.stderr
    return olive


def openai_client(platform, persona) -> openai.OpenAI:
    """As application code makes one: only the base URL and the key are Hearth's."""
    return openai.OpenAI(base_url=f"{platform.url}/openai/v1", api_key=persona.plaintext, timeout=120)


def test_a_chat_completion_is_a_prediction_in_the_history(platform, olive, django_db_blocker):
    client = openai_client(platform, olive)

    completion = client.chat.completions.create(
        model=CHAT,
        messages=[
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "What is a lighthouse?"},
            {"role": "assistant", "content": "A tower with a light."},
            *QUESTION,
        ],
        max_tokens=12,
        temperature=0,
    )

    answer = completion.choices[0].message
    assert answer.role == "assistant" and answer.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.model == CHAT and completion.object == "chat.completion"
    assert 0 < completion.usage.completion_tokens <= 12 and completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    # The same prediction through the Replicate API: its history, its input, its bill.
    prediction = platform.client(olive).predictions.get(completion._request_id)
    assert completion.id == f"chatcmpl-{prediction.id}"
    assert (prediction.status, prediction.model) == ("succeeded", CHAT)
    assert "".join(prediction.output) == answer.content
    assert prediction.input["prompt"] == QUESTION[0]["content"]
    assert '"A tower with a light."' in prediction.input["messages"]
    assert prediction.metrics["output_token_count"] == completion.usage.completion_tokens
    assert "cost" in prediction.metrics


def test_a_streamed_chat_arrives_in_chunks_and_says_the_same(platform, olive):
    client = openai_client(platform, olive)
    whole = client.chat.completions.create(model=CHAT, messages=QUESTION, max_tokens=16, temperature=0, seed=3)

    stream = client.chat.completions.create(
        model=CHAT,
        messages=QUESTION,
        max_tokens=16,
        temperature=0,
        seed=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert len(pieces) > 1  # token by token, not all at once
    assert "".join(pieces) == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({chunk.id for chunk in chunks}) == 1


def test_a_stream_whose_reader_goes_away_cancels_its_prediction(platform, olive):
    stream = openai_client(platform, olive).chat.completions.create(
        model=SLOW, messages=QUESTION, max_tokens=600, stream=True
    )
    pieces = iter(stream)
    next(pieces), next(pieces)  # the role, then the first word: it is running
    stream.close()

    prediction = platform.client(olive).predictions.get(stream.response.headers["x-request-id"])
    deadline = time.monotonic() + 20
    while prediction.status != "canceled" and time.monotonic() < deadline:
        time.sleep(0.2)
        prediction.reload()
    assert prediction.status == "canceled"  # not 60 s of words nobody reads
    assert len(prediction.output or []) < 100


def test_a_model_that_counts_no_tokens_answers_without_usage(platform, olive):
    completion = openai_client(platform, olive).chat.completions.create(model=SLOW, messages=QUESTION, max_tokens=3)

    assert completion.choices[0].message.content == "Write a haiku"
    assert completion.usage is None


def test_a_completion_continues_a_prompt(platform, olive):
    completion = openai_client(platform, olive).completions.create(model=CHAT, prompt="Hello", max_tokens=8)

    assert completion.object == "text_completion" and completion.choices[0].text
    assert 0 < completion.usage.completion_tokens <= 8


def cosine(a: list[float], b: list[float]) -> float:
    return torch.nn.functional.cosine_similarity(torch.tensor([a]), torch.tensor([b])).item()


def test_embeddings_match_what_the_model_returns_through_replicate(platform, olive):
    texts = ["A lighthouse guides ships at night.", "A beacon on the coast warns sailors.", "Bread needs yeast."]
    client = openai_client(platform, olive)

    default = client.embeddings.create(model=VECTORS, input=texts)  # the client asks for base64 and decodes it
    floats = client.embeddings.create(model=VECTORS, input=texts, encoding_format="float")

    direct = platform.client(olive).run(VECTORS, input={"texts": texts})
    vectors = [item.embedding for item in default.data]
    assert [item.index for item in default.data] == [0, 1, 2] and len(vectors[0]) == 384
    for mine, theirs, plain in zip(vectors, direct, (item.embedding for item in floats.data), strict=True):
        assert cosine(mine, theirs) > 0.9999 and cosine(plain, theirs) > 0.9999
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])  # close meanings, close vectors
    assert default.usage.prompt_tokens == default.usage.total_tokens > len(texts)


def test_the_model_list_shows_what_the_key_may_run_and_declares_itself(platform, olive):
    mine = {model.id for model in openai_client(platform, olive).models.list()}
    bobs = {model.id for model in openai_client(platform, platform.bob).models.list()}

    assert {CHAT, VECTORS} <= mine
    assert "alice/text-generation" not in mine  # declared, but alice's private model
    assert "alice/public-echo" not in mine  # public, but not declared
    assert VECTORS in bobs and CHAT not in bobs  # public and declared; private
    assert openai_client(platform, olive).models.retrieve(CHAT).owned_by == "olive"


def test_an_unknown_model_is_the_clients_not_found_error(platform, olive):
    with pytest.raises(openai.NotFoundError) as raised:
        openai_client(platform, olive).chat.completions.create(model="olive/no-such-model", messages=QUESTION)

    assert raised.value.status_code == 404 and raised.value.code == "model_not_found"
    assert (
        raised.value.body["message"]
        == "The model `olive/no-such-model` does not exist or you do not have access to it."
    )


def test_another_tenants_private_model_is_not_found_and_nothing_runs(platform, olive, django_db_blocker):
    from inference.models import Prediction

    with django_db_blocker.unblock():
        before = Prediction.objects.filter(account=platform.bob.account).count()
    with pytest.raises(openai.NotFoundError) as raised:
        openai_client(platform, platform.bob).chat.completions.create(model=CHAT, messages=QUESTION)
    with pytest.raises(openai.NotFoundError):
        openai_client(platform, platform.bob).models.retrieve(CHAT)

    assert raised.value.code == "model_not_found"
    assert raised.value.body["message"] == f"The model `{CHAT}` does not exist or you do not have access to it."
    with django_db_blocker.unblock():
        assert Prediction.objects.filter(account=platform.bob.account).count() == before


def test_a_bad_key_is_the_clients_authentication_error(platform, olive):
    client = openai.OpenAI(base_url=f"{platform.url}/openai/v1", api_key="r8_not_a_real_token")
    with pytest.raises(openai.AuthenticationError) as raised:
        client.models.list()
    assert raised.value.code == "invalid_api_key"


def test_a_bad_parameter_is_the_clients_bad_request_error(platform, olive):
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(platform, olive).chat.completions.create(model=CHAT, messages=QUESTION, max_tokens=100_000)
    assert raised.value.param == "max_tokens"


def _create_requests(token_id: int) -> int:
    """How many creates the token has made in the rate limiter's windows (hosting/ratelimit.py)."""
    redis = sync_client()
    return sum(int(redis.get(key) or 0) for key in redis.scan_iter(f"ratelimit:create:{token_id}:*"))


def test_the_spending_limit_is_insufficient_quota_which_the_client_does_not_retry(platform, olive, django_db_blocker):
    with django_db_blocker.unblock():
        penny = make_persona("penny")
        Account.objects.filter(pk=penny.account.pk).update(spending_limit=0)
    before = _create_requests(penny.token.pk)

    with pytest.raises(openai.RateLimitError) as raised:
        openai_client(platform, penny).embeddings.create(model=VECTORS, input="a lighthouse")

    assert raised.value.status_code == 429
    assert raised.value.code == raised.value.type == "insufficient_quota"
    assert "spending limit" in raised.value.message
    assert _create_requests(penny.token.pk) == before + 1  # asked once: the client did not retry
    assert platform.client(penny).predictions.list().results == []
