"""Per-version Python environments: resolved at push, built content-addressed under
ENVIRONMENTS_DIR, refused at push with the cog.yaml key at fault, and pruned by disk budget.

Packages come from the session's wheelhouse (conftest.py): no index, no network."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import cog
import pytest
import yaml
from django.core.management import CommandError, call_command
from packaging.version import Version as PackageVersion

from inference.models import Model, Version
from inference.registry import environments, resolution
from inference.registry.packaging import BuildSection, build_package

REPO_ROOT = Path(__file__).resolve().parents[3]

GREETER = """\
import hearth_test_greeting
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, name: str = "world") -> str:
        return f"{hearth_test_greeting.VERSION} {name}"
"""

ECHO = """\
from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, text: str = "hello") -> str:
        return text
"""


def cog_project(directory: Path, build: dict, predict: str = ECHO, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cog.yaml").write_text(yaml.safe_dump({"build": build, "predict": "predict.py:Predictor"}))
    (directory / "predict.py").write_text(predict)
    for name, text in (files or {}).items():
        (directory / name).write_text(text)
    return directory


def push(directory: Path, ref: str) -> str:
    out = StringIO()
    call_command("push", str(directory), ref, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def built(environments_dir: Path) -> list[str]:
    """What ENVIRONMENTS_DIR holds besides its build locks."""
    if not environments_dir.exists():
        return []
    return sorted(path.name for path in environments_dir.iterdir() if path.name != ".locks")


def interpreter_says(python: Path, code: str) -> str:
    completed = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return completed.stdout.strip()


def test_a_package_the_platform_lacks_is_resolved_and_built_into_an_own_environment(alice, tmp_path, environments_dir):
    project = cog_project(tmp_path / "greeter", {"python_packages": ["hearth-test-greeting==1.0"]}, GREETER)
    push(project, "alice/greeter")

    version = Version.objects.get()
    record = version.environment
    assert record["runs_in"] == "own" and record["python"] == resolution.PLATFORM_PYTHON
    assert record["packages"]["hearth-test-greeting"] == "1.0"
    assert record["packages"]["cog"] == cog.__version__
    for name, pinned in record["packages"].items():
        PackageVersion(pinned)  # an exact version, not a range
        assert f"{name}=={pinned}" in record["lock"].splitlines()
    # uv's own output, resolving then installing, is the version's build log.
    assert "hearth-test-greeting==1.0" in version.build_log
    assert "Installed" in version.build_log and "Built the environment" in version.build_log
    # The schema was read in that environment (predict.py imports the package).
    assert version.openapi_schema["components"]["schemas"]["Output"]["type"] == "string"

    assert built(environments_dir) == [record["key"]]
    python = environments_dir / record["key"] / "bin" / "python"
    assert interpreter_says(
        python, "import hearth_test_greeting, cog; print(hearth_test_greeting.VERSION, cog.__version__)"
    ) == (f"1.0 {cog.__version__}")
    # Its own environment, not the platform's: Django is not in it.
    assert interpreter_says(python, "import importlib.util; print(importlib.util.find_spec('django'))") == "None"
    assert environments.python_for(record) == (str(python), environments_dir / record["key"] / environments.IN_USE)


def test_requirements_the_platform_meets_run_in_the_platform_environment(alice, tmp_path, environments_dir):
    project = cog_project(
        tmp_path / "m", {"python_version": resolution.PLATFORM_PYTHON, "python_packages": ["pyyaml>=5"]}
    )
    push(project, "alice/m")
    record = Version.objects.get().environment
    assert record["runs_in"] == "platform"
    assert record["packages"] == {"pyyaml": yaml.__version__}
    assert built(environments_dir) == []
    assert environments.python_for(record) == (sys.executable, None)


def test_an_extra_the_platform_lacks_gets_an_own_environment(alice, tmp_path, environments_dir):
    """requests is installed, but `requests[socks]` needs PySocks too, which the platform has not."""
    project = cog_project(tmp_path / "m", {"python_packages": ["requests[socks]"]}, "import socks\n" + ECHO)
    push(project, "alice/m")
    record = Version.objects.get().environment
    assert record["runs_in"] == "own"
    assert record["packages"]["pysocks"] == "1.7.1"
    assert built(environments_dir) == [record["key"]]


def test_versions_with_the_same_requirements_share_one_environment(alice, tmp_path, environments_dir):
    packages = {"python_packages": ["hearth-test-greeting==1.0"]}
    push(cog_project(tmp_path / "one", packages, GREETER), "alice/one")
    push(cog_project(tmp_path / "two", packages, GREETER + "\n# another model\n"), "alice/two")
    one, two = (Version.objects.get(model__name=name) for name in ("one", "two"))
    assert one.sha256 != two.sha256
    assert one.environment["key"] == two.environment["key"]
    assert built(environments_dir) == [one.environment["key"]]
    assert "Installed" not in two.build_log  # the second push found it built

    # Built again (another worker, or after pruning), from the warm uv cache: the same directory.
    environment = environments_dir / one.environment["key"]
    environments._remove_unless_in_use(environment)
    assert built(environments_dir) == []
    log = StringIO()
    assert environments.build(two.environment, log=log.write) == environment
    assert "Installed" in log.getvalue()
    assert (
        interpreter_says(environment / "bin" / "python", "import hearth_test_greeting as g; print(g.VERSION)") == "1.0"
    )

    push(cog_project(tmp_path / "three", {"python_packages": ["hearth-test-greeting==2.0"]}, GREETER), "alice/three")
    three = Version.objects.get(model__name="three")
    assert three.environment["packages"]["hearth-test-greeting"] == "2.0"
    assert three.environment["key"] != one.environment["key"]
    assert built(environments_dir) == sorted([one.environment["key"], three.environment["key"]])


def test_pushing_the_same_content_again_builds_and_reads_nothing(alice, tmp_path, environments_dir):
    project = cog_project(tmp_path / "again", {"python_packages": ["hearth-test-greeting==1.0"]}, GREETER)
    first = push(project, "alice/again")
    key = Version.objects.get().environment["key"]
    environments._remove_unless_in_use(environments_dir / key)
    assert push(project, "alice/again") == first
    assert built(environments_dir) == []  # no resolve, no build: the version was known


@dataclass
class Refusal:
    build: dict
    field: str
    named: str  # in the message
    files: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


REFUSALS = {
    "unresolvable": Refusal(
        {"python_packages": ["hearth-test-greeting==9.9"]}, "build.python_packages", "hearth-test-greeting==9.9"
    ),
    "unresolvable_in_requirements_file": Refusal(
        {"python_requirements": "requirements.txt"},
        "build.python_requirements",
        "hearth-test-greeting==9.9",
        files={"requirements.txt": "hearth-test-greeting==9.9\n"},
    ),
    "unknown_python": Refusal(
        {"python_version": "3.99"},
        "build.python_version",
        "no Python 3.99",
        settings={"PYTHON_INTERPRETERS": ["/nonexistent/python3.99"]},  # a missing interpreter is not offered
    ),
    "python_cog_cannot_run_on": Refusal({"python_version": "3.8"}, "build.python_version", "3.10 or newer"),
    "system_package_missing": Refusal(
        {"system_packages": ["definitely-not-a-deb-pkg"]}, "build.system_packages", "definitely-not-a-deb-pkg"
    ),
    "build_run_not_allowed": Refusal({"run": ["echo hi"]}, "build.run", "ALLOW_BUILD_RUN"),
    "requirements_file_bad_line": Refusal(
        {"python_requirements": "requirements.txt"},
        "build.python_requirements",
        "requirements.txt line 2: 'not a requirement!!'",
        files={"requirements.txt": "hearth-test-greeting\nnot a requirement!!\n"},
    ),
    "requirements_file_pip_option": Refusal(
        {"python_requirements": "requirements.txt"},
        "build.python_requirements",
        "requirements.txt line 2: pip options such as --extra-index-url",
        files={"requirements.txt": "# packages\n--extra-index-url x\nhearth-test-greeting\n"},
    ),
    "fails_to_build": Refusal(
        {"python_packages": ["hearth-test-broken==1.0"]}, "build.python_packages", "hearth-test-broken"
    ),
    "build_run_fails": Refusal(
        {"python_packages": ["hearth-test-greeting"], "run": ["echo installing things; exit 1"]},
        "build.run",
        "`echo installing things; exit 1` failed",
        settings={"ALLOW_BUILD_RUN": True},
    ),
}


@pytest.fixture(params=list(REFUSALS))
def refusal(request, settings) -> Refusal:
    case = REFUSALS[request.param]
    for name, value in case.settings.items():
        setattr(settings, name, value)
    resolution._interpreters.cache_clear()
    return case


def test_a_package_that_cannot_be_met_is_refused_by_push_naming_the_field(alice, tmp_path, environments_dir, refusal):
    project = cog_project(tmp_path / "m", refusal.build, files=refusal.files)
    with pytest.raises(CommandError) as refused:
        push(project, "alice/m")
    message = str(refused.value)
    assert f"cog.yaml {refusal.field}" in message and refusal.named in message
    assert not Version.objects.exists() and not Model.objects.exists()
    assert built(environments_dir) == []


def test_a_package_that_cannot_be_met_is_a_422_naming_the_field(api, alice, cpu, tmp_path, environments_dir, refusal):
    model = Model.objects.create(owner=alice.account, name="m", hardware=cpu)
    archive = build_package(cog_project(tmp_path / "m", refusal.build, files=refusal.files))
    response = api.generic(
        "POST", "/v1/models/alice/m/versions", data=archive, content_type="application/gzip", **alice.auth
    )
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert [entry["field"] for entry in problem["invalid_fields"]] == [refusal.field]
    assert refusal.named in problem["detail"]
    assert not Version.objects.exists()
    model.refresh_from_db()
    assert model.latest_version is None
    assert built(environments_dir) == []


# Builds an environment in a process of its own, the way a worker would, printing as it goes.
_BUILD_SCRIPT = """
import json, sys
import django
django.setup()
from django.conf import settings
job = json.loads(sys.argv[1])
for name, value in job["settings"].items():
    setattr(settings, name, value)
from inference.registry import environments
environments.build(job["record"], log=lambda line: print(line, end="", flush=True))
"""


def test_a_build_killed_half_way_leaves_nothing_a_runner_would_use(tmp_path, settings, environments_dir):
    settings.ALLOW_BUILD_RUN = True
    slow, pid_file = tmp_path / "slow", tmp_path / "build-run.pid"
    slow.touch()
    # Slow (stuck in build.run) while `slow` exists; the command is part of the key, so it stays.
    command = f"if [ -e {slow} ]; then echo $$ > {pid_file}; exec sleep 60; fi; echo done > hearth-ran"
    record = resolution.resolve(
        BuildSection(python_packages=("hearth-test-greeting==1.0",), run=(command,)), log=lambda line: None
    )
    job = {
        "record": record,
        "settings": {
            name: str(getattr(settings, name)) if isinstance(getattr(settings, name), Path) else getattr(settings, name)
            for name in ("PACKAGE_INDEX_URL", "PACKAGE_FIND_LINKS", "ENVIRONMENTS_DIR", "UV_CACHE_DIR")
        },
    }
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hosting.settings_test", "DATA_DIR": str(tmp_path / "data")}
    builder = subprocess.Popen(
        [sys.executable, "-c", _BUILD_SCRIPT, json.dumps(job)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    build_run_pid = None
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert builder.poll() is None, "the build ended before it was killed"
            assert time.monotonic() < deadline, "the build never reached build.run"
            time.sleep(0.05)
        build_run_pid = int(pid_file.read_text())
        builder.send_signal(signal.SIGKILL)
        builder.wait(timeout=10)
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait()
        if build_run_pid is not None:  # its own session: the kill above does not reach it
            os.kill(build_run_pid, signal.SIGKILL)

    key = record["key"]
    assert not (environments_dir / key).exists()
    assert environments.environment_dir(record) == environments_dir / key
    assert built(environments_dir) == [f".building-{key}-{builder.pid}"]  # half-built, out of the way

    slow.unlink()
    python, in_use = environments.python_for(record)
    assert python == str(environments_dir / key / "bin" / "python")
    assert in_use == environments_dir / key / environments.IN_USE
    assert built(environments_dir) == [key]  # the stale build is gone
    assert (environments_dir / key / "hearth-ran").exists()
    assert interpreter_says(Path(python), "import hearth_test_greeting as g; print(g.VERSION)") == "1.0"


def fake_environment(root: Path, key: str, last_used: float) -> Path:
    """An environment as prune() sees it: 1 MiB of files and the markers a build leaves."""
    directory = root / key
    (directory / "bin").mkdir(parents=True)
    (directory / "bin" / "python").write_bytes(os.urandom(1024 * 1024))
    (directory / environments.IN_USE).touch()
    (directory / environments.LAST_USED).touch()
    os.utime(directory / environments.LAST_USED, (last_used, last_used))
    return directory


def test_prune_removes_the_least_recently_used_environments_no_runner_holds(environments_dir):
    now = time.time()
    oldest = fake_environment(environments_dir, "a" * 64, now - 300)
    older = fake_environment(environments_dir, "b" * 64, now - 200)
    newest = fake_environment(environments_dir, "c" * 64, now - 100)
    (environments_dir / f".building-{'d' * 64}-1").mkdir()  # a build in progress is not pruned
    mib = 1024 * 1024

    # A runner holds a shared flock on .in-use for its life, through a descriptor its child inherits.
    descriptor = os.open(oldest / environments.IN_USE, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    runner = subprocess.Popen(["sleep", "60"], pass_fds=(descriptor,))
    os.close(descriptor)
    try:
        # Three environments, room for two and a half: the oldest is in use, so the next goes.
        assert environments.prune(budget=int(2.5 * mib)) == [older.name]
        assert oldest.exists() and not older.exists() and newest.exists()
        # Room for one: the in-use one stays, whatever the budget; `keep` is kept too.
        assert environments.prune(budget=mib, keep=newest.name) == []
        assert oldest.exists() and newest.exists()
    finally:
        runner.kill()
        runner.wait()
    # The runner gone, the oldest is the first to go.
    assert environments.prune(budget=int(1.5 * mib)) == [oldest.name]
    assert built(environments_dir) == [f".building-{'d' * 64}-1", newest.name]


def test_prune_clears_what_dead_builds_and_removals_left_behind(environments_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead_build = environments_dir / f".building-{'e' * 64}-{gone.pid}"
    live_build = environments_dir / f".building-{'f' * 64}-{os.getpid()}"
    half_removed = environments_dir / f".removing-{'g' * 64}-{gone.pid}"
    for path in (dead_build, live_build, half_removed):
        (path / "bin").mkdir(parents=True)
    environments.prune(budget=10 * 1024**3)
    assert built(environments_dir) == [live_build.name]


def test_using_an_environment_makes_it_recently_used(environments_dir):
    now = time.time()
    first = fake_environment(environments_dir, "a" * 64, now - 300)
    second = fake_environment(environments_dir, "b" * 64, now - 200)
    python, _ = environments.python_for({"runs_in": "own", "key": first.name})
    assert python == str(first / "bin" / "python")
    assert environments.prune(budget=int(1.5 * 1024 * 1024)) == [second.name]
    assert first.exists()


@pytest.mark.parametrize(
    ("status", "installed"),
    [("install ok installed", True), ("unknown ok not-installed", False), ("deinstall ok config-files", False)],
)
def test_a_system_package_counts_only_when_dpkg_has_it_installed(tmp_path, monkeypatch, status, installed):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dpkg-query"
    fake.write_text(f"#!/bin/sh\nprintf '%s' '{status}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert resolution.system_package_installed("libfoo1") is installed
