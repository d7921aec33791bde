"""Wheelhouses for environment tests, made on the spot so the suite needs no package index.

`make_wheel` writes a tiny pure-Python package; `wheels_of_installed` packs distributions the
platform has installed (the cog SDK and what it needs) back into wheels, tags and all, which
uv then installs into a version's environment from PACKAGE_FIND_LINKS like any wheelhouse.
"""

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write_wheel(path: Path, files: dict[str, bytes], dist_info: str) -> Path:
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def make_wheel(
    directory: Path, name: str, version: str, modules: dict[str, str], requires: tuple[str, ...] = ()
) -> Path:
    """A py3-none-any wheel of `name` `version` holding `modules` (path in the wheel -> source)."""
    directory.mkdir(parents=True, exist_ok=True)
    normalized = name.replace("-", "_")
    dist_info = f"{normalized}-{version}.dist-info"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {path: source.encode() for path, source in modules.items()}
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{meta}".encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: hearth-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    return _write_wheel(directory / f"{normalized}-{version}-py3-none-any.whl", files, dist_info)


def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    markers = {**default_environment(), "extra": ""}
    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        distribution = metadata.distribution(name)
        seen[name] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(markers):
                pending.append(requirement.name)
    return list(seen.values())


def wheels_of_installed(directory: Path, *names: str) -> list[Path]:
    """Wheels of the installed distributions `names` and everything they require."""
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    for distribution in _closure(names):
        files: dict[str, bytes] = {}
        dist_info = ""
        for file in distribution.files or []:
            if file.parts[0].endswith(".dist-info"):
                dist_info = file.parts[0]
                if file.name in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}:
                    continue
            if "__pycache__" in file.parts or file.parts[0] == ".." or file.name.endswith(".pyc"):
                continue
            located = Path(str(file.locate()))
            if located.is_file():
                files[file.as_posix()] = located.read_bytes()
        tags = [
            line.split(":", 1)[1].strip()
            for line in (distribution.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")
        ]
        python_tag, abi_tag, platform_tag = (
            ".".join(sorted(set(part))) for part in zip(*(t.split("-") for t in tags), strict=True)
        )
        stem = dist_info.removesuffix(".dist-info")
        made.append(_write_wheel(directory / f"{stem}-{python_tag}-{abi_tag}-{platform_tag}.whl", files, dist_info))
    return made
