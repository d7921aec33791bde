"""The systemd units in deploy/systemd/ run what `make run` runs (hosting/processes.py), name
modules that exist, restart always, and read their settings from an environment file whose
variables are hosting/env.py's."""

import configparser
import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from hosting import processes
from hosting.env import HearthEnv

UNITS = processes.REPO_ROOT / "deploy" / "systemd"
STATE = Path("/var/lib/hearth")
EXPECTED_ARGS = {
    "hearth-web.service": processes.daphne_args(host="127.0.0.1", port=8000),
    "hearth-worker.service": processes.worker_args(queues="cpu,default", loglevel="info"),
    "hearth-beat.service": processes.beat_args(schedule=STATE / "celerybeat-schedule"),
}


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def test_every_service_has_its_expected_command():
    assert sorted(path.name for path in UNITS.glob("*.service")) == sorted(EXPECTED_ARGS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ARGS))
def test_a_unit_runs_what_make_run_runs_and_always_restarts(name):
    service = _unit(name)["Service"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"] == "/etc/hearth/hearth.env"
    assert service["WorkingDirectory"] == "/opt/hearth"
    assert service["StateDirectory"] == "hearth"  # /var/lib/hearth, DATA_DIR in hearth.env.example
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/hearth/.venv/bin/python"
    assert argv[1:] == EXPECTED_ARGS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_ARGS))
def test_the_modules_a_unit_names_exist(name):
    argv = shlex.split(_unit(name)["Service"]["ExecStart"])
    assert argv[1] == "-m" and importlib.util.find_spec(argv[2]) is not None, argv[2]
    if argv[2] == "daphne":
        module, attribute = argv[-1].split(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    else:
        app = argv[argv.index("-A") + 1]
        assert type(importlib.import_module(app).celery_app).__name__ == "Celery"


def test_the_target_wants_every_service():
    assert set(_unit("hearth.target")["Unit"]["Wants"].split()) == set(EXPECTED_ARGS)


def test_the_environment_file_sets_only_hearths_variables_and_the_required_ones():
    text = (UNITS / "hearth.env.example").read_text()
    assigned = re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)
    required = re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)
    storage_credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # read by boto3, not HearthEnv
    assert set(assigned) - storage_credentials <= set(HearthEnv.model_fields)
    assert set(required) == {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "ALLOWED_HOSTS", "DATA_DIR"}
    assert f"DATA_DIR={STATE}\n" in text
    values = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    HearthEnv(**values)  # the example itself parses
