"""Round trip through the real server: the English flagship voices spoken by our TTS (Kokoro) and
transcribed by our STT (Whisper), over the WebSocket protocol. Eight of the sentences per voice keep
the suite's time in bounds; benchmarks/tts_neural.py reports the full figures per voice."""

from __future__ import annotations

import asyncio

import jiwer
import pytest

from conftest import REPO, LiveServer
from stt_corpus import normalise
from wire import audio_frames, exchange, tts_frames

FLAGSHIP_ENGLISH = {
    "Emma": "YTpq7expH9539ERJ",
    "Kent": "LFZvm12tW_z0xfGo",
    "Sydney": "jtEKaLYNn6iif5PR",
    "John": "KWJiFWu2O9nMPYcR",
    "Eva": "ubuXFxVQwVYnZQhy",
    "Jack": "m86j6D7UZpGzHsNu",
}
# Whole sentences are committed from the recogniser's final pass rather than from partial
# hypotheses (the steadiest setting, as a captioning user would choose).
DELAY_IN_FRAMES = 48
ALL_SENTENCES = (REPO / "tests" / "data" / "roundtrip_sentences.txt").read_text().splitlines()
SENTENCES = ALL_SENTENCES[::3]


async def speak_and_transcribe(server: LiveServer, voice_id: str, text: str) -> str:
    spoken = await exchange(
        server,
        "speech/tts",
        tts_frames(text, voice_id=voice_id, output_format="pcm_16000", json_config={"temp": 0}),
    )
    # Half a second of silence on each side, as a caller's audio would have.
    pcm = bytes(16000) + spoken.audio() + bytes(16000)
    heard = await exchange(
        server,
        "speech/asr",
        audio_frames(
            pcm,
            chunk=2560,
            input_format="pcm_16000",
            json_config={"delay_in_frames": DELAY_IN_FRAMES, "language": "en"},
        ),
    )
    return " ".join(m["text"] for m in heard.of_type("text"))


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_flagship_voices_round_trip(live_server: LiveServer) -> None:
    assert len(SENTENCES) >= 8
    limit = asyncio.Semaphore(4)  # keeps both STT workers busy without queueing the whole set

    async def one(voice_id: str, text: str) -> str:
        async with limit:
            return await speak_and_transcribe(live_server, voice_id, text)

    references = [normalise(t) for t in SENTENCES]
    all_refs: list[str] = []
    all_hyps: list[str] = []
    for name, voice_id in FLAGSHIP_ENGLISH.items():
        hypotheses = [normalise(h) for h in await asyncio.gather(*(one(voice_id, t) for t in SENTENCES))]
        print(f"{name:7s} WER {jiwer.wer(references, hypotheses):.3f}")
        all_refs += references
        all_hyps += hypotheses
    overall = float(jiwer.wer(all_refs, all_hyps))
    print(f"overall WER {overall:.3f}")
    assert overall <= 0.10
