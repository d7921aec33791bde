"""Real processes for end-to-end and browser tests (a plugin of tests/conftest.py): Daphne and
a Celery worker on the test database (PostgreSQL) and Redis, driven with the unmodified
`replicate` client.

The data these tests need is created once per session and committed, so the servers can
see it. pytest-django runs tests without database marks last, after every flush.
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import replicate
from django.conf import settings

from billing.models import Hardware
from billing.skus import seed_default_hardware
from hosting import processes
from hosting.redis_clients import sync_client
from tests.conftest import FIXTURE_MODELS, ZOO, Persona, make_persona
from tests.zoo.packages import ONE_THREAD, load_package_module
from tests.zoo.tiny_blip import build_tiny_blip
from tests.zoo.tiny_diffusion_and_embeddings import build_tiny_diffusion
from tests.zoo.tiny_whisper import build_tiny_whisper

E2E_PAGE_SIZE = 5
E2E_FILE_MAX_BYTES = 2_000_000


def server_env(port: int, text_model: Path | None = None) -> dict[str, str]:
    """The environment of a platform's processes on the test database, serving on `port`."""
    database = settings.DATABASES["default"]
    database_url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hosting.settings_test",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PREDICTIONS_PAGE_SIZE": str(E2E_PAGE_SIZE),
        "PYTHONUNBUFFERED": "1",
        "STREAM_KEEPALIVE_SECONDS": "1",
        "PREDICTION_HEARTBEAT_SECONDS": "1",
        "KEEP_WARM_INTERVAL_SECONDS": "1",  # deployments' instances are booted within a second
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "INPUT_URL_ALLOWED_NETWORKS": "127.0.0.0/8",  # the tests' own HTTP server stands for the internet
        "WEIGHTS_ALLOWED_NETWORKS": "127.0.0.0/8",  # and for where cog.yaml weights come from
        "FILE_MAX_BYTES": str(E2E_FILE_MAX_BYTES),
    }
    if text_model is not None:
        env["HEARTH_TEXT_MODEL"] = str(text_model)  # tiny random weights, built below
    return env


@dataclass
class Platform:
    url: str
    alice: Persona
    bob: Persona
    versions: dict[str, str]
    worker: subprocess.Popen
    log_dir: Path
    env: dict[str, str]

    def restart_worker(self) -> None:
        """A fresh worker process, as after a crash (the old one must be gone already)."""
        self.worker = processes.start_worker(
            queues="cpu,default", env=self.env, output=(self.log_dir / "worker.log").open("ab")
        )

    def client(self, persona: Persona | None = None, token: str | None = None) -> replicate.Client:
        return replicate.Client(api_token=token or (persona or self.alice).plaintext, base_url=self.url)


def _push(directory: Path, ref: str, visibility: str = "private") -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("push", str(directory), ref, visibility=visibility, stdout=out, stderr=StringIO())
    return out.getvalue().strip().rsplit(":", 1)[1]


def _declare_as_the_zoo_does(persona: Persona, names: tuple[str, ...]) -> None:
    """The OpenAI-compatible API's declarations of these zoo models (`openai_api` in their
    catalogue.json), set on the persona's pushes of them as `make run` sets them on demo's."""
    from inference.models import Model

    for name in names:
        declared = json.loads((ZOO / name / "catalogue.json").read_text())["openai_api"]
        Model.objects.filter(owner=persona.account, name=name).update(openai_api=declared)


@pytest.fixture(scope="session")
def platform(django_db_setup, django_db_blocker, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    sync_client().flushdb()
    with django_db_blocker.unblock():
        seed_default_hardware(Hardware)  # flushed by transactional tests that ran before
        alice, bob = make_persona("alice"), make_persona("bob")
        versions = {
            "echo": _push(ZOO / "echo", "alice/echo"),
            "public-echo": _push(FIXTURE_MODELS / "public-echo", "alice/public-echo", visibility="public"),
            "tokens": _push(ZOO / "tokens", "alice/tokens"),
            "fails": _push(FIXTURE_MODELS / "fails", "alice/fails"),
            "sleeper": _push(FIXTURE_MODELS / "sleeper", "alice/sleeper"),
            "chatty": _push(FIXTURE_MODELS / "chatty", "alice/chatty"),
            "crasher": _push(FIXTURE_MODELS / "crasher", "alice/crasher"),
            "streamfail": _push(FIXTURE_MODELS / "streamfail", "alice/streamfail"),
            "concurrent": _push(FIXTURE_MODELS / "concurrent", "alice/concurrent"),
            "nul": _push(FIXTURE_MODELS / "nul", "alice/nul"),
            "text-generation": _push(ZOO / "text-generation", "alice/text-generation"),
            "files": _push(FIXTURE_MODELS / "files", "alice/files", visibility="public"),
            "frames": _push(FIXTURE_MODELS / "frames", "alice/frames"),
            "painter": _push(FIXTURE_MODELS / "painter", "alice/painter"),
            "metrics": _push(FIXTURE_MODELS / "metrics", "alice/metrics"),
            "unions": _push(FIXTURE_MODELS.parent / "cog-unions", "alice/unions"),
            "text-to-image": _push(ZOO / "text-to-image", "alice/text-to-image"),
            "embeddings": _push(ZOO / "embeddings", "alice/embeddings"),
            "speech-to-text": _push(ZOO / "speech-to-text", "alice/speech-to-text"),
            "image-captioning": _push(ZOO / "image-captioning", "alice/image-captioning"),
        }
        _declare_as_the_zoo_does(alice, ("text-generation", "embeddings"))
    text_model = load_package_module(ZOO / "text-generation", "tiny_model").build(tmp_path_factory.mktemp("tiny-llm"))
    port = processes.free_port()
    env = server_env(port, text_model)
    env["HEARTH_IMAGE_MODEL"] = str(build_tiny_diffusion(tmp_path_factory.mktemp("tiny-sdxl")))
    env["HEARTH_SPEECH_MODEL"] = str(build_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper")))
    env["HEARTH_CAPTION_MODEL"] = str(build_tiny_blip(tmp_path_factory.mktemp("tiny-blip")))
    env.pop("HEARTH_EMBEDDING_MODEL", None)  # the real all-MiniLM-L6-v2, which a package ships
    env.update(ONE_THREAD)  # for the runners of the tiny models; see its comment
    daphne = processes.start_daphne(host="127.0.0.1", port=port, env=env, output=(log_dir / "daphne.log").open("ab"))
    worker = processes.start_worker(queues="cpu,default", env=env, output=(log_dir / "worker.log").open("ab"))
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v1/hardware", daphne)
        platform = Platform(
            url=f"http://127.0.0.1:{port}",
            alice=alice,
            bob=bob,
            versions=versions,
            worker=worker,
            log_dir=log_dir,
            env=env,
        )
        # The first prediction also proves the worker is consuming its queue.
        assert platform.client().run("alice/echo", input={"text": "ready"}) == "ready"
        yield platform
    finally:
        processes.stop(platform.worker if "platform" in locals() else worker)
        processes.stop(daphne)
        for log in sorted(log_dir.iterdir()):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} ---\n{text[-5000:]}")
