import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Account, ApiToken, token_digest
from hosting import devserver

REPO_ROOT = Path(__file__).resolve().parents[2]


def create(*args) -> str:
    out = StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue().strip()


def test_it_creates_a_user_account_and_prints_a_working_token(db, api):
    token = create("carol", "--password", "a long password 42")
    assert token.startswith("r8_")
    assert Account.objects.get(username="carol").kind == "user"
    assert ApiToken.objects.get(digest=token_digest(token)).account.username == "carol"
    response = api.get("/v1/account", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["username"] == "carol"


def test_running_it_again_issues_another_token(db):
    first, second = create("carol"), create("carol")
    assert first != second
    assert ApiToken.objects.filter(account__username="carol").count() == 2


# The command commits in its own process; serialized_rollback like every transactional test here.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_by_hand_after_make_run_it_finds_make_runs_key_and_database(api, tmp_path, monkeypatch):
    """`manage.py createuser` in a fresh shell: no SECRET_KEY or DATABASE_URL in its environment."""
    shell = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}

    def createuser() -> subprocess.CompletedProcess:
        command = [sys.executable, "manage.py", "createuser", "carol"]
        return subprocess.run(command, cwd=REPO_ROOT, env=shell, capture_output=True, text=True, timeout=120)

    refused = createuser()  # before make run ever ran
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr

    database = connection.settings_dict  # the test database
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    monkeypatch.setenv(
        "DATABASE_URL", f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    devserver._secret_key()  # what make run writes
    devserver._remember_choices()

    ran = createuser()
    assert ran.returncode == 0, ran.stderr
    token = ran.stdout.strip()
    assert ApiToken.objects.get(digest=token_digest(token)).account.username == "carol"
    assert api.get("/v1/account", HTTP_AUTHORIZATION=f"Bearer {token}").json()["username"] == "carol"
