import re
from importlib import metadata
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inference.models import Model, Version
from inference.registry.packaging import build_package
from tests.conftest import FIXTURE_MODELS, ZOO


def push(directory, ref, **options) -> str:
    out = StringIO()
    call_command("push", str(directory), ref, stdout=out, **options)
    return out.getvalue().strip()


def test_push_records_a_version_with_its_schema(alice):
    ref = push(ZOO / "echo", "alice/echo", visibility="public")
    model = Model.objects.get(owner=alice.account, name="echo")
    version = model.latest_version
    assert ref == f"alice/echo:{version.sha256}"
    assert len(version.sha256) == 64
    assert model.visibility == "public" and model.hardware.sku == "cpu"
    text = version.openapi_schema["components"]["schemas"]["Input"]["properties"]["text"]
    assert (text["type"], text["default"], text["description"]) == ("string", "hello", "Text to echo back")


def test_pushing_the_same_content_again_gives_the_same_version(alice):
    first = push(ZOO / "echo", "alice/echo")
    assert push(ZOO / "echo", "alice/echo") == first
    assert Version.objects.count() == 1


def test_the_package_archive_is_reproducible(tmp_path):
    assert build_package(ZOO / "tokens") == build_package(ZOO / "tokens")


def test_a_new_content_makes_a_new_latest_version(alice, tmp_path):
    project = tmp_path / "m"
    project.mkdir()
    (project / "cog.yaml").write_text('predict: "predict.py:Predictor"\n')
    (project / "predict.py").write_text((ZOO / "echo" / "predict.py").read_text())
    first = push(project, "alice/m")
    (project / "predict.py").write_text((ZOO / "echo" / "predict.py").read_text() + "\n# changed\n")
    second = push(project, "alice/m")
    assert first != second
    assert Model.objects.get(name="m").latest_version.sha256 == second.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("case", "cog_yaml", "predict_py", "message"),
    [
        ("no_predict_ref", "build: {}\n", "", "predict"),
        ("bad_yaml", "predict: [unclosed\n", "", "YAML"),
        (
            "missing_annotation",
            'predict: "predict.py:Predictor"\n',
            "from cog import BasePredictor\nclass Predictor(BasePredictor):\n    def predict(self, x) -> str:\n        return x\n",
            "x",
        ),
        ("import_error", 'predict: "predict.py:Predictor"\n', "import not_a_module_anywhere\n", "not_a_module"),
    ],
)
def test_a_broken_package_is_refused_with_a_message(alice, tmp_path, case, cog_yaml, predict_py, message):
    (tmp_path / "cog.yaml").write_text(cog_yaml)
    (tmp_path / "predict.py").write_text(predict_py)
    with pytest.raises(CommandError, match=message):
        push(tmp_path, "alice/broken")
    assert not Version.objects.exists()


def test_push_needs_an_existing_owner(db):
    with pytest.raises(CommandError, match="no account named nobody"):
        push(FIXTURE_MODELS / "fails", "nobody/fails")


@pytest.mark.parametrize(
    ("case", "packages", "named"),
    [
        ("missing", ["definitely-not-installed-pkg==1.0"], "definitely-not-installed-pkg==1.0"),
        # The platform has another pyyaml, and no wheel of 0.0.1 exists to install.
        ("wrong_version", ["pyyaml==0.0.1"], "pyyaml==0.0.1"),
        ("unparseable", ["not a requirement!!"], "not a requirement!!"),
    ],
)
def test_python_packages_that_cannot_be_had_are_refused_by_name(alice, tmp_path, case, packages, named):
    listed = "".join(f"    - {p!r}\n" for p in packages)
    (tmp_path / "cog.yaml").write_text(f'build:\n  python_packages:\n{listed}predict: "predict.py:Predictor"\n')
    (tmp_path / "predict.py").write_text((ZOO / "echo" / "predict.py").read_text())
    with pytest.raises(CommandError, match=re.escape(named)) as refused:
        push(tmp_path, "alice/needs")
    assert "build.python_packages" in str(refused.value)
    assert not Version.objects.exists() and not Model.objects.exists()


def test_packages_the_platform_has_run_in_the_platform_environment(alice, tmp_path, environments_dir):
    (tmp_path / "cog.yaml").write_text(
        'build:\n  python_packages: ["pyyaml>=5"]\n  python_requirements: requirements.txt\n'
        'predict: "predict.py:Predictor"\n'
    )
    (tmp_path / "requirements.txt").write_text("# runtime\nhttpx\n")
    (tmp_path / "predict.py").write_text((ZOO / "echo" / "predict.py").read_text())
    assert push(tmp_path, "alice/needs").startswith("alice/needs:")
    environment = Version.objects.get().environment
    assert environment["runs_in"] == "platform"
    assert environment["packages"] == {"pyyaml": metadata.version("pyyaml"), "httpx": metadata.version("httpx")}
    assert not environments_dir.exists()  # nothing built


def test_a_version_the_platform_has_not_got_runs_in_an_environment_of_its_own(alice, tmp_path, environments_dir):
    """Once refused: a package the platform lacks is now resolved and installed for the version."""
    (tmp_path / "cog.yaml").write_text(
        'build:\n  python_packages: ["pyyaml>=5", "hearth-test-greeting<2"]\npredict: "predict.py:Predictor"\n'
    )
    (tmp_path / "predict.py").write_text((ZOO / "echo" / "predict.py").read_text())
    push(tmp_path, "alice/needs")
    environment = Version.objects.get().environment
    assert environment["runs_in"] == "own"
    assert environment["packages"]["hearth-test-greeting"] == "1.0"
    assert (environments_dir / environment["key"] / "bin" / "python").exists()
