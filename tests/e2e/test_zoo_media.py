"""The speech-to-text and image-captioning zoo models, pushed and run end to end through the
unmodified `replicate` client, with files sent as the client sends them (open(path, "rb")).

The models are tiny random-weight ones built locally (tests/zoo/tiny_whisper.py,
tests/zoo/tiny_blip.py): the text is nonsense, its shape is what is checked.
"""

import re

import pytest
from replicate.exceptions import ModelError, ReplicateError

from tests.zoo.tiny_blip import write_picture
from tests.zoo.tiny_whisper import write_tone

pytestmark = pytest.mark.e2e

SRT_CUE = r"\d+\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n[^\n]*\n"
SRT = rf"{SRT_CUE}(\n{SRT_CUE})*"  # cues separated by one blank line
VTT = r"WEBVTT\n\n" + SRT.replace(",", r"\.")


FILE_INPUT = {"speech-to-text": "audio", "image-captioning": "image"}


def run(platform, model: str, path, **input):
    with path.open("rb") as file:
        return platform.client().run(f"alice/{model}", input={FILE_INPUT[model]: file, **input})


@pytest.mark.parametrize(("format", "pattern"), [("srt", SRT), ("vtt", VTT)])
def test_a_wav_of_known_length_comes_back_as_timed_subtitles(platform, tmp_path, format, pattern):
    audio = write_tone(tmp_path / "five-seconds.wav", 5.0)

    output = run(platform, "speech-to-text", audio, transcription=format)

    assert output["segments"]
    assert all(0 <= s["start"] <= s["end"] <= 5.0 for s in output["segments"])
    assert re.fullmatch(pattern, output["transcription"]), output["transcription"]
    assert output["transcription"].count(" --> ") == len(output["segments"])
    assert output["detected_language"]


def test_plain_text_is_the_segments_joined(platform, tmp_path):
    audio = write_tone(tmp_path / "mono.mp3", 3.0, rate=44_100)

    output = run(platform, "speech-to-text", audio, language="en", translate=True)

    assert output["detected_language"] == "en"
    assert output["transcription"] == "".join(s["text"] for s in output["segments"]).strip()


def test_captioning_and_questions_return_text(platform, tmp_path):
    picture = write_picture(tmp_path / "house.png")

    caption = run(platform, "image-captioning", picture, max_new_tokens=8)
    answer = run(platform, "image-captioning", picture, question="what colour is the roof?", max_new_tokens=8)

    assert isinstance(caption, str) and caption
    assert isinstance(answer, str) and answer
    assert len(caption.split()) <= 8


@pytest.mark.parametrize(
    ("model", "name", "good", "error"),
    [
        ("speech-to-text", "broken.wav", "speech.wav", "Could not decode the audio file ("),
        ("image-captioning", "broken.jpg", "picture.png", "Could not decode the image ("),
    ],
)
def test_a_corrupt_file_fails_its_prediction_and_the_worker_goes_on(platform, tmp_path, model, name, good, error):
    broken = tmp_path / name
    broken.write_bytes(b"\x00\x01 definitely not media " * 64)

    with pytest.raises(ModelError) as raised:
        run(platform, model, broken)

    assert raised.value.prediction.status == "failed"
    assert raised.value.prediction.error.startswith(error)
    sound = write_tone(tmp_path / good, 2.0) if model == "speech-to-text" else write_picture(tmp_path / good)
    assert run(platform, model, sound)


@pytest.mark.parametrize(
    ("model", "input", "field"),
    [
        ("speech-to-text", {"audio": "/etc/passwd"}, "input.audio"),
        ("speech-to-text", {"audio": "data:audio/wav;base64,AAAA", "language": "klingon"}, "input.language"),
        ("speech-to-text", {"audio": "data:audio/wav;base64,AAAA", "transcription": "docx"}, "input.transcription"),
        ("speech-to-text", {"audio": "data:audio/wav;base64,AAAA", "temperature": 2}, "input.temperature"),
        ("image-captioning", {"image": "data:image/png;base64,AAAA", "max_new_tokens": 0}, "input.max_new_tokens"),
        ("image-captioning", {"question": "what?"}, "input.image"),
    ],
)
def test_bad_inputs_are_a_422_naming_the_field(platform, model, input, field):
    client = platform.client()
    newest = [prediction.id for prediction in client.predictions.list().results]

    with pytest.raises(ReplicateError) as raised:
        client.predictions.create(version=platform.versions[model], input=input)

    assert raised.value.status == 422
    assert f"- {field}: " in raised.value.detail
    assert [prediction.id for prediction in client.predictions.list().results] == newest
