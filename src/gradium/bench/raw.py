"""The engines driven directly, with no server, on the same inputs as the server runs.

TTS: the text is cut by the server's own ``TextSegmenter`` and each segment goes to the engine's
``synthesize``; raw TTFA is the time until the first segment with sound is synthesized (the unit
of work the server does before its first audio). Concurrency uses one thread per stream, on an
engine with as many espeak-ng instances as the server has (one per core).

STT: ``SttPipeline`` is fed the same 80 ms chunks of 24 kHz PCM as fast as it takes them. A word
that comes out of the chunk ending at audio time T is "received" at T plus the compute time of
that call, i.e. what a real-time stream would see if nothing else ran on the machine.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from gradium.bench.inputs import SttClip, TtsCase
from gradium.bench.stt_match import word_latencies
from gradium.bench.tts import SILENCE_LEVEL
from gradium.engines.base import TTSEngine
from gradium.engines.espeak import EspeakEngine, default_instances
from gradium.engines.flite import FliteEngine
from gradium.speech.stt_engines import Recognizers
from gradium.speech.stt_pipeline import DEFAULT_DELAY_IN_FRAMES, SttPipeline, Word
from gradium.text.segmenter import Segment, TextSegmenter

CHUNK_S = 0.08
CHUNK_BYTES = 3840  # 80 ms of 24 kHz s16le


@dataclass
class RawTts:
    ttfa_s: float
    total_s: float
    audio_s: float

    @property
    def rtf(self) -> float:
        return self.total_s / self.audio_s if self.audio_s else float("nan")


_ENGINES: dict[str, TTSEngine] = {}


def engine(name: str) -> TTSEngine:
    if name not in _ENGINES:
        _ENGINES[name] = FliteEngine() if name == "flite" else EspeakEngine(default_instances())
    return _ENGINES[name]


def segments(text: str) -> list[str]:
    segmenter = TextSegmenter()
    items = [*segmenter.push(text), *segmenter.end()]
    return [item.text for item in items if isinstance(item, Segment)]


def tts_request(case: TtsCase) -> RawTts:
    # The server's requests run at the default temperature, which varies prosody and so does not
    # ask espeak-ng for reproducible output (no library reload per call): the same here.
    tts, params = engine(case.engine), replace(case.params(), reproducible=False)
    start = time.perf_counter()
    first, audio_s = 0.0, 0.0
    for text in segments(case.text):
        synthesis = tts.synthesize(text, params)
        audio_s += synthesis.duration_s
        if not first and synthesis.pcm.size and int(np.abs(synthesis.pcm).max()) > SILENCE_LEVEL:
            first = time.perf_counter()
    end = time.perf_counter()
    return RawTts((first or end) - start, end - start, audio_s)


def tts_level(case: TtsCase, streams: int, per_stream: int) -> tuple[list[RawTts], float, float]:
    """Results, wall seconds and CPU seconds (this process) of one concurrency level."""

    def client() -> list[RawTts]:
        return [tts_request(case) for _ in range(per_stream)]

    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        batches = list(pool.map(lambda _: client(), range(streams)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return [r for batch in batches for r in batch], wall, cpu


@dataclass
class RawStt:
    word_latencies_s: list[float]
    matched: int
    reference_words: int
    final_s: float
    cpu_per_audio_s: float  # pipeline compute seconds per second of audio (one core)


_RECOGNIZERS: list[Recognizers] = []


def stt_stream(clip: SttClip, delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES) -> RawStt:
    """One clip through the default engine's recogniser, loaded once, as a server worker does."""
    if not _RECOGNIZERS:
        _RECOGNIZERS.append(Recognizers())
        _RECOGNIZERS[0].warm()
    recognizers = _RECOGNIZERS[0]
    engine = recognizers.options.engine
    pipeline = SttPipeline(
        "pcm",
        language="en",
        delay_in_frames=delay_in_frames,
        decoder=recognizers.decoder(engine, "en", 0.0),
        vad=recognizers.vad(engine),
    )
    received: list[tuple[str, float]] = []
    busy = 0.0
    for index, offset in enumerate(range(0, len(clip.pcm24k), CHUNK_BYTES)):
        started = time.perf_counter()
        events = pipeline.feed(clip.pcm24k[offset : offset + CHUNK_BYTES])
        spent = time.perf_counter() - started
        busy += spent
        audio_end = min((index + 1) * CHUNK_S, clip.duration_s)
        received += [(e.text, audio_end + spent) for e in events if isinstance(e, Word)]
    started = time.perf_counter()
    events = pipeline.finish()
    final = time.perf_counter() - started
    busy += final
    received += [(e.text, clip.duration_s + final) for e in events if isinstance(e, Word)]
    latencies = word_latencies(received, clip.reference)
    return RawStt(latencies, len(latencies), len(clip.reference), final, busy / clip.duration_s)
