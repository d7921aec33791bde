"""The official JavaScript client, `replicate` 1.4.0 from npm (pinned in tests/e2e/js/package-lock.json),
against the real platform (replicate-api.md §11). One node process runs every check in
tests/e2e/js/checks.mjs and prints its outcomes as JSON; each test below asserts on one of them.

Needs Node 20 and npm on PATH; `npm ci` installs the client from the lock when node_modules is
missing or older than the lock (the npm registry must then be reachable).
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

JS_DIR = Path(__file__).parent / "js"
NPM_CI_TIMEOUT = 300
CHECKS_TIMEOUT = 180


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"the JavaScript client tests need Node 20 and npm on PATH; `{name}` is missing")
    return path


def _install() -> None:
    """`npm ci` from the lock, unless node_modules is already newer than the lock."""
    lock = JS_DIR / "package-lock.json"
    installed = JS_DIR / "node_modules" / ".package-lock.json"  # written by npm on every install
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    result = subprocess.run(
        [_tool("npm"), "ci", "--no-audit", "--no-fund"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def js(platform) -> dict:
    """The outcome of every check in checks.mjs, by name."""
    node = _tool("node")
    major = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    assert int(major.strip().lstrip("v").split(".")[0]) >= 20, f"Node 20 or later is needed, not {major}"
    _install()
    config = {
        "url": platform.url,
        "alice": platform.alice.plaintext,
        "bob": platform.bob.plaintext,
        "versions": platform.versions,
    }
    started = time.monotonic()
    result = subprocess.run(
        [node, "checks.mjs"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=CHECKS_TIMEOUT,
        env={**os.environ, "HEARTH_JS_CONFIG": json.dumps(config)},
    )
    assert result.returncode == 0, f"node checks.mjs failed:\n{result.stdout}\n{result.stderr}"
    outcomes = json.loads(result.stdout)
    outcomes["_seconds"] = time.monotonic() - started
    return outcomes


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ok(js: dict, name: str):
    """The value a check returned; fails with the client's error if it threw."""
    outcome = js[name]
    assert outcome["ok"], f"{name} threw {outcome['error']}"
    return outcome["value"]


def test_run_by_model_name_and_by_version(js):
    assert ok(js, "run_by_model_name") == "hello from js"
    assert ok(js, "run_by_version") == "pinned"
    assert ok(js, "run_in_poll_mode") == "polled"


def test_run_of_an_iterator_model_returns_the_tokens(js):
    assert "".join(ok(js, "run_iterator_model")) == "one two three"


def test_create_wait_and_get(js, platform):
    value = ok(js, "create_wait_get")
    created, waited, got = value["created"], value["waited"], value["got"]
    assert created["status"] == "starting"
    assert created["version"] == platform.versions["echo"]
    assert created["urls"]["get"] == f"{platform.url}/v1/predictions/{created['id']}"
    assert (waited["id"], waited["status"], waited["output"]) == (created["id"], "succeeded", "async")
    assert (got["status"], got["output"], got["model"], got["input"]) == (
        "succeeded",
        "async",
        "alice/echo",
        {"text": "async"},
    )
    assert got["started_at"] and got["completed_at"] and got["metrics"]["predict_time"] > 0


def test_create_by_model_with_a_wait_returns_the_finished_prediction(js):
    prediction = ok(js, "create_by_model_blocking")
    assert (prediction["status"], prediction["output"], prediction["model"]) == ("succeeded", "blocked", "alice/echo")


def test_list_and_paginate_newest_first(js, platform):
    value = ok(js, "list_and_paginate")
    newest_first = value["created"][::-1]
    first = value["first"]
    assert first["ids"] == newest_first[:5]  # PREDICTIONS_PAGE_SIZE is 5 on the e2e platform
    assert first["next"].startswith(f"{platform.url}/v1/predictions?")  # absolute, as JS needs
    pages = value["pages"]
    assert len(pages) == 2 and pages[0] == newest_first[:5]
    assert pages[1][:2] == newest_first[5:7]
    assert not set(value["created"]) & set(value["bobs"])


def test_cancel_a_running_prediction(js):
    value = ok(js, "cancel")
    assert value["cancel_response"]["id"] == value["final"]["id"]
    assert value["final"]["status"] == "canceled"
    assert "sleeping" in value["final"]["logs"]
    assert value["seconds_to_canceled"] < 8


def test_stream_yields_the_tokens_in_order_then_done(js):
    events = ok(js, "stream")
    outputs = [event for event in events if event["event"] == "output"]
    assert [event["data"] for event in outputs] == ["a", " stream", " of", " tokens"]
    assert "".join(event["text"] for event in events) == "a stream of tokens"  # ServerSentEvent.toString()
    assert all(event["id"] for event in events)
    assert events[-1]["event"] == "done" and json.loads(events[-1]["data"]) == {}
    by_version = ok(js, "stream_by_version")
    assert [event["event"] for event in by_version] == ["output", "output", "done"]
    assert "".join(event["data"] for event in by_version[:-1]) == "x y"


def test_stream_of_a_model_that_does_not_stream_throws(js):
    outcome = ok(js, "stream_of_a_model_that_does_not_stream")
    assert outcome["threw"] and outcome["message"] == "Prediction does not support streaming"


def test_models_get(js, platform):
    model = ok(js, "models_get")
    assert (model["owner"], model["name"], model["visibility"]) == ("alice", "echo", "private")
    assert model["url"] and model["latest_version"]["id"] == platform.versions["echo"]


def test_models_list_pages_through_what_each_tenant_may_see(js, platform):
    value = ok(js, "models_list")
    alices = {model["name"]: model["visibility"] for model in value["alice"]["models"]}
    assert value["alice"]["pages"] > 1  # more models than a page holds: paginate() followed `next`
    assert len(alices) == len(value["alice"]["models"])
    assert {f"alice/{name}" for name in platform.versions} <= set(alices)
    assert alices["alice/echo"] == "private"
    bobs = {model["name"]: model["visibility"] for model in value["bob"]["models"]}
    assert {"alice/public-echo", "alice/files"} <= set(bobs)
    assert all(visibility == "public" for name, visibility in bobs.items() if not name.startswith("bob/"))


def test_models_search_finds_only_visible_models(js):
    found = ok(js, "models_search")
    assert "alice/public-echo" in found and "alice/echo" not in found


def test_versions_list_and_get(js, platform):
    value = ok(js, "versions_list_and_get")
    assert [version["id"] for version in value["list"]["results"]] == [platform.versions["echo"]]
    got = value["got"]
    assert got["id"] == platform.versions["echo"] and got["cog_version"] and got["created_at"]
    assert got["openapi_schema"]["components"]["schemas"]["Input"]["properties"]["text"]["default"] == "hello"


def test_files_create_list_get_and_delete(js, platform):
    value = ok(js, "files")
    created = value["created"]
    assert (created["name"], created["size"], created["metadata"]) == ("notes.bin", 300, {"album": "holidays"})
    assert created["content_type"] == "application/octet-stream"
    assert created["checksums"]["sha256"] == hashlib.sha256(bytes(i % 256 for i in range(300))).hexdigest()
    assert created["urls"]["get"].startswith(f"{platform.url}/v1/files/")
    assert value["from_buffer"]["name"].startswith("buffer_") and value["from_buffer"]["metadata"] == {}
    assert value["from_buffer"]["size"] == len(b"plain buffer")
    assert {created["id"], value["from_buffer"]["id"]} <= set(value["listed_ids"])
    assert value["got"] == created
    assert value["bob_get"]["threw"] and value["bob_get"]["status"] == 404
    assert value["deleted"] is True and value["deleted_buffer"] is True
    assert value["after_delete"]["threw"] and value["after_delete"]["status"] == 404


def test_file_inputs_are_uploaded_and_file_outputs_read_back(js, platform):
    value = ok(js, "file_input_and_output")
    assert value["output"]["sha256"] == value["expected_sha256"]
    assert value["output"]["reversed"].startswith(f"{platform.url}/")  # http: stays a plain string
    assert value["reversed_status"] == 200 and value["reversed_equal"]


def test_hardware_list(js):
    hardware = ok(js, "hardware_list")
    assert isinstance(hardware, list) and hardware
    assert all(set(item) >= {"sku", "name"} for item in hardware)
    assert "cpu" in {item["sku"] for item in hardware}


def test_accounts_current(js):
    account = ok(js, "accounts_current")
    assert (account["type"], account["username"]) == ("user", "alice") and account["name"]


def test_webhooks_default_secret_get(js):
    secret = ok(js, "webhook_secret")
    assert secret["key"].startswith("whsec_") and "_" not in secret["key"][len("whsec_") :]


def test_a_failing_prediction_throws_its_error(js):
    run = ok(js, "failing_run")
    assert run["threw"] and run["message"] == "Prediction failed: out of cheese"
    value = ok(js, "failing_wait")
    assert value["waited"]["threw"] and value["waited"]["message"] == "Prediction failed: no more cheese"
    assert (value["got"]["status"], value["got"]["error"]) == ("failed", "no more cheese")
    assert "about to fail" in value["got"]["logs"]


def test_an_invalid_token_throws_an_api_error_with_401(js):
    value = ok(js, "invalid_token")
    for outcome in (value["run"], value["account"]):
        assert outcome["threw"] and outcome["name"] == "ApiError" and outcome["status"] == 401
        assert "Unauthenticated" in outcome["message"]


def test_another_tenant_gets_404_on_alices_private_prediction_and_model(js):
    value = ok(js, "ownership")
    assert value["alice_status"] == "succeeded"
    for name in ("bob_get", "bob_cancel", "bob_model", "bob_run"):
        outcome = value[name]
        assert outcome["threw"] and outcome["name"] == "ApiError" and outcome["status"] == 404, (name, outcome)


def test_past_its_deadline_before_it_starts_the_js_client_sees_canceled_and_stops_waiting(js):
    """inference/api/deadlines.py: 1.4.0's wait() stops only on succeeded, failed or canceled."""
    value = ok(js, "deadline_passed_before_start")
    created = value["created"]
    assert created["status"] == "starting" and created["deadline"]
    from_creation = _moment(created["deadline"]) - _moment(created["created_at"])
    assert abs(from_creation.total_seconds() - 5) < 1
    assert value["blocked_output"] is None and value["polled_output"] is None  # run() ended, with nothing
    assert (value["waited"]["status"], value["got"]["status"], value["got"]["output"]) == ("canceled", "canceled", None)
    assert value["got"]["deadline"] == created["deadline"]
    plain = value["plain"]  # Node's own fetch: the API as it is today
    assert (plain["status"], plain["started_at"], plain["deadline"]) == ("aborted", None, created["deadline"])
    assert "cost" not in plain["metrics"]  # it never ran: not billed
    # Told `aborted`, the same client's wait() polls on and on: here until its stop callback said so.
    assert value["other"] == {"status": "aborted", "wait_status": "aborted", "polls": 3}


def test_deployments_create_get_list_update_and_run(js, platform):
    value = ok(js, "deployments")
    release = value["created"]["current_release"]
    assert (value["created"]["owner"], value["created"]["name"], release["number"]) == ("alice", "js-echo", 1)
    assert release["configuration"] == {"hardware": "cpu", "min_instances": 0, "max_instances": 2}
    assert value["got"] == value["created"]
    assert "alice/js-echo" in value["listed_names"]
    assert value["updated"]["current_release"]["number"] == 2
    assert value["updated"]["current_release"]["configuration"]["max_instances"] == 3
    waited = value["waited"]
    assert (waited["status"], waited["output"], waited["deployment"]) == (
        "succeeded",
        "through a deployment",
        "alice/js-echo",
    )
    assert (value["polled"]["status"], value["polled"]["output"]) == ("succeeded", "polled")
    for call in ("bob_get", "bob_run", "bob_delete"):  # another tenant's deployment: a 404, nothing done
        assert value[call]["threw"] and value[call]["status"] == 404, value[call]


def test_the_checks_are_quick(js):
    assert js["_seconds"] < 30, {name: outcome["ms"] for name, outcome in js.items() if name != "_seconds"}
