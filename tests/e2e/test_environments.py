"""Per-version Python environments end to end: `hearth push` to a real Daphne resolves and
builds cog.yaml `build:` offline from a wheelhouse, and a real Celery worker runs each version's
runner in its own environment, through the unmodified `replicate` client.

A platform of its own (not the session's `platform`): its processes need the package settings,
and its worker serves a hardware SKU of its own, so predictions here reach this worker only,
whichever other e2e platform shares the database and Redis.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cog
import pytest
import replicate
from django.conf import settings

from billing.models import Hardware
from hosting import processes
from inference.models import Version
from tests.conftest import Persona, make_persona
from tests.inference.runtime.test_schema import EXAMPLE
from tests.live_platform import server_env
from tests.wheels import make_wheel, wheels_of_installed

pytestmark = pytest.mark.e2e

HEARTH = Path(sys.executable).with_name("hearth")
SKU = "cpu-environments"  # the queue of this module's worker alone

GREETING = """\
import sys

import hearth_test_greeting
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, name: str = Input(default="world")) -> str:
        print(f"running in {sys.prefix}")
        return hearth_test_greeting.greet(name)
"""

PINNED = """\
import hearth_test_pinned
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self) -> str:
        print(f"hearth-test-pinned {hearth_test_pinned.__version__}")
        return hearth_test_pinned.__version__
"""


@dataclass
class EnvironmentsPlatform:
    url: str
    erin: Persona
    worker: subprocess.Popen
    versions: dict[str, str]

    def client(self) -> replicate.Client:
        return replicate.Client(api_token=self.erin.plaintext, base_url=self.url)


def _wheelhouse(directory: Path) -> Path:
    """The cog SDK and its dependencies, re-packed from the platform's, and the test packages."""
    wheels_of_installed(directory, "cog")
    greeting = 'def greet(name):\n    return f"Hello, {name}, from hearth-test-greeting"\n'
    make_wheel(directory, "hearth-test-greeting", "1.0", {"hearth_test_greeting/__init__.py": greeting})
    for version in ("1.0", "2.0"):
        make_wheel(
            directory, "hearth-test-pinned", version, {"hearth_test_pinned/__init__.py": f"__version__ = {version!r}\n"}
        )
    # The golden predictor pins numpy but never imports it: a stand-in wheel keeps the suite offline.
    make_wheel(directory, "numpy", "1.26.4", {"numpy/__init__.py": '__version__ = "1.26.4"\n'})
    return directory


def _model(directory: Path, predictor: str, packages: list[str]) -> Path:
    directory.mkdir(parents=True)
    (directory / "predict.py").write_text(predictor)
    listed = "".join(f'    - "{package}"\n' for package in packages)
    (directory / "cog.yaml").write_text(f'build:\n  python_packages:\n{listed}predict: "predict.py:Predictor"\n')
    return directory


def _push(url: str, persona: Persona, directory: Path, ref: str) -> Callable[[], str]:
    """Start `hearth push` of `directory` to `ref`; a call that waits for it and gives the version id."""
    env = {"PATH": os.environ["PATH"], "HEARTH_URL": url, "HEARTH_API_TOKEN": persona.plaintext}
    process = subprocess.Popen(
        [str(HEARTH), "push", str(directory), ref, "--hardware", SKU],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def version() -> str:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        assert stdout.startswith(f"{ref}:"), stdout
        return stdout.strip().rsplit(":", 1)[1]

    return version


@pytest.fixture(scope="module")
def envs(django_db_setup, django_db_blocker, tmp_path_factory):
    wheelhouse = _wheelhouse(tmp_path_factory.mktemp("wheelhouse"))
    models = tmp_path_factory.mktemp("models")
    with django_db_blocker.unblock():
        Hardware.objects.get_or_create(sku=SKU, defaults={"name": "CPU (environments)", "price_per_second": "0.0001"})
        erin = make_persona("erin")
    log_dir = tmp_path_factory.mktemp("environments-logs")
    port = processes.free_port()
    env = {
        **server_env(port),
        "PACKAGE_INDEX_URL": "",  # no index: the wheelhouse only
        "PACKAGE_FIND_LINKS": str(wheelhouse),
        "SYSTEM_PACKAGES": "ffmpeg",
        "ALLOW_BUILD_RUN": "true",
    }
    daphne = processes.start_daphne(host="127.0.0.1", port=port, env=env, output=(log_dir / "daphne.log").open("ab"))
    worker = processes.start_worker(queues=SKU, env=env, output=(log_dir / "worker.log").open("ab"))
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_for_http(f"{url}/v1/hardware", daphne)
        # Side by side, but the second version of erin/pinned after the first, whose push creates the model.
        pushes = {
            "greeting": _push(
                url, erin, _model(models / "greeting", GREETING, ["hearth-test-greeting==1.0"]), "erin/greeting"
            ),
            "pinned-1": _push(
                url, erin, _model(models / "pinned-1", PINNED, ["hearth-test-pinned==1.0"]), "erin/pinned"
            ),
            "golden": _push(url, erin, EXAMPLE, "erin/golden"),
        }
        versions = {name: pushed() for name, pushed in pushes.items()}
        versions["pinned-2"] = _push(
            url, erin, _model(models / "pinned-2", PINNED, ["hearth-test-pinned==2.0"]), "erin/pinned"
        )()
        yield EnvironmentsPlatform(url=url, erin=erin, worker=worker, versions=versions)
    finally:
        processes.stop(worker)
        processes.stop(daphne)
        for log in sorted(log_dir.iterdir()):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-5000:]}")


def _version(django_db_blocker, version_id: str) -> Version:
    with django_db_blocker.unblock():
        return Version.objects.get(sha256=version_id)


def _environment(django_db_blocker, version_id: str) -> dict:
    return _version(django_db_blocker, version_id).environment


def _runner_interpreters(worker: subprocess.Popen) -> set[str]:
    """The interpreters of the worker's runner processes alive now (its children)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == worker.pid and command[0]:
            found.add(command[0].decode())
    return found


def _environment_python(environment: dict) -> str:
    return str(Path(settings.ENVIRONMENTS_DIR) / environment["key"] / "bin" / "python")


def test_a_package_the_platform_lacks_is_installed_in_the_versions_environment(envs, django_db_blocker):
    with pytest.raises(ImportError):
        __import__("hearth_test_greeting")  # the platform itself does not have it

    environment = _environment(django_db_blocker, envs.versions["greeting"])
    assert environment["runs_in"] == "own"
    assert environment["packages"]["hearth-test-greeting"] == "1.0"
    assert environment["packages"]["cog"] == cog.__version__  # the runner's SDK, in every environment

    client = envs.client()
    assert client.run("erin/greeting", input={"name": "erin"}) == "Hello, erin, from hearth-test-greeting"
    prediction = client.models.predictions.create(model="erin/greeting", input={})
    prediction.wait()
    assert (prediction.status, prediction.output) == ("succeeded", "Hello, world, from hearth-test-greeting")
    assert prediction.logs == f"running in {Path(_environment_python(environment)).parent.parent}\n"


def test_two_versions_pinning_different_versions_of_a_package_are_warm_on_one_worker(envs, django_db_blocker):
    first, second = envs.versions["pinned-1"], envs.versions["pinned-2"]
    environments = {v: _environment(django_db_blocker, v) for v in (first, second)}
    assert [environments[v]["runs_in"] for v in (first, second)] == ["own", "own"]
    assert [environments[v]["packages"]["hearth-test-pinned"] for v in (first, second)] == ["1.0", "2.0"]
    assert environments[first]["key"] != environments[second]["key"]

    client = envs.client()
    ran = []
    for version in (first, second, first, second):
        prediction = client.predictions.create(version=version, input={})
        prediction.wait()
        ran.append((prediction.status, prediction.output, prediction.logs, prediction.metrics["cold_boot"]))

    assert ran == [
        ("succeeded", "1.0", "hearth-test-pinned 1.0\n", True),
        ("succeeded", "2.0", "hearth-test-pinned 2.0\n", True),
        ("succeeded", "1.0", "hearth-test-pinned 1.0\n", False),  # both runners stayed warm
        ("succeeded", "2.0", "hearth-test-pinned 2.0\n", False),
    ]
    # Side by side in the one worker, each with its own environment's interpreter.
    assert {_environment_python(environments[v]) for v in (first, second)} <= _runner_interpreters(envs.worker)


def test_the_cog_golden_predictor_runs_and_keeps_cogs_schema(envs, django_db_blocker):
    pushed = _version(django_db_blocker, envs.versions["golden"])
    environment = pushed.environment
    assert environment["runs_in"] == "own"  # build.run always takes an environment of its own
    assert environment["python"] == "3.11"
    assert environment["packages"]["numpy"] == "1.26.4"
    assert environment["run"] == ["echo hello"]
    assert "Running echo hello\nhello\n" in pushed.build_log  # it ran, in the build, at push

    client = envs.client()
    version = client.models.get("erin/golden").latest_version
    assert version.id == envs.versions["golden"]
    # Equal, not in the same key order: PostgreSQL's jsonb keeps none (test_schema checks the order).
    # The whole of cog's document, its training half too (cog.yaml has `train: train.py:train`).
    assert version.openapi_schema == json.loads((EXAMPLE / "openapi_schema.cog-0.16.12.json").read_text())

    output = client.run(f"erin/golden:{version.id}", input={"prompt": "a lighthouse at dusk", "steps": 4})
    assert output == {"text": "a lighthouse at dusk", "score": 1.0, "image": None}
