"""Per-version Python environments (cog.yaml `build:`): what building one costs, what booting a
runner in one costs next to the platform's own environment, and the disk two of them take.
Prints figures; it is not a pass/fail test. Needs neither PostgreSQL nor Redis.

    .venv/bin/python bench/environments.py [--runs 3] [--boots 10] [--index [URL]]

(a) Version A asks for one tiny package; the lock adds the cog SDK and what it needs. A is built
    with an empty uv cache, then version B (A's packages and one more tiny one: another key, so
    another environment) with the cache A left. Each run starts from an empty DATA_DIR.
    Resolution (`uv pip compile`, done at push) is timed on its own, also from an empty cache.
(b) A runner for zoo/echo started with `Runner.start` in A's environment and in the platform's,
    taking turns; `boot_time` is from starting the process to setup() done. Builds compile
    bytecode, so the first boot in a fresh environment costs what the others do: shown apart. A
    third side boots in B with PYTHONDONTWRITEBYTECODE=1 (the variable set for the worker, a
    read-only DATA_DIR). The script itself unsets PYTHONDONTWRITEBYTECODE for the other runners.
(c) The disk A and B take, each hard-linked file counted once, and the uv cache they link from.

By default packages come from a local wheelhouse (PACKAGE_INDEX_URL=""): the platform's own cog
SDK and its dependencies packed into wheels by tests/wheels.py, plus the tiny packages. With
--index, the cog SDK and numpy==1.26.4 (in both versions) come from the index (PyPI by default),
so (a) includes downloading them; the tiny packages still come from the wheelhouse.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from platform_support import REPO_ROOT, percentiles

ECHO = REPO_ROOT / "zoo" / "echo"
PYPI = "https://pypi.org/simple"
INDEX_PACKAGES = ("numpy==1.26.4",)


def configure(data_dir: Path, wheelhouse: Path, index: str) -> None:
    """Django settings for this process: read once, at `django.setup()`."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="hosting.settings",
        DEBUG="true",
        DATA_DIR=str(data_dir),
        PACKAGE_INDEX_URL=index,
        PACKAGE_EXTRA_INDEX_URLS="",
        PACKAGE_FIND_LINKS=str(wheelhouse),
        PYTHON_DOWNLOADS="false",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def make_wheelhouse(wheelhouse: Path, *, with_cog: bool) -> None:
    from tests.wheels import make_wheel, wheels_of_installed

    if with_cog:
        wheels_of_installed(wheelhouse, "cog")
    for name in ("a", "b"):
        make_wheel(wheelhouse, f"hearth-bench-extra-{name}", "1.0", {f"hearth_bench_extra_{name}.py": "VALUE = 1\n"})


def timed(call, *args, **kwargs):
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return time.perf_counter() - started, result


def quiet(line: str) -> None:
    pass


def build_runs(root: Path, base: tuple[str, ...], runs: int) -> tuple[dict[str, list[float]], dict, dict]:
    """(a): seconds per step over `runs` runs, and the records of A and B (built in the last run)."""
    from django.test import override_settings

    from inference.registry import environments, resolution
    from inference.registry.packaging import BuildSection

    version_a = BuildSection(python_packages=(*base, "hearth-bench-extra-a==1.0"))
    version_b = BuildSection(python_packages=(*base, "hearth-bench-extra-a==1.0", "hearth-bench-extra-b==1.0"))
    seconds: dict[str, list[float]] = {key: [] for key in ("resolve_cold", "resolve_warm", "build_cold", "build_warm")}
    record_a = record_b = {}
    for run in range(runs):
        data = root / f"run-{run}"
        with override_settings(UV_CACHE_DIR=data / "resolve-cache", ENVIRONMENTS_DIR=data / "environments"):
            took, record_a = timed(resolution.resolve, version_a, log=quiet)
            seconds["resolve_cold"].append(took)
            took, record_b = timed(resolution.resolve, version_b, log=quiet)
            seconds["resolve_warm"].append(took)
        assert record_a["runs_in"] == "own" and record_b["runs_in"] == "own", "the platform satisfies them"
        assert record_a["key"] != record_b["key"]
        with override_settings(UV_CACHE_DIR=data / "uv-cache", ENVIRONMENTS_DIR=data / "environments"):
            took, _ = timed(environments.build, record_a, log=quiet)
            seconds["build_cold"].append(took)
            took, _ = timed(environments.build, record_b, log=quiet)
            seconds["build_warm"].append(took)
        print(
            f"  run {run + 1}: resolve {seconds['resolve_cold'][-1]:.2f} s / {seconds['resolve_warm'][-1]:.2f} s, "
            f"build {seconds['build_cold'][-1]:.2f} s / {seconds['build_warm'][-1]:.2f} s",
            flush=True,
        )
    return seconds, record_a, record_b


def boot_runs(env_a: Path, env_b: Path, boots: int) -> tuple[float, dict[str, list[float]]]:
    """(b): the first boot in A, then `boots` boots on each side, taking turns: in A, in B with
    PYTHONDONTWRITEBYTECODE=1 (it relies on the bytecode compiled at build), and in the
    platform's environment."""
    from inference.runtime.runner import Runner

    def boot(side: str) -> float:
        environment = {"A": env_a, "B": env_b}.get(side)
        runner = Runner.start(
            project_dir=ECHO,
            predictor_ref="predict.py:Predictor",
            env={"PYTHONDONTWRITEBYTECODE": "1"} if side == "B" else None,
            python=str(environment / "bin" / "python") if environment else None,
            in_use_lock=environment / ".in-use" if environment else None,
            setup_timeout=120,
        )
        try:
            result = runner.predict(prediction_id="bench", input={"text": "x"})
            assert result.status == "succeeded" and result.output == "x", result
            return runner.boot_time
        finally:
            runner.stop()

    first = boot("A")
    boot("platform")  # warm-up: the platform's interpreter and files in the page cache
    samples: dict[str, list[float]] = {"A": [], "B": [], "platform": []}
    sides = list(samples)
    for index in range(boots):
        for side in sides[index % 3 :] + sides[: index % 3]:  # no side always goes first
            samples[side].append(boot(side))
    return first, samples


def together(*directories: Path) -> int:
    """Bytes of disk under all `directories`, each inode counted once."""
    from inference.registry.environments import disk_usage

    seen: set[tuple[int, int]] = set()
    return sum(disk_usage(directory, seen) for directory in directories)


def mib(size: int) -> str:
    return f"{size / 1024**2:8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="builds of A and B, each from an empty DATA_DIR")
    parser.add_argument("--boots", type=int, default=10, help="runner boots on each side")
    parser.add_argument(
        "--index", nargs="?", const=PYPI, default="", help=f"take the cog SDK and numpy from this index ({PYPI})"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hearth-bench-environments-") as scratch:
        root = Path(scratch)
        wheelhouse = root / "wheelhouse"
        make_wheelhouse(wheelhouse, with_cog=not args.index)
        configure(root / "data", wheelhouse, args.index)
        from inference.registry import environments, resolution

        base = INDEX_PACKAGES if args.index else ()
        source = f"index {args.index} + wheelhouse" if args.index else 'local wheelhouse (PACKAGE_INDEX_URL="")'
        print(f"Per-version environments: Python {resolution.PLATFORM_PYTHON}, {resolution.COG_REQUIREMENT}, {source}")
        print(f"  A = {' '.join((*base, 'hearth-bench-extra-a'))} (+ cog and its dependencies); B = A + 1 tiny package")
        seconds, record_a, record_b = build_runs(root, base, args.runs)
        last = root / f"run-{args.runs - 1}"
        env_a = last / "environments" / record_a["key"]
        env_b = last / "environments" / record_b["key"]
        cache = last / "uv-cache"
        disk = {
            "A": environments.disk_usage(env_a),
            "B": environments.disk_usage(env_b),
            "A+B": together(env_a, env_b),
            "cache": environments.disk_usage(cache),
            "all": together(env_a, env_b, cache),
        }
        # A worker started by systemd or make run writes bytecode; a shell or image may not.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        first_boot, boots = boot_runs(env_a, env_b, args.boots)
        a_after_boots = environments.disk_usage(env_a)

    def row(label: str, samples: list[float]) -> str:
        return f"    {label:<52} {statistics.median(samples):7.2f} s  {min(samples):7.2f}  {max(samples):7.2f}"

    print()
    print(f"(a) {len(record_a['packages'])} packages in A, {len(record_b['packages'])} in B; {args.runs} runs")
    print(f"    {'':<52} {'median':>9}  {'min':>7}  {'max':>7}")
    print(row("resolve A at push (uv pip compile), empty cache", seconds["resolve_cold"]))
    print(row("resolve B at push, warm cache", seconds["resolve_warm"]))
    print(row("first build of A, empty uv cache", seconds["build_cold"]))
    print(row("build of B (another key), warm uv cache", seconds["build_warm"]))
    print(f"(b) runner boot_time, zoo/echo, {args.boots} boots each, taking turns")
    print(f"    {'':<52} {'p50':>9}  {'p90':>7}")
    labels = {
        "A": "in A's environment",
        "B": "in B's, PYTHONDONTWRITEBYTECODE=1",
        "platform": "in the platform's environment",
    }
    for side, label in labels.items():
        stats = percentiles(boots[side])
        print(f"    {label:<52} {stats['p50'] * 1000:6.0f} ms  {stats['p90'] * 1000:4.0f} ms")
    print(f"    {'first boot in A after its build':<52} {first_boot * 1000:6.0f} ms")
    print("(c) disk, hard-linked files counted once")
    print(f"    {'environment A':<52} {mib(disk['A'])}")
    print(f"    {'environment B':<52} {mib(disk['B'])}")
    print(f"    {'A and B together':<52} {mib(disk['A+B'])}")
    print(f"    {'uv cache (UV_CACHE_DIR)':<52} {mib(disk['cache'])}")
    print(f"    {'A, B and the cache together':<52} {mib(disk['all'])}")
    print(f"    {'environment A after the boots (with bytecode)':<52} {mib(a_after_boots)}")


if __name__ == "__main__":
    main()
