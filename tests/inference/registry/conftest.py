"""Pushes here resolve and build environments offline: no package index, a wheelhouse made once
per session (the installed cog SDK and its requirements as wheels, plus tiny test packages),
and environments under the test's own directory."""

import io
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

from inference.registry import resolution
from tests.wheels import make_wheel, wheels_of_installed


def _sdist(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A source distribution `name-version.tar.gz` of `files` (path in the project -> text)."""
    stem = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{relative}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _broken_sdist(directory: Path) -> Path:
    """hearth-test-broken 1.0, whose build fails. Its metadata is static (pyproject.toml), so it
    resolves at `uv pip compile` and fails only when uv builds it to install."""
    try:
        metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        # No setuptools wheel to build with: a backend that does not exist fails the build too.
        backend = '[build-system]\nrequires = []\nbuild-backend = "hearth_no_such_backend"\n'
    else:
        wheels_of_installed(directory, "setuptools")
        backend = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    return _sdist(
        directory,
        "hearth-test-broken",
        "1.0",
        {
            "pyproject.toml": backend + '[project]\nname = "hearth-test-broken"\nversion = "1.0"\n',
            "setup.py": "raise SystemExit('hearth-test-broken refuses to build')\n",
            "PKG-INFO": "Metadata-Version: 2.1\nName: hearth-test-broken\nVersion: 1.0\n",
        },
    )


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    wheels_of_installed(directory, "cog")
    for version in ("1.0", "2.0"):
        make_wheel(
            directory, "hearth-test-greeting", version, {"hearth_test_greeting/__init__.py": f"VERSION = {version!r}\n"}
        )
    # A newer cog than the platform's: environments still get the platform's (its runner's protocol).
    make_wheel(directory, "cog", "99.0", {"cog/__init__.py": "raise ImportError('not the platform cog')\n"})
    # What `requests[socks]` adds, which the platform does not have.
    make_wheel(directory, "PySocks", "1.7.1", {"socks.py": "PROXY_TYPE_SOCKS5 = 2\n"})
    _broken_sdist(directory)
    return directory


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    """One uv cache for the session, warm after the first build, as on a worker."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(autouse=True)
def environments_dir(settings, tmp_path, wheelhouse, uv_cache) -> Path:
    """ENVIRONMENTS_DIR of this test; packages come from the wheelhouse only."""
    settings.PACKAGE_INDEX_URL = ""
    settings.PACKAGE_EXTRA_INDEX_URLS = []
    settings.PACKAGE_FIND_LINKS = [str(wheelhouse)]
    settings.ENVIRONMENTS_DIR = tmp_path / "environments"
    settings.UV_CACHE_DIR = uv_cache
    settings.PYTHON_INTERPRETERS = []
    settings.PYTHON_DOWNLOADS = False
    settings.SYSTEM_PACKAGES = []
    settings.ALLOW_BUILD_RUN = False
    resolution._interpreters.cache_clear()  # it read PYTHON_INTERPRETERS once
    yield settings.ENVIRONMENTS_DIR
    resolution._interpreters.cache_clear()
