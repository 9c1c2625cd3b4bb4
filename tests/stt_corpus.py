"""The English clips of ../shared/corpus as STT pipeline input, and WER scoring against their transcripts.

Used by tests/test_stt_pipeline.py, tests/test_stt_pool.py and benchmarks/stt_corpus_wer.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import sphn

from gradium.speech.stt_pipeline import SttEvent, SttPipeline, Word

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CHUNK_BYTES = 4096  # what the official one-shot client sends


@dataclass(frozen=True)
class Clip:
    name: str
    transcript: str
    input_format: str
    data: bytes  # the stream as a client would send it in ``input_format``
    duration_s: float


def english_clips() -> list[Clip]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [_clip(entry) for entry in manifest if entry["language"] == "en"]


def _clip(entry: dict[str, object]) -> Clip:
    name, path = str(entry["file"]), CORPUS / str(entry["file"])
    if name.endswith(".wav"):
        # WAV files go in as they are, header first, exercising the server's own WAV parsing.
        data, fmt = path.read_bytes(), "wav"
    elif name.endswith(".raw"):
        data, fmt = path.read_bytes(), "pcm_16000"
    else:  # FLAC is not an input format: decode and downmix it here, send 16 kHz PCM
        audio, _ = sphn.read(str(path), sample_rate=16000)
        mono = np.clip(np.asarray(audio, dtype=np.float32).mean(axis=0), -1.0, 1.0)
        data, fmt = (mono * 32767).astype("<i2").tobytes(), "pcm_16000"
    return Clip(name, str(entry["transcript"]), fmt, data, float(str(entry["duration_s"])))


def chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def run_pipeline(pipeline: SttPipeline, data: bytes) -> list[SttEvent]:
    events: list[SttEvent] = []
    for chunk in chunks(data):
        events += pipeline.feed(chunk)
    return events + pipeline.finish()


def words_of(events: list[object]) -> list[Word]:
    return [event for event in events if isinstance(event, Word)]


_SPELLINGS = {"mr": "mister", "mrs": "missus"}


def normalise(text: str) -> str:
    """Lower case, hyphens as spaces, punctuation dropped (apostrophes kept), a few spellings unified.

    Numbers stay words: the transcripts spell them out ("ten", "fourteen fifty-five"), as
    pocketsphinx's dictionary does.
    """
    text = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " "))
    words = (w.strip("'") for w in text.split())
    return " ".join(_SPELLINGS.get(w, w) for w in words if w)


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>"))


def total_wer(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER: all errors over all reference words (not the mean of per-clip WERs)."""
    references = [normalise(r) for r, _ in pairs]
    hypotheses = [normalise(h) or "<empty>" for _, h in pairs]
    return float(jiwer.wer(references, hypotheses))
