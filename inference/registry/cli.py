"""`hearth`: push a Cog directory to a Hearth server from any machine.

    export HEARTH_URL=https://hearth.example.com HEARTH_API_TOKEN=r8_...
    hearth push path/to/model owner/name [--visibility private] [--hardware cpu] [--openai-api chat]

REPLICATE_BASE_URL and REPLICATE_API_TOKEN are read too, so a shell already set up for the
`replicate` client needs nothing more. Imports nothing from Django: it runs without a server.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from tqdm import tqdm

from inference.registry.packaging import PackageError, build_package, read_cog_config

_CHUNK = 256 * 1024


def _setting(*names: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    sys.exit(f"hearth: set {' or '.join(names)}")


def _fail(response: httpx.Response) -> None:
    try:
        problem = response.json()
        message = problem.get("detail") or problem.get("title") or response.text
    except ValueError:
        message = response.text
    sys.exit(
        f"hearth: {response.request.method} {response.request.url.path} failed ({response.status_code}): {message}"
    )


def _chunks(archive: bytes, progress: tqdm) -> Iterator[bytes]:
    for start in range(0, len(archive), _CHUNK):
        chunk = archive[start : start + _CHUNK]
        progress.update(len(chunk))
        yield chunk


def push(
    client: httpx.Client, directory: Path, ref: str, *, visibility: str, hardware: str, openai_api: str = ""
) -> str:
    owner, _, name = ref.partition("/")
    if not owner or not name or "/" in name:
        sys.exit("hearth: the model must be owner/name")
    try:
        read_cog_config(directory)  # fail here, before uploading, on a broken cog.yaml
        archive = build_package(directory)
    except PackageError as exc:
        sys.exit(f"hearth: {exc}")
    existing = client.get(f"/v1/models/{owner}/{name}")
    created = existing.status_code == 404
    if created:
        model = {"owner": owner, "name": name, "visibility": visibility, "hardware": hardware}
        response = client.post("/v1/models", json={**model, "openai_api": openai_api} if openai_api else model)
        if response.status_code != 201:
            _fail(response)
    elif existing.status_code != 200:
        _fail(existing)
    try:
        version = _upload(client, archive, ref)
    except SystemExit:
        if created:  # a refused push leaves nothing behind, not even the model it made for it
            client.delete(f"/v1/models/{owner}/{name}")
        raise
    return f"{ref}:{version['id']}"


def _upload(client: httpx.Client, archive: bytes, ref: str) -> dict:
    started = time.monotonic()
    with (
        tqdm(total=len(archive), unit="B", unit_scale=True, desc=f"Uploading {ref}", file=sys.stderr) as bar,
        client.stream(
            "POST",
            f"/v1/models/{ref}/versions",
            content=_chunks(archive, bar),
            headers={
                "Content-Type": "application/gzip",
                "Content-Length": str(len(archive)),
                # The server's build output, line by line as it happens, as `cog push` shows it.
                "Accept": "application/x-ndjson",
            },
        ) as response,
    ):
        if response.status_code != 200:
            response.read()
            _fail(response)
        bar.close()
        version = _follow_build(response)
    print(f"hearth: pushed in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return version


def _follow_build(response: httpx.Response) -> dict:
    """Print the build log as it streams; the version, or exit with the problem."""
    for line in response.iter_lines():
        if not line.strip():
            continue
        event = json.loads(line)
        if "log" in event:
            sys.stderr.write(event["log"])
            sys.stderr.flush()
        elif "version" in event:
            return event["version"]
        elif "problem" in event:
            problem = event["problem"]
            sys.exit(f"hearth: the push failed ({problem.get('status')}): {problem.get('detail')}")
    sys.exit("hearth: the server closed the connection before the push finished")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="hearth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    push_parser = commands.add_parser("push", help="package and upload a Cog directory as a new version")
    push_parser.add_argument("directory", type=Path)
    push_parser.add_argument("model", help="owner/name")
    push_parser.add_argument("--visibility", choices=["public", "private"], default="private")
    push_parser.add_argument("--hardware", default="cpu", help="hardware SKU for a new model")
    push_parser.add_argument(
        "--openai-api",
        choices=["chat", "embeddings"],
        help="serve a new model on the OpenAI-compatible API (/openai/v1) as a chat or embeddings model",
    )
    args = parser.parse_args(argv)

    base_url = _setting("HEARTH_URL", "REPLICATE_BASE_URL").rstrip("/")
    token = _setting("HEARTH_API_TOKEN", "REPLICATE_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "hearth-cli"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(30, write=None, read=600)) as client:
        ref = push(
            client,
            args.directory.resolve(),
            args.model,
            visibility=args.visibility,
            hardware=args.hardware,
            openai_api=args.openai_api or "",
        )
        print(ref)


if __name__ == "__main__":
    main()
