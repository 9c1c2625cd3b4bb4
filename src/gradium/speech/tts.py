"""The internal TTS streaming model: text pieces in, encoded audio chunks and word timings out.

``TtsStream`` is protocol-agnostic: the Gradium and Cartesia adapters feed it text and forward what
it yields. The text side (tags, clause segmentation) is cheap string work done on the event loop;
everything that synthesizes, resamples or encodes runs in ``SegmentRenderer`` on the engine's own
worker thread, so the event loop never does DSP.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gradium import metrics
from gradium.audio.output import AudioEncoder
from gradium.engines.base import Synthesis, TTSEngine, VoiceParams, WordTiming
from gradium.speech.render_queue import DeadlineExecutor
from gradium.speech.tts_options import TtsOptions, apply_speed, vary_prosody
from gradium.text.segmenter import Break, Segment, SegmenterItem, TextSegmenter
from gradium.text.validate import check_text


@dataclass
class RenderedAudio:
    """What one segment, break or flush produced: encoded chunks and the words they speak."""

    chunks: list[bytes] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    phonemes: list[WordTiming] = field(default_factory=list)  # empty when the engine reports none


class SynthesisTransform(Protocol):
    """Post-processing of each synthesized segment, e.g. a cloned voice's WORLD transform.

    It must keep the length (word timings stay valid) and runs on the engine's worker thread.
    """

    def apply(self, synthesis: Synthesis) -> Synthesis: ...


class SegmentRenderer:
    """Synthesizes segments one after another on a continuous timeline (runs on a worker thread)."""

    def __init__(
        self,
        engine: TTSEngine,
        voice: VoiceParams,
        options: TtsOptions,
        encoder: AudioEncoder,
        transform: SynthesisTransform | None = None,
    ) -> None:
        self.engine = engine
        self.transform = transform
        self.voice = apply_speed(voice, options)
        self.options = options
        self.encoder = encoder
        self.rng = random.Random()
        self.position_s = 0.0  # where the next audio starts on the output timeline

    def render(self, item: SegmenterItem) -> RenderedAudio:
        if isinstance(item, Segment):
            return self._speak(item.text)
        if isinstance(item, Break):
            return self._silence(item.seconds)
        return self._flush()

    def finish(self) -> RenderedAudio:
        return RenderedAudio(chunks=self.encoder.finish())

    def render_last(self, item: SegmenterItem) -> RenderedAudio:
        """``render`` then ``finish``: the stream's last item and the encoder's tail together."""
        rendered = self.render(item)
        rendered.chunks.extend(self.finish().chunks)
        return rendered

    def _speak(self, text: str) -> RenderedAudio:
        if self.options.rewrite_rules is not None:
            text = self.options.rewrite_rules.apply(text)
        voice = vary_prosody(self.voice, self.options.temp, self.rng)
        synthesis = self.engine.synthesize(text, voice)
        if self.transform is not None:
            synthesis = self.transform.apply(synthesis)
        words = self._on_timeline(synthesis.words)
        phonemes = self._on_timeline(synthesis.phonemes)
        return RenderedAudio(self._encode(synthesis.pcm, synthesis.sample_rate), words, phonemes)

    def _on_timeline(self, timings: list[WordTiming]) -> list[WordTiming]:
        start = self.position_s
        return [WordTiming(t.text, round(start + t.start_s, 3), round(start + t.stop_s, 3)) for t in timings]

    def _silence(self, seconds: float) -> RenderedAudio:
        rate = self.encoder.sample_rate
        return RenderedAudio(self._encode(np.zeros(round(seconds * rate), dtype=np.int16), rate))

    def _flush(self) -> RenderedAudio:
        """Pad the partial chunk with silence so every pending sample goes out now."""
        self.position_s += self.encoder.samples_to_chunk_boundary / self.encoder.sample_rate
        return RenderedAudio(self.encoder.pad_to_chunk())

    def _encode(self, pcm: np.ndarray, sample_rate: int) -> list[bytes]:
        self.position_s += len(pcm) / sample_rate
        return self.encoder.encode(pcm, sample_rate)


ChargeFn = Callable[[int], Awaitable[None]]
# Silence from <break> tags is not billed (tags are not characters), so without a cap 5,000 breaks
# cost 4 credits and made 10,000 s of audio to synthesize, encode and send. Past this many seconds
# of breaks in one request, the text is refused (README, limits table).
MAX_BREAK_SECONDS = 60.0
# No language has words this long; a neural engine would take minutes over such a "word" (letters
# spelled out), so it is refused before anything is synthesized or charged.
MAX_WORD_CHARS = 100


class TtsStream:
    """One TTS request: push text as it arrives, end it, and iterate the rendered output."""

    def __init__(
        self,
        renderer: SegmentRenderer,
        executor: Executor,
        charge: ChargeFn,
        max_chars: int,
        first_segment_words: int | None = None,
        max_break_seconds: float = MAX_BREAK_SECONDS,
    ) -> None:
        self.renderer = renderer
        self.executor = executor
        self.charge = charge
        self.max_chars = max_chars
        # Engines that synthesize a whole segment before any audio (the neural ones) get a short
        # first segment: its audio plays while the next, longer one is synthesized.
        self.segmenter = TextSegmenter(first_max_words=first_segment_words)
        self.items: asyncio.Queue[SegmenterItem | None] = asyncio.Queue()
        self.received_chars = 0
        self.max_break_seconds = max_break_seconds
        self.break_seconds = 0.0  # silence the request's <break> tags asked for so far
        self.billed_chars = 0
        self.ended = False
        self.started: float | None = None  # monotonic time of the first text: playback's origin
        self.first_audio_s: float | None = None  # first text to first rendered audio

    def push_text(self, text: str) -> None:
        """Queue text; raises TagError for a malformed tag, TextError for invalid Unicode or a control
        character, and ValueError past the length limit (all before anything is charged)."""
        check_text(text)
        if self.started is None:
            self.started = time.monotonic()
        self.received_chars += len(text)
        if self.received_chars > self.max_chars:
            raise ValueError(f"text exceeds the limit of {self.max_chars} characters per request")
        longest = max((len(word) for word in text.split()), default=0)
        if longest > MAX_WORD_CHARS:
            raise ValueError(
                f"a word of {longest} characters is too long to speak (at most {MAX_WORD_CHARS}): "
                "separate words with spaces"
            )
        self._queue(self.segmenter.push(text))

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._queue(self.segmenter.end())
        self.items.put_nowait(None)

    def _queue(self, items: list[SegmenterItem]) -> None:
        """Queue what the segmenter produced; ValueError (nothing queued) past the silence cap."""
        silence = self.break_seconds + sum(item.seconds for item in items if isinstance(item, Break))
        if silence > self.max_break_seconds + 1e-9:
            raise ValueError(
                f"<break> tags add up to more than {self.max_break_seconds:g} s of silence in one "
                "request; send fewer or shorter breaks"
            )
        self.break_seconds = silence
        for item in items:
            self.items.put_nowait(item)

    async def output(self) -> AsyncIterator[RenderedAudio]:
        while (item := await self.items.get()) is not None:
            # The last item is rendered and the encoder finished in one job (one thread hop less).
            last = self.ended and self.items.qsize() == 1  # only the end marker is left
            # The credit deduction (a database write) runs while the segment is synthesized, and its
            # audio is released only once it is paid for: a request that runs out of credits gets
            # an error and never the audio it could not pay for.
            cost = self._cost(item) if isinstance(item, Segment) else 0
            paid = asyncio.ensure_future(self.charge(cost)) if isinstance(item, Segment) else None
            try:
                render = self.renderer.render_last if last else self.renderer.render
                rendered = await self._render(render, item)
            finally:
                if paid is not None:
                    await paid
            if isinstance(item, Segment):
                self.billed_chars += cost
            if rendered.chunks:
                self._first_audio()
            if last:
                yield rendered
                return
            if rendered.chunks or rendered.words:
                yield rendered
        yield await asyncio.get_running_loop().run_in_executor(self.executor, self.renderer.finish)

    def _first_audio(self) -> None:
        if self.first_audio_s is None and self.started is not None:
            self.first_audio_s = time.monotonic() - self.started
            metrics.TIME_TO_FIRST_AUDIO.labels(self.renderer.engine.name).observe(self.first_audio_s)

    def _cost(self, segment: Segment) -> int:
        """Characters as sent: the segment's, plus the space that separated it from the one before
        (a sentence cut into clauses costs what it cost whole)."""
        separator = 1 if self.billed_chars else 0
        return segment.billable_characters + separator

    def _render(
        self, render: Callable[[SegmenterItem], RenderedAudio], item: SegmenterItem
    ) -> asyncio.Future[RenderedAudio]:
        """Render on the engine's threads; a segment is due when the audio before it has played."""
        if not isinstance(self.executor, DeadlineExecutor):
            return asyncio.get_running_loop().run_in_executor(self.executor, render, item)
        due = (self.started or time.monotonic()) + self.renderer.position_s
        return asyncio.wrap_future(self.executor.submit_due(due, render, item))

    @property
    def audio_seconds(self) -> float:
        return self.renderer.position_s
