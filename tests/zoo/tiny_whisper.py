"""The speech-to-text zoo package's modules and test audio, shared by its runner and e2e tests."""

from pathlib import Path

import numpy as np
import soundfile

from tests.zoo.packages import ZOO, load_package_module

PACKAGE = ZOO / "speech-to-text"
ENV_VAR = "HEARTH_SPEECH_MODEL"


def build_tiny_whisper(directory: Path, languages: list[str] | None = None) -> Path:
    return load_package_module(PACKAGE, "tiny_model").build(directory, languages=languages)


def write_tone(path: Path, seconds: float, rate: int = 22_050, channels: int = 1, format: str | None = None) -> Path:
    """A 440 Hz tone with a little noise, `seconds` long; the format from the suffix unless given."""
    times = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(0).standard_normal(len(times))
    mono = (0.3 * np.sin(2 * np.pi * 440 * times) + 0.02 * noise).astype(np.float32)
    soundfile.write(path, np.repeat(mono[:, None], channels, axis=1), rate, format=format)
    return path
