"""The README's code blocks, run as a reader would paste them into a fresh shell, against the
real platform: the quick start (the Python client, curl, reading an output file over http) and
`hearth push`.

What changes between the README and here is data only: the URL and token `make run` would print
become this platform's, and the `demo/` models its `alice/` ones (the same zoo directories). A
block the test does not know fails it: a new block needs running here, or a line in ELSEWHERE
saying where it is proven.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ZOO

pytestmark = pytest.mark.e2e

README = ZOO.parent / "README.md"
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.S | re.M)

# Blocks not run here, by their first line, and where each is proven instead.
ELSEWHERE = {
    "make run    # the whole platform": "make test is what .ci/run runs; make run: tests/hosting/test_devserver.py",
    "HEARTH_SPEECH_MODEL=openai/whisper-large-v3": "downloads real weights from the Hugging Face Hub (no hub here)",
    "# A LoRA fine-tune of demo/text-generation": "tests/e2e/test_zoo_training.py, with the same client calls",
}


def readme_blocks() -> list[tuple[str, str]]:
    return [(kind, text) for kind, text in BLOCK.findall(README.read_text())]


def as_here(text: str, platform) -> str:
    return (
        text.replace("http://127.0.0.1:8000", platform.url)
        .replace("r8_...", platform.alice.plaintext)
        .replace("demo/", "alice/")
        .replace("path/to/cog-dir", str(ZOO / "echo"))
    )


def fresh_shell_env(home: Path) -> dict[str, str]:
    """A new login's environment, with this checkout's virtualenv first on PATH (where `pip
    install -e .` put `hearth`, `python` and `replicate`)."""
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }


def run_in_one_shell(blocks: list[tuple[str, str]], *, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run the blocks one after the other in one bash, as pasted into one terminal (an `export`
    holds for the blocks after it; a Python block is saved to a file and run with `python`);
    each block's stdout."""
    script = []
    for number, (kind, text) in enumerate(blocks):
        script.append(f"echo {_MARK}{number}")
        if kind == "python":
            (cwd / f"block{number}.py").write_text(text)
            script.append(f"python block{number}.py")
        else:
            script.append(text)
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    return re.split(rf"{_MARK}\d+\n", completed.stdout)[1:]  # curl ends without a newline


_MARK = "::readme-block::"


def test_every_block_is_run_here_or_said_to_be_proven_elsewhere():
    blocks = readme_blocks()
    assert len(blocks) >= 6
    first_lines = [text.splitlines()[0] for _, text in blocks]
    for prefix in ELSEWHERE:
        assert any(line.startswith(prefix) for line in first_lines), (
            f"ELSEWHERE names a block the README lost: {prefix}"
        )


def test_the_quick_start_runs_as_written(platform, tmp_path):
    blocks = [(kind, text) for kind, text in readme_blocks() if not any(text.startswith(p) for p in ELSEWHERE)]
    stdouts = run_in_one_shell(
        [(kind, as_here(text, platform)) for kind, text in blocks], cwd=tmp_path, env=fresh_shell_env(tmp_path)
    )
    outputs = {text.splitlines()[0]: stdout for (_, text), stdout in zip(blocks, stdouts, strict=True)}

    assert outputs["pip install replicate"].strip().endswith("hello")  # replicate.run's output
    curl = json.loads(outputs["curl -s -X POST http://127.0.0.1:8000/v1/models/demo/echo/predictions \\"])
    assert (curl["status"], curl["output"]) == ("succeeded", "hello")
    assert (tmp_path / "lighthouse.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")  # FileOutput read it
    assert outputs["import os"].endswith("\n2 vectors of 384\n")  # the openai client: a chat streamed, embeddings
    pushed = outputs["export HEARTH_URL=http://127.0.0.1:8000 HEARTH_API_TOKEN=r8_...   # REPLICATE_* work too"]
    assert re.fullmatch(r"alice/my-model:[0-9a-f]{64}\n", pushed)
    answer = platform.client().run("alice/my-model", input={"text": "pushed as the README says"})
    assert answer == "pushed as the README says"
