"""Every `build:` key Cog knows is honoured or refused with its reason, naming the key."""

import cog
import pytest

from inference.registry.packaging import PackageError, read_cog_config


def config_of(tmp_path, cog_yaml: str, **files: str):
    (tmp_path / "cog.yaml").write_text(cog_yaml + 'predict: "predict.py:Predictor"\n')
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return read_cog_config(tmp_path)


@pytest.mark.parametrize(
    ("cog_yaml", "field", "reason"),
    [
        (
            "build:\n  gpu: true\n  python_packages: [torch]\n",
            "build.python_packages",
            "torch version must be specified",
        ),
        ("build:\n  python_version: 3.10\n", "build.python_version", "quote it"),
        ('build:\n  python_version: "three"\n', "build.python_version", "not a Python version"),
        ("build:\n  sdk_version: 0.16.0\n", "build.sdk_version", f"runs the cog {cog.__version__} SDK"),
        ("build:\n  pyhton_version: '3.11'\n", "build.pyhton_version", "keys Cog does not know: pyhton_version"),
        (
            "weights:\n  - source: https://example.com/w\n    target: /src/w\n",
            "weights",
            "weights entry 1 needs a name",
        ),
        ("build:\n  run: [{mounts: []}]\n", "build.run", "is not a command"),
        ("build:\n  system_packages: {ffmpeg: 1}\n", "build.system_packages", "must be a list"),
    ],
)
def test_what_cog_refuses_is_refused_with_its_reason_and_key(tmp_path, cog_yaml, field, reason):
    with pytest.raises(PackageError, match=reason) as refused:
        config_of(tmp_path, cog_yaml)
    assert refused.value.field == field


def test_a_gpu_model_with_a_pinned_torch_in_its_requirements_file_is_taken(tmp_path):
    config = config_of(
        tmp_path,
        "build:\n  gpu: true\n  cuda: '12.4'\n  python_requirements: requirements.txt\n",
        **{"requirements.txt": "torch==2.5.1\n# a comment\nnumpy>=1.26  # trailing comment\n"},
    )
    assert config.build.python_packages == ("torch==2.5.1", "numpy>=1.26")
    assert config.build.packages_field == "build.python_requirements"


def test_pre_install_runs_before_run_and_the_command_form_is_read(tmp_path):
    config = config_of(
        tmp_path,
        "build:\n  pre_install: ['echo first']\n  run:\n    - echo second\n    - command: echo third\n      mounts: []\n",
    )
    assert config.build.run == ("echo first", "echo second", "echo third")


def test_the_platforms_own_sdk_version_is_accepted(tmp_path):
    config = config_of(tmp_path, f"build:\n  sdk_version: {cog.__version__}\n  python_version: '3.12'\n")
    assert config.build.python_version == "3.12"


@pytest.mark.parametrize(
    ("line", "reason"),
    [("not a requirement!!", "line 2: 'not a requirement!!' is not a valid"), ("--extra-index-url x", "line 2: pip")],
)
def test_a_malformed_requirements_file_is_refused_naming_the_line(tmp_path, line, reason):
    with pytest.raises(PackageError, match=reason) as refused:
        config_of(
            tmp_path,
            "build:\n  python_requirements: requirements.txt\n",
            **{"requirements.txt": f"numpy==1.26.4\n{line}\n"},
        )
    assert refused.value.field == "build.python_requirements"
