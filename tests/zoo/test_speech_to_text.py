"""The built-in speech-to-text model, run through the real runner as the platform runs it.

No weights can be downloaded here, so the model is a tiny random-weight Whisper built locally
(zoo/speech-to-text/tiny_model.py): it hears nothing, but transcribes through the real
transformers code, timestamps and long-form decoding included.
"""

import itertools
import re
from pathlib import Path

import pytest

from inference.runtime.runner import Runner
from inference.runtime.schema import generate_openapi_schema, load_predictor
from tests.zoo.packages import ONE_THREAD, REF, load_package_module, one_torch_thread, set_up_in_process, started_runner
from tests.zoo.tiny_whisper import ENV_VAR, PACKAGE, build_tiny_whisper, write_tone

LANGUAGE_CODES = set(load_package_module(PACKAGE, "predict").LANGUAGES)
_ids = itertools.count()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture(scope="module")
def runner(model_dir):
    with started_runner(PACKAGE, {ENV_VAR: str(model_dir), **ONE_THREAD}) as runner:
        yield runner


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """What the runner's OMP_NUM_THREADS does, for the models this process runs itself."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def local(model_dir):
    """The same predictor in this process, for what the runner cannot show."""
    module = load_package_module(PACKAGE, "predict")
    predictor = set_up_in_process(module, {ENV_VAR: str(model_dir)})
    predictor.module = module
    return predictor


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="module")
def four_seconds(audio_dir):
    # Stereo at 44.1 kHz: the predictor must mix it down and resample it to Whisper's 16 kHz.
    return write_tone(audio_dir / "four-seconds.wav", 4.0, rate=44_100, channels=2)


def transcribe(runner: Runner, audio: Path, **input):
    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"audio": str(audio), **input})
    assert result.status == "succeeded", result.error
    return result


def expected_segments(local, audio: Path, **generate_settings) -> list[tuple[float, str]]:
    """(start, text) of each segment Whisper's generate() makes of `audio` when called directly,
    less the empty ones and those past the end of the audio."""
    samples = local.module.load_audio(audio)
    generated = local.model.generate(
        **local._features(samples), return_timestamps=True, return_segments=True, **generate_settings
    )
    segments = []
    for segment in generated["segments"][0]:
        text = local.processor.tokenizer.decode(segment["tokens"], skip_special_tokens=True)
        if text.strip() and float(segment["start"]) < len(samples) / 16_000:
            segments.append((round(float(segment["start"]), 2), text))
    return segments


def starts_and_texts(output: dict) -> list[tuple[float, str]]:
    return [(segment["start"], segment["text"]) for segment in output["segments"]]


def test_setup_logs_device_and_load_time(runner, model_dir):
    loaded = rf"Loaded {re.escape(str(model_dir))} on (cpu \(torch.float32\)|cuda \(torch.float16\)) in \d+\.\d+ s"
    assert re.search(loaded, runner.setup_logs)


def test_a_wav_of_known_length_yields_timed_segments(runner, local, four_seconds):
    result = transcribe(runner, four_seconds)
    output = result.output

    segments = output["segments"]
    assert segments
    assert [segment["id"] for segment in segments] == list(range(len(segments)))
    for segment in segments:
        assert set(segment) == {"id", "start", "end", "text"}
        assert 0 <= segment["start"] <= segment["end"] <= 4.0
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert output["transcription"] == "".join(segment["text"] for segment in segments).strip()
    # auto: the language the model finds likeliest, then transcribed in it.
    features = local._features(local.module.load_audio(four_seconds))["input_features"]
    token = local.processor.tokenizer.convert_ids_to_tokens(local.model.detect_language(features)[0].item())
    assert output["detected_language"] == token.strip("<|>")
    assert output["detected_language"] in LANGUAGE_CODES
    assert starts_and_texts(output) == expected_segments(local, four_seconds, language=output["detected_language"])
    assert re.search(r"^Transcribed 4\.00 s of audio into \d+ segments in \d+\.\d+ s$", result.logs, re.MULTILINE)


def test_audio_longer_than_the_window_is_transcribed_to_its_end(runner, audio_dir):
    audio = write_tone(audio_dir / "forty-seconds.flac", 40.0, rate=16_000)

    segments = transcribe(runner, audio).output["segments"]

    # Whisper hears 30 s at a time; the segments go on past the first window.
    assert 30 < segments[-1]["end"] <= 40
    assert all(0 <= s["start"] <= s["end"] <= 40 for s in segments)


SRT_CUE = r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n([^\n]*)\n"
VTT_CUE = SRT_CUE.replace(",", r"\.")


def clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, minutes, whole = millis // 3_600_000, millis // 60_000 % 60, millis // 1000 % 60
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis % 1000:03d}"


@pytest.mark.parametrize(
    ("format", "header", "cue", "separator"), [("srt", "", SRT_CUE, ","), ("vtt", "WEBVTT\n\n", VTT_CUE, ".")]
)
def test_subtitle_formats_time_every_segment(runner, audio_dir, format, header, cue, separator):
    audio = write_tone(audio_dir / "twelve-seconds.wav", 12.0)

    output = transcribe(runner, audio, transcription=format).output

    text = output["transcription"]
    assert text.startswith(header)
    body = text[len(header) :]
    # Cues separated by one blank line, nothing else around them.
    assert re.fullmatch(rf"{cue}(\n{cue})*", body), text
    cues = re.findall(cue, body)
    assert [(int(n), start, end) for n, start, end, _ in cues] == [
        (i + 1, clock(s["start"], separator), clock(s["end"], separator)) for i, s in enumerate(output["segments"])
    ]
    assert [words.split() for *_, words in cues] == [s["text"].split() for s in output["segments"]]


def test_subtitles_keep_each_cue_on_one_line_and_escape_webvtt_markup(local):
    segments = [
        {"id": 0, "start": 0.0, "end": 1.5, "text": " Fish & chips <b>now</b>\n\nor --> later"},
        {"id": 1, "start": 3723.4567, "end": 3725.0, "text": " {braces} stay"},
    ]

    assert local.module.subtitles(segments, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nFish & chips <b>now</b> or --> later\n"
        "\n2\n01:02:03,457 --> 01:02:05,000\n{braces} stay\n"
    )
    assert local.module.subtitles(segments, "vtt") == (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nFish &amp; chips &lt;b&gt;now&lt;/b&gt; or --&gt; later\n"
        "\n2\n01:02:03.457 --> 01:02:05.000\n{braces} stay\n"
    )


def test_the_language_given_is_used_not_detected(runner, local, four_seconds):
    output = transcribe(runner, four_seconds, language="fr").output

    assert output["detected_language"] == "fr"
    assert starts_and_texts(output) == expected_segments(local, four_seconds, language="fr")


def test_translate_asks_whisper_for_english(runner, local, four_seconds):
    transcribed = transcribe(runner, four_seconds, language="de").output
    translated = transcribe(runner, four_seconds, language="de", translate=True).output

    assert starts_and_texts(translated) == expected_segments(local, four_seconds, language="de", task="translate")
    assert starts_and_texts(translated) != starts_and_texts(transcribed)


def predictor_for(directory: Path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(directory))
    predictor = load_package_module(PACKAGE, "predict").Predictor()
    predictor.setup()
    return predictor


def transcribe_here(predictor, audio: Path, language: str = "auto", translate: bool = False):
    return predictor.predict(audio=audio, language=language, translate=translate, transcription="srt", temperature=0)


def test_an_english_only_model_transcribes_english_and_refuses_the_rest(four_seconds, tmp_path, monkeypatch):
    english = predictor_for(build_tiny_whisper(tmp_path / "tiny.en", languages=["en"]), monkeypatch)

    for language in ("auto", "en"):
        output = transcribe_here(english, four_seconds, language)
        assert output.detected_language == "en"
        assert output.segments
        assert output.transcription.count(" --> ") == len(output.segments)
    for language, translate in (("fr", False), ("auto", True)):
        with pytest.raises(ValueError, match="^This model only transcribes English: use language auto or en"):
            transcribe_here(english, four_seconds, language, translate)


def test_a_language_the_model_does_not_know_fails_clearly(four_seconds, tmp_path, monkeypatch):
    bilingual = predictor_for(build_tiny_whisper(tmp_path / "en-fr", languages=["en", "fr"]), monkeypatch)

    assert transcribe_here(bilingual, four_seconds).detected_language in ("en", "fr")
    with pytest.raises(ValueError, match="^This model does not know the language 'de'$"):
        transcribe_here(bilingual, four_seconds, "de")


def test_temperature_zero_repeats_and_a_higher_one_samples(runner, four_seconds):
    first = transcribe(runner, four_seconds, temperature=0).output
    again = transcribe(runner, four_seconds, temperature=0).output
    sampled = [transcribe(runner, four_seconds, temperature=1.0).output for _ in range(3)]

    assert first == again
    assert any(output["segments"] != first["segments"] for output in sampled)


@pytest.mark.parametrize("suffix", ["mp3", "ogg", "flac"])
def test_compressed_audio_is_decoded_without_ffmpeg(runner, audio_dir, suffix):
    audio = write_tone(audio_dir / f"three-seconds.{suffix}", 3.0, rate=44_100, channels=2)

    result = transcribe(runner, audio)

    duration = float(re.search(r"Transcribed (\d+\.\d+) s of audio", result.logs).group(1))
    # MP3 frames pad the end a little.
    assert duration == pytest.approx(3.0, abs=0.1)
    assert result.output["segments"]
    assert all(s["end"] <= duration for s in result.output["segments"])


@pytest.mark.parametrize(
    "content",
    [b"", b"RIFF\x24\x00\x00\x00WAVEfmt garbage", b"this is not audio at all " * 40],
    ids=["empty", "bad-wav", "text"],
)
def test_undecodable_audio_fails_clearly_and_the_runner_goes_on(runner, audio_dir, four_seconds, content):
    broken = audio_dir / "broken.mp3"
    broken.write_bytes(content)

    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"audio": str(broken)})

    assert result.status == "failed"
    assert result.error.startswith("Could not decode the audio file (")
    assert result.error.endswith("send WAV, MP3, FLAC or Ogg audio")
    assert runner.is_alive()
    transcribe(runner, four_seconds)


def test_silence_without_samples_fails_clearly(runner, audio_dir):
    empty = write_tone(audio_dir / "no-samples.wav", 0.0)

    result = runner.predict(prediction_id=f"p{next(_ids)}", input={"audio": str(empty)})

    assert result.status == "failed"
    assert result.error == "The audio file holds no samples"


def test_a_missing_model_directory_fails_setup(tmp_path, monkeypatch):
    missing = tmp_path / "no-model"
    monkeypatch.setenv(ENV_VAR, str(missing))

    # In this process: the runner's report of a failed setup is tested with the runner.
    with pytest.raises(FileNotFoundError, match=rf"^{ENV_VAR}={re.escape(str(missing))}: no such model directory$"):
        load_package_module(PACKAGE, "predict").Predictor().setup()


def test_schema():
    # In this process, where transformers is imported already; the platform does the same in a child.
    schemas = generate_openapi_schema(load_predictor(PACKAGE, REF))["components"]["schemas"]

    assert schemas["Output"]["required"] == ["transcription", "segments", "detected_language"]
    assert schemas["Output"]["properties"]["segments"]["type"] == "array"
    inputs = schemas["Input"]
    assert inputs["required"] == ["audio"]
    assert inputs["properties"]["audio"]["format"] == "uri"
    assert schemas["language"]["enum"] == ["auto", *load_package_module(PACKAGE, "predict").LANGUAGES]
    assert "en" in schemas["language"]["enum"]
    assert schemas["transcription"]["enum"] == ["plain text", "srt", "vtt"]
    temperature = inputs["properties"]["temperature"]
    assert (temperature["default"], temperature["minimum"], temperature["maximum"]) == (0, 0, 1)
    assert inputs["properties"]["translate"]["default"] is False
