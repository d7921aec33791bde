"""Speech to text with a Hugging Face Whisper model: transcripts with timed segments, as plain
text, SRT or WebVTT, optionally translated into English.

HEARTH_SPEECH_MODEL names the weights: a Hugging Face Hub id or a local directory written by
save_pretrained (a WhisperProcessor and a WhisperForConditionalGeneration). Set it in the
worker's environment, or in cog.yaml's `environment:` (which takes precedence) to pin it.

Audio is decoded by libsndfile (the soundfile wheel bundles it: WAV, FLAC, Ogg Vorbis/Opus,
MP3 and more), so no system ffmpeg is needed, and resampled to Whisper's 16 kHz with soxr.
"""

import os
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch
from cog import BaseModel, BasePredictor, Input
from cog import Path as CogPath
from transformers import WhisperForConditionalGeneration, WhisperProcessor
from transformers.models.whisper.tokenization_whisper import LANGUAGES

DEFAULT_MODEL = "openai/whisper-large-v3"
SAMPLE_RATE = 16_000  # what every Whisper feature extractor expects
WINDOW_FRAMES = 3000  # mel frames in Whisper's 30 s window; shorter audio is padded to it
FORMATS = ["plain text", "srt", "vtt"]


class Output(BaseModel):
    transcription: str
    segments: list[dict]
    detected_language: str


class Predictor(BasePredictor):
    def setup(self) -> None:
        source = _model_source()
        started = time.perf_counter()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Half precision halves GPU memory and time; CPUs have no fast float16 kernels.
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.processor = WhisperProcessor.from_pretrained(source)
        self.model = WhisperForConditionalGeneration.from_pretrained(source, dtype=self.dtype).to(self.device)
        print(f"Loaded {source} on {self.device} ({self.dtype}) in {time.perf_counter() - started:.2f} s")

    def predict(
        self,
        audio: CogPath = Input(description="Speech to transcribe: WAV, MP3, FLAC or Ogg"),
        language: str = Input(
            description="Language spoken in the audio; auto detects it from the first 30 seconds",
            default="auto",
            choices=["auto", *LANGUAGES],
        ),
        translate: bool = Input(description="Translate the speech into English", default=False),
        transcription: str = Input(description="Format of the transcription", default="plain text", choices=FORMATS),
        temperature: float = Input(
            description="Randomness of sampling; 0 always takes the likeliest token", default=0, ge=0, le=1
        ),
    ) -> Output:
        samples = load_audio(Path(audio))
        duration = len(samples) / SAMPLE_RATE
        started = time.perf_counter()
        features = self._features(samples)
        if not self.model.generation_config.is_multilingual:
            # English-only checkpoints (openai/whisper-*.en) take no language or task at all.
            if translate or language not in ("auto", "en"):
                raise ValueError("This model only transcribes English: use language auto or en, without translate")
            language, prompt = "en", {}
        else:
            if language == "auto":
                language = self._detect_language(features["input_features"])
            if f"<|{language}|>" not in self.model.generation_config.lang_to_id:
                raise ValueError(f"This model does not know the language {language!r}")
            prompt = {"language": language, "task": "translate" if translate else "transcribe"}
        generated = self.model.generate(
            **features,
            **prompt,
            return_timestamps=True,
            return_segments=True,
            temperature=temperature,
        )
        segments = self._segments(generated["segments"][0], duration)
        print(
            f"Transcribed {duration:.2f} s of audio into {len(segments)} segments "
            f"in {time.perf_counter() - started:.2f} s"
        )
        text = "".join(segment["text"] for segment in segments).strip()
        return Output(
            transcription=text if transcription == "plain text" else subtitles(segments, transcription),
            segments=segments,
            detected_language=language,
        )

    def _features(self, samples: np.ndarray) -> dict:
        # Unpadded, audio longer than the window is transcribed window by window (long-form).
        features = self.processor(
            samples,
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            truncation=False,
            padding="longest",
            return_attention_mask=True,
        )
        if features["input_features"].shape[-1] < WINDOW_FRAMES:
            # Shorter audio is padded to one whole window, as Whisper was trained.
            features = self.processor(
                samples, sampling_rate=SAMPLE_RATE, return_tensors="pt", return_attention_mask=True
            )
        return {
            "input_features": features["input_features"].to(self.device, self.dtype),
            "attention_mask": features["attention_mask"].to(self.device),
        }

    def _detect_language(self, input_features: torch.Tensor) -> str:
        """The code of the likeliest language in the first window, as OpenAI's whisper does."""
        token_id = self.model.detect_language(input_features[..., :WINDOW_FRAMES])[0].item()
        return self.processor.tokenizer.convert_ids_to_tokens(token_id)[2:-2]  # "<|en|>" -> "en"

    def _segments(self, generated: list[dict], duration: float) -> list[dict]:
        segments = []
        for segment in generated:
            text = self.processor.tokenizer.decode(segment["tokens"], skip_special_tokens=True)
            start = float(segment["start"])
            # A model can predict timestamps past the end of the audio: nobody spoke there.
            if not text.strip() or start >= duration:
                continue
            end = min(max(float(segment["end"]), start), duration)
            segments.append({"id": len(segments), "start": round(start, 2), "end": round(end, 2), "text": text})
        return segments


def _model_source() -> str:
    source = os.environ.get("HEARTH_SPEECH_MODEL") or DEFAULT_MODEL
    # from_pretrained takes a path it cannot find for a Hub id, and says the id is malformed.
    if source.startswith(("/", ".")) and not Path(source).is_dir():
        raise FileNotFoundError(f"HEARTH_SPEECH_MODEL={source}: no such model directory")
    return source


def load_audio(path: Path) -> np.ndarray:
    """The audio as mono float32 samples at 16 kHz; ValueError if it cannot be decoded."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValueError(f"Could not decode the audio file ({exc}); send WAV, MP3, FLAC or Ogg audio") from None
    if samples.size == 0:
        raise ValueError("The audio file holds no samples")
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    return mono.astype(np.float32)


def subtitles(segments: list[dict], format: str) -> str:
    """The segments as an SRT or a WebVTT file.

    Written here rather than with a subtitle library: those read the text as markup of their
    own (pysubs2 drops anything in braces), and a transcript is plain text.
    """
    vtt = format == "vtt"
    cues = []
    for number, segment in enumerate(segments, start=1):
        # A blank line ends a cue in both formats, so the text keeps to one line.
        text = " ".join(segment["text"].split())
        if vtt:
            # WebVTT cue text is markup: & and < must be escaped, and "-->" may not appear.
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        timing = f"{_timestamp(segment['start'], vtt)} --> {_timestamp(segment['end'], vtt)}"
        cues.append(f"{number}\n{timing}\n{text}\n")
    return ("WEBVTT\n\n" if vtt else "") + "\n".join(cues)


def _timestamp(seconds: float, vtt: bool) -> str:
    """HH:MM:SS,mmm for SRT, HH:MM:SS.mmm for WebVTT."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    seconds, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{'.' if vtt else ','}{millis:03d}"
