"""What a running server holds: settings, the account store, engines and their workers.

Worker model (measured and explained in the README):
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
from concurrent.futures import Executor
from dataclasses import dataclass

from gradium.accounts.store import AccountStore
from gradium.engines.base import TTSEngine, VoiceParams
from gradium.engines.espeak import EspeakEngine
from gradium.engines.flite import FliteEngine, flite_available
from gradium.server.settings import Settings
from gradium.speech.render_queue import DeadlineExecutor
from gradium.workers.stt_pool import SttWorkerPool

log = logging.getLogger("gradium.runtime")


@dataclass
class EngineSlot:
    engine: TTSEngine
    executor: Executor


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = AccountStore(settings.data_dir)
        self.tts: dict[str, EngineSlot] = {
            "espeak": EngineSlot(
                EspeakEngine(settings.tts_threads), DeadlineExecutor(settings.tts_threads, "tts-espeak")
            ),
        }
        if settings.use_flite and flite_available():
            self.tts["flite"] = EngineSlot(FliteEngine(), DeadlineExecutor(1, "tts-flite"))
        self.stt_pool = SttWorkerPool(
            settings.stt_workers, prestart=settings.stt_prestart, options=settings.stt_options()
        )

    @property
    def flite_enabled(self) -> bool:
        return "flite" in self.tts

    def engine_for(self, voice: VoiceParams) -> EngineSlot:
        if voice.flite_voice and self.flite_enabled:
            return self.tts["flite"]
        return self.tts["espeak"]

    async def start(self) -> None:
        await asyncio.to_thread(self.store.migrate)
        await self._warm_up()
        await self.stt_pool.start()

    async def _warm_up(self) -> None:
        """Load each engine once so that the first request does not pay the library start-up."""
        loop = asyncio.get_running_loop()
        for name, slot in self.tts.items():
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
