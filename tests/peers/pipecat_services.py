"""Drive pipecat's Gradium and Cartesia services against our server, with their defaults.

Run by tests/test_frameworks.py in the frameworks virtualenv (pipecat-ai 1.14.0), each service in
pipecat's own single-processor test pipeline (``pipecat.tests.utils.run_test``). Prints one line
``RESULT {json}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.task import PipelineParams
from pipecat.services.cartesia.stt import CartesiaSTTService
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.gradium.stt import GradiumSTTService
from pipecat.services.gradium.tts import GradiumTTSService
from pipecat.tests.utils import SleepFrame, run_test

ROOT = os.environ["ROOT_URL"]
KEY = os.environ["GRADIUM_API_KEY"]
WS = ROOT.replace("http", "ws", 1)
EMMA = "YTpq7expH9539ERJ"  # pipecat's Cartesia TTS has no default voice
# pipecat ends a TTS context that sends no audio for 3 s; a loaded 2-core CI machine can take longer
# to start a sentence, so the tests give it 8 s (the only setting that differs from the defaults).
PATIENCE = {"stop_frame_timeout_s": 8.0}


def summary(down: Any, up: Any) -> dict[str, Any]:
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    return {
        "audio_s": sum(len(f.audio) // 2 for f in audio) / (audio[0].sample_rate if audio else 1),
        "finals": [f.text for f in down if isinstance(f, TranscriptionFrame)],
        "interims": len([f for f in down if isinstance(f, InterimTranscriptionFrame)]),
        "errors": [str(f.error) for f in [*down, *up] if isinstance(f, ErrorFrame)],
    }


async def speak(service: Any, texts: list[str]) -> dict[str, Any]:
    frames: list[Any] = []
    for text in texts:
        frames += [TTSSpeakFrame(text), SleepFrame(sleep=10.0)]
    down, up = await run_test(service, frames_to_send=frames, start_timeout=10)
    return summary(down, up)


async def listen(service: Any, pcm: np.ndarray, rate: int, turns: int) -> dict[str, Any]:
    """Each turn: VAD start, the clip in 20 ms frames at twice real time, VAD stop, a pause."""
    frames: list[Any] = []
    size = rate // 50
    for _ in range(turns):
        frames.append(VADUserStartedSpeakingFrame())
        for start in range(0, len(pcm) - size + 1, size):
            chunk = pcm[start : start + size].tobytes()
            frames += [InputAudioRawFrame(chunk, rate, 1), SleepFrame(sleep=0.01)]
        frames += [VADUserStoppedSpeakingFrame(), SleepFrame(sleep=4.0)]
    params = PipelineParams(audio_in_sample_rate=rate)
    down, up = await run_test(service, frames_to_send=frames, pipeline_params=params, start_timeout=10)
    return summary(down, up)


async def main(pcm16_path: str) -> dict[str, Any]:
    pcm16 = np.fromfile(pcm16_path, dtype="<i2")
    return {
        "gradium_tts": await speak(
            GradiumTTSService(api_key=KEY, url=f"{WS}/api/speech/tts", **PATIENCE),
            ["Hello from pipecat, with the default voice.", "And a second sentence on the same socket."],
        ),
        "gradium_stt": await listen(
            GradiumSTTService(api_key=KEY, api_endpoint_base_url=f"{WS}/api/speech/asr"), pcm16, 16000, 2
        ),
        "cartesia_tts": await speak(
            CartesiaTTSService(api_key=KEY, voice_id=EMMA, url=f"{WS}/tts/websocket", **PATIENCE),
            ["Hello from pipecat's Cartesia service.", "The second sentence follows it."],
        ),
        "cartesia_stt": await listen(CartesiaSTTService(api_key=KEY, base_url=WS), pcm16, 16000, 2),
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(asyncio.run(main(sys.argv[1]))))
