"""schemathesis 4 over /v1/openapi.json against the real platform (Daphne, the Celery worker and
its runners, PostgreSQL, Redis): every operation, every check, in the coverage, fuzzing and
stateful phases, and not one failure. What the document states is what the server does.

The exceptions, each for a reason the document cannot state, are in schemathesis.toml beside
this file. The run fuzzes as an account of its own, `fuzzer`, with a model of its own
(`fuzzer/echo`), so it reaches real objects (predictions that run, models it may delete)
without touching the objects other end-to-end tests count.
"""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from inference.deployments.services import deployment_create
from inference.models import Version
from tests.conftest import ZOO, Persona, make_persona

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Cases per operation and phase: about 1,400 requests, 25-40 s of the run on 2 cores (a run of
# 100 takes four times as long and has found nothing more).
MAX_EXAMPLES = 25
RUN_TIMEOUT_SECONDS = 480


@pytest.fixture(scope="module")
def fuzzer(platform, django_db_blocker) -> tuple[Persona, str]:
    """The fuzzing account and the version id of its private model `fuzzer/echo`, which its
    deployment `fuzzer/echo` runs."""
    with django_db_blocker.unblock():
        persona = make_persona("fuzzer")
        out = StringIO()
        call_command("push", str(ZOO / "echo"), "fuzzer/echo", stdout=out, stderr=StringIO())
        version = Version.objects.get(model__owner__username="fuzzer", model__name="echo")
        deployment_create(
            account=persona.account,
            name="echo",
            version=version,
            hardware=version.model.hardware,
            min_instances=0,
            max_instances=1,
        )
    return persona, version.sha256


def _config(version: str) -> str:
    """schemathesis.toml, plus values that reach the fuzzer's own objects half of the time."""
    return f"""{CONFIG.read_text()}
[dictionaries.owners]
values = ["fuzzer"]
[dictionaries.model_names]
values = ["echo"]
[dictionaries.model_refs]
values = ["fuzzer/echo"]
[dictionaries.versions]
values = ["{version}", "fuzzer/echo:{version}"]
[dictionaries.texts]
values = ["hello"]

[parameters]
"path.owner" = {{ dictionary = "owners", probability = 0.5 }}
"path.name" = {{ dictionary = "model_names", probability = 0.5 }}
"body.owner" = {{ dictionary = "owners", probability = 0.5 }}
"body.version" = {{ dictionary = "versions", probability = 0.5 }}
"body.model" = {{ dictionary = "model_refs", probability = 0.5 }}
"body.input.text" = {{ dictionary = "texts", probability = 0.5 }}
"""


def _operation_count(document: dict) -> int:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for operations in document["paths"].values() for method in operations if method in methods)


def _failures(output: str) -> str:
    """The report's failures and summary, without the banner and the progress lines."""
    start = output.find("=== FAILURES ===")
    if start == -1:
        start = output.find("=== ERRORS ===")
    return output[start:] if start != -1 else output[-8000:]


def test_every_check_is_on():
    """schemathesis 4 runs every check it has unless its configuration turns one off; ours turns
    none off for the whole run (its exceptions are per operation, each with its reason)."""
    import schemathesis.specs.openapi.checks  # noqa: F401  # registers the OpenAPI checks
    from schemathesis.checks import CHECKS
    from schemathesis.config import SchemathesisConfig

    checks = SchemathesisConfig.from_path(str(CONFIG)).projects.get_default().checks_config_for()
    names = CHECKS.get_all_names()
    assert len(names) >= 14 and "negative_data_rejection" in names
    assert [name for name in names if not checks.get_by_name(name=name).enabled] == []


def test_schemathesis_finds_nothing_over_every_operation(platform, fuzzer, tmp_path):
    persona, version = fuzzer
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(version))
    document_url = f"{platform.url}/v1/openapi.json"
    operations = _operation_count(httpx.get(document_url, timeout=30).json())

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            document_url,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--header",
            f"Authorization: Bearer {persona.plaintext}",
        ],
        cwd=tmp_path,  # its caches and reports stay out of the checkout
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, _failures(output)
    assert f"{operations} selected / {operations} total" in output, output[:2000]
    assert f"Tested: {operations}\n" in output, _failures(output)
    # Warnings (an operation that mostly answered 404 or 422 to random data: the document cannot
    # name the objects that exist) are shown in the output but are no finding; failures and errors are.
    assert "Failures:" not in output and "Errors:" not in output, _failures(output)
    assert "No issues found" in output or " warnings in " in output or " warning in " in output, _failures(output)
