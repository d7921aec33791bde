"""`make run`'s zoo weights: what HEARTH_*_MODEL names, else tiny random demo weights built once."""

import json

from hosting import devserver


def test_a_named_model_is_used_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    monkeypatch.setenv("HEARTH_IMAGE_MODEL", "stabilityai/stable-diffusion-xl-base-1.0")

    assert devserver._demo_weights("HEARTH_IMAGE_MODEL", "text-to-image") == "stabilityai/stable-diffusion-xl-base-1.0"
    assert not (tmp_path / "demo-weights").exists()


def test_without_one_tiny_demo_weights_are_built_once(tmp_path, monkeypatch):
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    monkeypatch.delenv("HEARTH_IMAGE_MODEL", raising=False)
    interrupted = tmp_path / "demo-weights" / "text-to-image.partial"
    interrupted.mkdir(parents=True)
    (interrupted / "half-written").write_text("")

    weights = devserver._demo_weights("HEARTH_IMAGE_MODEL", "text-to-image")

    assert weights == str(tmp_path / "demo-weights" / "text-to-image")
    index = json.loads((tmp_path / "demo-weights" / "text-to-image" / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline"
    assert not interrupted.exists()
    built = (tmp_path / "demo-weights" / "text-to-image" / "unet").stat().st_mtime_ns
    assert devserver._demo_weights("HEARTH_IMAGE_MODEL", "text-to-image") == weights
    assert (tmp_path / "demo-weights" / "text-to-image" / "unet").stat().st_mtime_ns == built
