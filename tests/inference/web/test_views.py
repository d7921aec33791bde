"""The model catalogue, model pages, the playground's Run and the prediction pages, in-process
(the worker is not running; tests/browser drives the real thing)."""

import html
import json
import re
import time

import pytest

from inference.models import Model, Prediction, Version
from tests.conftest import ECHO_SCHEMA

PASSWORD = "correct horse 9"

STEPS_SCHEMA = {
    "openapi": "3.0.2",
    "components": {
        "schemas": {
            "Input": {
                "type": "object",
                "required": ["prompt"],
                "properties": {
                    "prompt": {"type": "string", "title": "Prompt", "description": "What to draw", "x-order": 0},
                    "steps": {
                        "type": "integer",
                        "title": "Steps",
                        "minimum": 1,
                        "maximum": 50,
                        "default": 20,
                        "x-order": 1,
                    },
                },
            },
            "Output": {"type": "string", "title": "Output"},
        }
    },
}


def logged_in(client, username):
    client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def browser(client, alice):
    return logged_in(client, "alice")


def add_model(owner, cpu, name, *, visibility="private", schema=ECHO_SCHEMA, sha="b", **details) -> Model:
    model = Model.objects.create(owner=owner.account, name=name, hardware=cpu, visibility=visibility, **details)
    version = Version.objects.create(
        model=model,
        sha256=sha * 64,
        predictor_ref="predict.py:Predictor",
        openapi_schema=schema,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )
    model.latest_version = version
    model.save()
    return model


# --- catalogue and model pages ----------------------------------------------------------------


def test_the_catalogue_lists_public_models_and_my_own_but_not_others_private_ones(browser, alice, bob, cpu):
    add_model(alice, cpu, "mine")
    add_model(bob, cpu, "shared", visibility="public")
    add_model(bob, cpu, "secret")
    page = browser.get("/models").content.decode()
    assert "/alice/mine" in page and "/bob/shared" in page and "/bob/secret" not in page


@pytest.mark.parametrize(
    ("query", "found"),
    [("shar", ["bob/shared"]), ("bob/", ["bob/shared"]), ("alice/mi", ["alice/mine"]), ("nothing", [])],
)
def test_the_catalogue_searches_by_name(browser, alice, bob, cpu, query, found):
    add_model(alice, cpu, "mine")
    add_model(bob, cpu, "shared", visibility="public")
    page = browser.get("/models", {"q": query}).content.decode()
    assert re.findall(r'href="/(\w+/\w+)"', page.split("<main", 1)[1]) == found


def test_the_model_page_shows_readme_versions_schema_and_examples(browser, alice, cpu):
    model = add_model(
        alice,
        cpu,
        "painter",
        schema=STEPS_SCHEMA,
        description="Paints things",
        readme="# Painter\n\nUse **bold** prompts.\n\n<script>alert(1)</script>[x](javascript:alert(1))",
    )
    page = browser.get("/alice/painter").content.decode()
    assert "Paints things" in page and "<h3>Painter</h3>" in page and "<strong>bold</strong>" in page
    assert "<script>alert(1)" not in page and "javascript:alert" not in page
    assert model.latest_version.sha256 in page
    assert "export REPLICATE_BASE_URL=http://testserver" in page
    assert "replicate.run(\n    &quot;alice/painter&quot;" in page
    assert "curl -s -X POST http://testserver/v1/models/alice/painter/predictions" in page
    assert "&quot;steps&quot;: 20" in page  # the example input carries the defaults
    assert "≥ 1; ≤ 50" in page and "&quot;minimum&quot;: 1" in page  # the schema, in words and as JSON


def test_the_model_page_shows_the_versions_environment_and_build_log(browser, alice, cpu):
    model = add_model(alice, cpu, "pinned")
    Version.objects.filter(pk=model.latest_version_id).update(
        environment={
            "python": "3.12",
            "runs_in": "own",
            "key": "k" * 64,
            "packages": {"numpy": "1.26.4", "cog": "0.23.1"},
            "lock": "numpy==1.26.4\ncog==0.23.1\n",
            "run": ["echo <hello>"],
        },
        build_log="Resolved 2 packages in 3ms\n + numpy==1.26.4\n",
    )
    page = browser.get("/alice/pinned").content.decode()
    section = page.split('data-testid="environment"', 1)[1].split("</section>", 1)[0]
    assert "Python 3.12, in an environment of its own" in section
    rows = re.findall(r'<td class="mono">([^<]+)</td><td class="mono">([^<]+)</td>', section)
    assert rows == [("cog", "0.23.1"), ("numpy", "1.26.4")]  # by name
    assert "<code>echo &lt;hello&gt;</code>" in section
    assert "Resolved 2 packages in 3ms\n + numpy==1.26.4" in section
    assert "<td>3.12</td>" in page  # the Python column of the versions table


def test_a_version_in_the_platforms_environment_says_so(browser, alice, cpu):
    model = add_model(alice, cpu, "plain")
    Version.objects.filter(pk=model.latest_version_id).update(
        environment={"python": "3.11", "runs_in": "platform", "key": "platform", "packages": {"pyyaml": "6.0"}}
    )
    section = browser.get("/alice/plain").content.decode().split('data-testid="environment"', 1)[1]
    assert "Python 3.11, in the platform's environment" in section
    assert 'data-testid="build-log"' not in section.split("</section>", 1)[0]


def test_the_playground_has_a_control_per_input_with_defaults_help_and_required_marks(browser, alice, cpu):
    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    page = browser.get("/alice/painter").content.decode()
    assert re.search(r'<textarea id="input-prompt" name="prompt"[^>]*required', page)
    assert re.search(r'<input type="number" id="input-steps" name="steps" value="20" step="1" min="1" max="50"', page)
    assert 'id="help-prompt">What to draw' in page and 'title="required">*' in page


def test_an_older_version_can_be_shown_and_its_examples_name_it(browser, alice, cpu):
    model = add_model(alice, cpu, "painter")
    old = model.latest_version
    newer = Version.objects.create(
        model=model,
        sha256="c" * 64,
        predictor_ref="p.py:P",
        openapi_schema=ECHO_SCHEMA,
        cog_version="0.23.1",
        package="packages/none.tar.gz",
    )
    Model.objects.filter(pk=model.pk).update(latest_version=newer)
    page = html.unescape(browser.get(f"/alice/painter?version={old.sha256}").content.decode())
    assert f"alice/painter:{old.sha256}" in page and f'"version": "{old.sha256}"' in page
    assert browser.get("/alice/painter?version=nope").status_code == 404


def test_another_tenants_private_model_is_a_404(browser, bob, cpu):
    add_model(bob, cpu, "secret")
    response = browser.get("/bob/secret")
    assert response.status_code == 404 and "Back to the models" in response.content.decode()
    assert browser.post("/bob/secret/predictions", {"text": "x"}).status_code == 404
    assert not Prediction.objects.exists()


def test_pages_need_a_login(client, alice, cpu):
    add_model(alice, cpu, "painter")
    for path in ("/models", "/alice/painter", "/predictions", "/account/usage", "/account/api-tokens"):
        assert client.get(path)["Location"].startswith("/login?next="), path


# --- the playground's Run ---------------------------------------------------------------------


def test_run_creates_a_web_prediction_with_typed_input(browser, alice, cpu):
    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    response = browser.post(
        "/alice/painter/predictions", {"prompt": "a fox", "steps": "7"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 201
    prediction = Prediction.objects.get()
    assert (prediction.source, prediction.input, prediction.account) == (
        "web",
        {"prompt": "a fox", "steps": 7},
        alice.account,
    )
    body = response.json()
    times = body.pop("times")
    assert body == {
        "id": prediction.id,
        "status": "starting",
        "url": f"/p/{prediction.id}",
        "cancel_url": f"/p/{prediction.id}/cancel",
        "websocket": f"/ws/predictions/{prediction.id}/",
    }
    # The server's clock, in ms since the epoch: the page counts the seconds it has been queued.
    assert times["created"] == prediction.created_at.timestamp() * 1000
    assert times["started"] is None and times["completed"] is None
    assert times["created"] <= times["now"] <= time.time() * 1000


def test_a_file_picked_in_the_playground_is_sent_as_a_data_uri(browser, alice, cpu):
    from django.core.files.uploadedfile import SimpleUploadedFile

    schema = {
        "components": {
            "schemas": {
                "Input": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {"image": {"type": "string", "format": "uri", "title": "Image", "x-order": 0}},
                }
            }
        }
    }
    add_model(alice, cpu, "upscaler", schema=schema)
    page = browser.get("/alice/upscaler").content.decode()
    assert 'enctype="multipart/form-data"' in page and '<input type="file" id="input-image" name="image"' in page
    upload = SimpleUploadedFile("in.png", b"\x89PNG", content_type="image/png")
    response = browser.post("/alice/upscaler/predictions", {"image": upload}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    assert Prediction.objects.get().input == {"image": "data:image/png;base64,iVBORw=="}


def test_run_reports_bad_fields_by_name_and_creates_nothing(browser, alice, cpu):
    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    response = browser.post("/alice/painter/predictions", {"prompt": "", "steps": "99"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 422
    assert response.json() == {
        "errors": {"prompt": ["prompt is required"], "steps": ["steps must be less than or equal to 50"]}
    }
    assert not Prediction.objects.exists()


def test_without_javascript_errors_come_back_next_to_the_fields_with_the_values_kept(browser, alice, cpu):
    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    response = browser.post("/alice/painter/predictions", {"prompt": "a fox", "steps": "99"})
    page = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="error-steps" >steps must be less than or equal to 50</p>', page)
    assert 'value="99"' in page and ">a fox</textarea>" in page


def test_without_javascript_a_run_opens_the_prediction_page(browser, alice, cpu):
    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    response = browser.post("/alice/painter/predictions", {"prompt": "a fox"})
    assert response.status_code == 302 and response["Location"] == f"/p/{Prediction.objects.get().id}"


def test_run_needs_the_csrf_token(alice, cpu):
    from django.test import Client

    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    strict = logged_in(Client(enforce_csrf_checks=True), "alice")
    assert strict.post("/alice/painter/predictions", {"prompt": "a fox"}).status_code == 403
    assert not Prediction.objects.exists()


def test_run_stops_at_the_spending_limit(browser, alice, cpu):
    from decimal import Decimal

    from accounts.models import Account

    add_model(alice, cpu, "painter", schema=STEPS_SCHEMA)
    Account.objects.filter(pk=alice.account.pk).update(spending_limit=Decimal("0"))
    response = browser.post("/alice/painter/predictions", {"prompt": "a fox"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 402 and "spending limit" in response.json()["errors"]["__all__"][0]
    assert not Prediction.objects.exists()


# --- predictions ------------------------------------------------------------------------------


def make_prediction(persona, version, **fields) -> Prediction:
    return Prediction.objects.create(account=persona.account, model=version.model, version=version, **fields)


def test_history_lists_status_model_duration_and_cost_and_filters(browser, alice, bob, echo_version, cpu):
    done = make_prediction(alice, echo_version, status="succeeded", metrics={"predict_time": 1.234, "cost": "0.000123"})
    failed = make_prediction(alice, echo_version, status="failed")
    other = add_model(alice, cpu, "other", sha="d")
    elsewhere = make_prediction(alice, other.latest_version, status="succeeded")
    bobs = make_prediction(bob, echo_version, status="succeeded")
    page = browser.get("/predictions").content.decode()
    assert all(p.id in page for p in (done, failed, elsewhere)) and bobs.id not in page
    assert "1.23 s" in page and "$0.000123" in page
    page = browser.get("/predictions", {"status": "succeeded", "model": "alice/echo"}).content.decode()
    assert done.id in page and failed.id not in page and elsewhere.id not in page


def test_the_prediction_page_has_input_state_and_webhook_deliveries(browser, alice, echo_version):
    prediction = make_prediction(
        alice,
        echo_version,
        status="succeeded",
        input={"text": "hi"},
        output="hi",
        logs="said hi\n",
        metrics={"predict_time": 0.5},
        webhook="https://example.com/hook",
    )
    prediction.webhook_deliveries.create(event="completed", message_id="msg_1", url=prediction.webhook, status_code=204)
    response = browser.get(f"/p/{prediction.id}")
    page = response.content.decode()
    state = json.loads(re.search(r'id="prediction-state" type="application/json">(.*?)</script>', page).group(1))
    assert state["output"] == "hi" and state["logs"] == "said hi\n" and state["status"] == "succeeded"
    assert state["display"] == "single" and state["websocket"] == f"/ws/predictions/{prediction.id}/"
    assert state["times"]["created"] == prediction.created_at.timestamp() * 1000
    assert "&quot;text&quot;: &quot;hi&quot;" in page and "https://example.com/hook" in page and ">204<" in page


def test_another_tenants_prediction_is_a_404_and_cannot_be_canceled(client, bob, alice, echo_version):
    prediction = make_prediction(alice, echo_version, status="processing")
    logged_in(client, "bob")
    assert client.get(f"/p/{prediction.id}").status_code == 404
    assert client.post(f"/p/{prediction.id}/cancel").status_code == 404
    prediction.refresh_from_db()
    assert prediction.status == "processing"


def test_cancel_of_a_queued_prediction_is_immediate(browser, alice, echo_version):
    prediction = make_prediction(alice, echo_version)
    response = browser.post(f"/p/{prediction.id}/cancel", HTTP_ACCEPT="application/json")
    assert response.json() == {"id": prediction.id, "status": "canceled"}
    prediction.refresh_from_db()
    assert prediction.status == "canceled"


def test_the_prediction_page_renews_expired_links_to_the_predictions_output_files(browser, alice, echo_version):
    from django.core.files.base import ContentFile

    from inference.files import storage
    from inference.models import File

    prediction = make_prediction(alice, echo_version, status="succeeded", source="web")
    output = File.objects.create(
        account=alice.account,
        prediction=prediction,
        kind=File.Kind.OUTPUT,
        name="out.png",
        content_type="image/png",
        size=1,
        sha256="0" * 64,
        md5="0" * 32,
        content=ContentFile(b"x", name="out.png"),
    )
    prediction.output = f"http://testserver/v1/files/{output.id}/download/out.png?expiry=1&signature=stale"
    prediction.save()

    page = browser.get(f"/p/{prediction.id}").content.decode()
    state = json.loads(re.search(r'id="prediction-state" type="application/json">(.*?)</script>', page).group(1))

    assert state["output"] != prediction.output and "/download/out.png?" in state["output"]
    expiry, signature = re.search(r"expiry=(\d+)&signature=([\w-]+)", state["output"]).groups()
    assert storage.file_for_download(file_id=output.id, expiry=expiry, signature=signature) == output
