"""`hearth push` from "another machine": only the server's URL and a token."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from replicate.exceptions import ReplicateError

from tests.conftest import FIXTURE_MODELS

pytestmark = pytest.mark.e2e
HEARTH = Path(sys.executable).with_name("hearth")


def hearth(platform, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HEARTH_URL": platform.url, "HEARTH_API_TOKEN": platform.alice.plaintext}
    return subprocess.run([str(HEARTH), *args], env=env, capture_output=True, text=True, timeout=120)


def test_hearth_push_creates_the_model_uploads_and_runs(platform):
    pushed = hearth(platform, "push", str(FIXTURE_MODELS / "chatty"), "alice/from-cli", "--visibility", "private")
    assert pushed.returncode == 0, pushed.stderr
    ref = pushed.stdout.strip()
    assert ref.startswith("alice/from-cli:") and len(ref.rsplit(":", 1)[1]) == 64
    assert "Uploading alice/from-cli" in pushed.stderr  # the progress bar
    # The server's build output, streamed: this one needs nothing the platform lacks.
    assert "The platform's environment (Python 3." in pushed.stderr
    assert re.search(r"hearth: pushed in \d+\.\d s", pushed.stderr)
    assert platform.client().run(ref, input={"n": 5}) == 5
    again = hearth(platform, "push", str(FIXTURE_MODELS / "chatty"), "alice/from-cli")
    assert again.stdout.strip() == ref


def test_hearth_push_reports_a_refused_package(platform, tmp_path):
    (tmp_path / "cog.yaml").write_text('predict: "predict.py:Predictor"\n')
    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor\nclass Predictor(BasePredictor):\n"
        "    def predict(self, x) -> str:\n        return x\n"
    )
    pushed = hearth(platform, "push", str(tmp_path), "alice/broken-cli")
    assert pushed.returncode != 0
    assert "422" in pushed.stderr and "x" in pushed.stderr
    # The model the push made for it went with it: nothing half-created.
    with pytest.raises(ReplicateError) as missing:
        platform.client().models.get("alice/broken-cli")
    assert missing.value.status == 404
