"""How a model declares itself to the OpenAI-compatible endpoints (`Model.openai_api`): in its
directory's catalogue.json, set by `manage.py catalogue` (which `make run` runs for every zoo
model), or by its owner when creating it (POST /v1/models, `hearth push --openai-api`)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inference.models import Model, OpenAIApi
from tests.inference.openai_compat.conftest import CHAT_SCHEMA, make_model


def catalogue(directory, **entry) -> None:
    (directory / "catalogue.json").write_text(json.dumps({"description": "a model", **entry}))
    call_command("catalogue", str(directory), "alice/talker", stdout=StringIO(), stderr=StringIO())


def test_the_catalogue_declares_a_model_and_takes_the_declaration_back(alice, cpu, tmp_path):
    make_model(alice.account, cpu, "talker", CHAT_SCHEMA, OpenAIApi.NONE)

    catalogue(tmp_path, openai_api="chat")
    assert Model.objects.get(name="talker").openai_api == OpenAIApi.CHAT
    catalogue(tmp_path)
    assert Model.objects.get(name="talker").openai_api == OpenAIApi.NONE


def test_an_unknown_declaration_is_refused_and_changes_nothing(alice, cpu, tmp_path):
    make_model(alice.account, cpu, "talker", CHAT_SCHEMA, OpenAIApi.CHAT)

    with pytest.raises(CommandError, match="openai_api must be one of '', 'chat', 'embeddings', not 'vision'"):
        catalogue(tmp_path, openai_api="vision")
    model = Model.objects.get(name="talker")
    assert (model.openai_api, model.description) == (OpenAIApi.CHAT, "")


def test_an_owner_declares_a_new_model_when_creating_it(api, alice, cpu):
    body = {"owner": "alice", "name": "talker", "visibility": "private", "hardware": "cpu", "openai_api": "chat"}

    response = api.post("/v1/models", data=json.dumps(body), content_type="application/json", **alice.auth)

    assert response.status_code == 201, response.content
    assert Model.objects.get(name="talker").openai_api == OpenAIApi.CHAT


def test_a_declaration_the_api_does_not_know_is_a_400_and_creates_nothing(api, alice, cpu):
    body = {"owner": "alice", "name": "talker", "visibility": "private", "hardware": "cpu", "openai_api": "vision"}

    response = api.post("/v1/models", data=json.dumps(body), content_type="application/json", **alice.auth)

    assert response.status_code == 400
    assert response.json()["invalid_fields"][0]["field"] == "openai_api"
    assert not Model.objects.exists()
