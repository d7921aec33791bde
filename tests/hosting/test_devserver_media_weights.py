"""`make run` serves the speech-to-text and image-captioning models too: on the weights their
variables name, else on tiny random demo weights that their tiny_model.py builds."""

import json

from hosting import devserver


def test_both_media_models_are_registered_with_their_weights_variables():
    assert {"speech-to-text", "image-captioning"} <= set(devserver.DEMO_MODELS)
    assert devserver.DEMO_WEIGHTS["HEARTH_SPEECH_MODEL"] == "speech-to-text"
    assert devserver.DEMO_WEIGHTS["HEARTH_CAPTION_MODEL"] == "image-captioning"


def test_without_real_weights_the_tiny_models_are_built(tmp_path, monkeypatch):
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    monkeypatch.delenv("HEARTH_SPEECH_MODEL", raising=False)
    monkeypatch.delenv("HEARTH_CAPTION_MODEL", raising=False)

    speech = devserver._demo_weights("HEARTH_SPEECH_MODEL", "speech-to-text")
    caption = devserver._demo_weights("HEARTH_CAPTION_MODEL", "image-captioning")

    assert speech == str(tmp_path / "demo-weights" / "speech-to-text")
    assert caption == str(tmp_path / "demo-weights" / "image-captioning")
    assert (
        json.loads((tmp_path / "demo-weights" / "speech-to-text" / "config.json").read_text())["model_type"]
        == "whisper"
    )
    assert (
        json.loads((tmp_path / "demo-weights" / "image-captioning" / "config.json").read_text())["model_type"]
        == "blip-2"
    )
    # As main() leaves the environment: every variable names weights by then.
    monkeypatch.setenv("HEARTH_TEXT_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    monkeypatch.setenv("HEARTH_IMAGE_MODEL", "stabilityai/stable-diffusion-xl-base-1.0")
    monkeypatch.setenv("HEARTH_SPEECH_MODEL", speech)
    monkeypatch.setenv("HEARTH_CAPTION_MODEL", caption)
    summary = devserver._weights_summary()
    assert f"{devserver.DEMO_USER}/speech-to-text: {speech}  (tiny random DEMO weights" in summary
    assert f"{devserver.DEMO_USER}/image-captioning: {caption}  (tiny random DEMO weights" in summary
