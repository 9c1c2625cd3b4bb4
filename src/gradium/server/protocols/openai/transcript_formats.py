"""OpenAI's transcription response formats from our words and utterances: json, text, srt, vtt and
verbose_json (segments and/or words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradium.speech.stt_pipeline import Word

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
LANGUAGE_NAMES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "pt": "portuguese"}


@dataclass
class Transcript:
    """Recognised words grouped in segments (one per utterance: a pause, or the end, closes one)."""

    segments: list[list[Word]] = field(default_factory=list)
    duration_s: float = 0.0
    language: str = "auto"

    @property
    def words(self) -> list[Word]:
        return [w for segment in self.segments for w in segment]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{_clock(seg[0].start_s, ',')} --> {_clock(seg[-1].stop_s, ',')}\n"
        f"{' '.join(w.text for w in seg)}\n"
        for index, seg in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_clock(seg[0].start_s, '.')} --> {_clock(seg[-1].stop_s, '.')}\n{' '.join(w.text for w in seg)}\n"
        for seg in transcript.segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def usage(transcript: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": round(transcript.duration_s + 0.4999)}


def verbose_json(transcript: Transcript, granularities: set[str], task: str = "transcribe") -> dict[str, Any]:
    """OpenAI's verbose_json. Segments come unless only ``word`` was asked for (OpenAI's default
    granularity is ``segment``). Whisper's per-segment scores are not computed here: tokens are
    empty, avg_logprob and no_speech_prob 0, compression_ratio 1."""
    body: dict[str, Any] = {
        "task": task,
        "language": LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": round(transcript.duration_s, 3),
        "text": transcript.text,
        "usage": usage(transcript),
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": round(seg[0].start_s, 3),
                "end": round(seg[-1].stop_s, 3),
                "text": " " + " ".join(w.text for w in seg),
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
            for index, seg in enumerate(transcript.segments)
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.text, "start": round(w.start_s, 3), "end": round(w.stop_s, 3)}
            for w in transcript.words
        ]
    return body
