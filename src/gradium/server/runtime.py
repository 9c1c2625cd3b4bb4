"""What a running server holds: settings, the account store, engines and their workers.

Worker model (measured and explained in the README):
- Neural voices (Kokoro, Piper; onnxruntime releases the GIL) run on ``tts_threads`` threads per
  engine, one onnxruntime thread per call, so N requests use N cores; their models load on first
  use (``GRADIUM_TTS_NEURAL=0`` turns them off: every voice then uses its formant voice).
- espeak-ng keeps one global state per loaded library, so the engine loads one private copy of the
  library per worker thread (``tts_threads``, one per core by default); flite is not known to be
  re-entrant and gets one thread. ctypes releases the GIL while the C code synthesizes, so these
  threads run beside the event loop on the other cores. Jobs are taken earliest playback deadline
  first (``gradium.speech.render_queue``): a new request's first sentence does not wait behind
  sentences that other listeners will only need seconds from now.
- STT runs in a pool of worker processes (pocketsphinx holds the GIL; a process also isolates a
  crashed decode), started with the first STT stream unless ``stt_prestart``. ``gradium serve``
  checks Whisper's model files (sha256) before it starts, so a bad install fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

from gradium import metrics
from gradium.accounts.store import AccountStore
from gradium.engines.base import NeuralVoice, Synthesis, TTSEngine, VoiceParams
from gradium.engines.espeak import EspeakEngine
from gradium.engines.flite import FliteEngine, flite_available
from gradium.engines.neural_tts import KOKORO, PIPER, KokoroTTS, PiperTTS
from gradium.engines.voice_files import scan as scan_voice_files
from gradium.engines.whisper import DEFAULT_MODELS, LANGUAGES
from gradium.server.admission import Admission
from gradium.server.settings import Settings
from gradium.speech.installed_voices import describe as describe_installed
from gradium.speech.installed_voices import register as register_installed_voices
from gradium.speech.neural_clone import speaks, with_neural_voice
from gradium.speech.render_queue import DeadlineExecutor
from gradium.speech.stt_engines import POCKETSPHINX, WHISPER
from gradium.speech.voice_profile import VoiceProfile
from gradium.speech.voice_space import render_params
from gradium.workers.stt_pool import SttWorkerPool

log = logging.getLogger("gradium.runtime")


# A neural engine synthesizes a whole segment before any of it plays; the first segment of a request
# is cut after this many words (when no punctuation came first) so that its first audio comes sooner.
FIRST_WORDS = 4
# Kokoro runs about real time on one core, so a 2-core machine serves ~2 real-time listeners; past
# this many waiting segments per thread (each ~1 s of work), new requests get an "at capacity" error
# naming the fast model instead of a first audio many seconds late.
KOKORO_MAX_WAITING = 4
# onnxruntime threads per Kokoro call: two halve a lone request's first audio (1.0 -> ~0.6 s on two
# idle cores); under load the engine's threads share the cores anyway.
KOKORO_CALL_THREADS = 2
# Cloning's test renderings wait behind stream segments due within this many seconds.
CLONE_RENDER_SLACK_S = 3.0


@dataclass
class EngineSlot:
    engine: TTSEngine
    executor: Executor
    first_segment_words: int | None = None  # cut a request's first segment after this many words
    max_waiting: int | None = None  # refuse new requests while more segments than this wait
    # Refuse new requests whose first segment would wait longer than this for a thread (0: no limit).
    first_audio_deadline_s: float = 0.0

    def capacity_error(self) -> str | None:
        """Why a new request is refused now (the engine's queue is full), or None."""
        if not isinstance(self.executor, DeadlineExecutor):
            return None
        if self.first_audio_deadline_s > 0:
            wait = self.executor.expected_wait_s()
            if wait > self.first_audio_deadline_s:
                return (
                    f"the {self.engine.name} voices are at capacity (first audio expected in {wait:.1f} s, "
                    f"over the {self.first_audio_deadline_s:g} s deadline): retry in a few seconds"
                )
        waiting = self.executor.waiting
        if self.max_waiting is None or waiting <= self.max_waiting:
            return None
        return (
            f"the {self.engine.name} voices are at capacity ({waiting} segments waiting): retry in a "
            'few seconds, or ask for model_name "fast" (Cartesia model_id "sonic-turbo")'
        )


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cluster = settings.cluster
        self.store = AccountStore(settings.data_dir, cluster.database_url, cluster.voices_dir)
        self.admission = Admission(cluster.max_streams, cluster.retry_after_s)
        self.tts: dict[str, EngineSlot] = {
            "espeak": EngineSlot(
                EspeakEngine(settings.tts_threads), DeadlineExecutor(settings.tts_threads, "tts-espeak")
            ),
        }
        if settings.use_flite and flite_available():
            self.tts["flite"] = EngineSlot(FliteEngine(), DeadlineExecutor(1, "tts-flite"))
        # An operator's own Piper and Kokoro voice files (a bad file stops the start: VoiceFileError).
        self.voice_files = scan_voice_files(settings.voice_files_dir)
        register_installed_voices(self.voice_files.values())
        if settings.tts_neural:
            threads = settings.tts_threads
            own = list(self.voice_files.values())
            self.tts[KOKORO] = EngineSlot(
                KokoroTTS(threads=KOKORO_CALL_THREADS, extra_voices=own),
                DeadlineExecutor(threads, "tts-kokoro"),
                first_segment_words=FIRST_WORDS,
                max_waiting=KOKORO_MAX_WAITING * threads,
            )
            self.tts[PIPER] = EngineSlot(
                PiperTTS(extra_voices=own),
                DeadlineExecutor(threads, "tts-piper"),
                first_segment_words=FIRST_WORDS,
            )
        for slot in self.tts.values():
            slot.first_audio_deadline_s = cluster.first_audio_deadline_s
        self.stt_pool = SttWorkerPool(
            settings.stt_layout()[0], prestart=settings.stt_prestart, options=settings.stt_options()
        )

    @property
    def flite_enabled(self) -> bool:
        return "flite" in self.tts

    def engine_for(self, voice: VoiceParams) -> EngineSlot:
        if voice.neural is not None and voice.neural.engine in self.tts:
            return self.tts[voice.neural.engine]
        if voice.flite_voice and self.flite_enabled:
            return self.tts["flite"]
        return self.tts["espeak"]

    def describe_models(self) -> dict[str, Any]:
        """The engine families a client can ask for (``GET /api/models``)."""
        neural = KOKORO in self.tts
        formant = "espeak-ng" + (" + flite (English)" if self.flite_enabled else "")
        tts = [
            {
                "model_name": "default",
                "cartesia_model_id": "sonic-2",
                "engine": f"kokoro (en, fr, es, pt) + {formant} (de)" if neural else formant,
                "languages": list(LANGUAGES),
            },
            {
                "model_name": "fast",
                "cartesia_model_id": "sonic-turbo",
                "engine": "piper en_US-joe-medium (en), else as default" if neural else formant,
                "languages": list(LANGUAGES),
            },
            {"model_name": "formant", "engine": formant, "languages": list(LANGUAGES)},
        ]
        options = self.stt_pool.options
        whisper_models = {
            language: str(options.whisper.model_dirs.get(language, DEFAULT_MODELS[language].name))
            for language in LANGUAGES
        }
        stt = [
            {
                "model_name": "whisper",
                "default": options.engine == WHISPER,
                "engine": "faster-whisper + silero-vad",
                "languages": [*LANGUAGES, "any"],
                "models": whisper_models,
                "device": options.whisper.device,
            },
            {
                "model_name": "pocketsphinx",
                "default": options.engine == POCKETSPHINX,
                "engine": "pocketsphinx + webrtcvad",
                "languages": ["en"],
            },
        ]
        voices = [describe_installed(voice) for voice in self.voice_files.values()]
        return {"tts": tts, "stt": stt, "voice_files": voices}

    async def match_neural_voice(self, profile: VoiceProfile, language: str) -> VoiceProfile:
        """``profile`` with its neural voice (cloned voices); unchanged without the mixing engine.

        The two test renderings go through Kokoro's render queue due a few seconds from now, so
        live streams' segments, due sooner, go first."""
        if not speaks(language):
            return replace(profile, neural_voice=None)
        slot = self.tts.get(KOKORO)
        if slot is None or profile.speaker_embedding is None:
            return profile
        executor = slot.executor

        def render(text: str, voice: NeuralVoice, language: str) -> Synthesis:
            params = render_params(voice, language)
            if isinstance(executor, DeadlineExecutor):
                due = time.monotonic() + CLONE_RENDER_SLACK_S
                return executor.submit_due(due, slot.engine.synthesize, text, params).result()
            return slot.engine.synthesize(text, params)

        return await asyncio.to_thread(with_neural_voice, profile, language, render)

    def problems(self) -> dict[str, str]:
        """Services that cannot serve now, each with the reason (empty when all can)."""
        problems = {}
        if self.admission.draining:
            problems["server"] = "draining: shutting down, finishing the streams in flight"
        stt = self.stt_pool.problem()
        if stt is not None:
            problems["stt"] = stt
        return problems

    def update_gauges(self) -> None:
        """Queue depths, read when /metrics is scraped (they change with every job)."""
        for name, slot in self.tts.items():
            waiting = slot.executor.waiting if isinstance(slot.executor, DeadlineExecutor) else 0
            metrics.QUEUE_DEPTH.labels(name).set(waiting)
        metrics.STT_STREAMS.set(self.stt_pool.open_streams)

    async def start(self) -> None:
        await asyncio.to_thread(self.store.migrate)
        await self._warm_up()
        await self.stt_pool.start()

    async def _warm_up(self) -> None:
        """Load each engine once so that the first request does not pay the library start-up."""
        loop = asyncio.get_running_loop()
        for name, slot in self.tts.items():
            if name in (KOKORO, PIPER):
                continue  # loaded on first use: an idle server holds no neural model
            if isinstance(slot.engine, EspeakEngine):
                await asyncio.to_thread(slot.engine.prepare)
            voice = VoiceParams(
                language="en", espeak_voice="en-us", flite_voice="rms" if name == "flite" else None
            )
            await loop.run_in_executor(slot.executor, slot.engine.synthesize, "ready", voice)

    async def close(self) -> None:
        await self.stt_pool.close()
        for slot in self.tts.values():
            slot.executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()
