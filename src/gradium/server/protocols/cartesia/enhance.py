"""``enhance=true`` for ``voices.clone``: a small spectral-gate denoiser (numpy only).

Cartesia's enhancement is a neural denoiser; this is the classic DSP stand-in. The noise spectrum
is the mean power per STFT bin over the quietest fifth of the frames (speech is intermittent, so
those are mostly noise). A Wiener-like gain removes twice that power with a -20 dB limit, is
smoothed over three frames against "musical noise", and everything below 80 Hz (hum, rumble) goes.
Blocking and CPU-bound: callers run it in a worker thread.
"""

from __future__ import annotations

import io
import wave

import numpy as np
from numpy.typing import NDArray

from gradium.audio.errors import AudioFormatError
from gradium.audio.files import read_audio_file
from gradium.speech.custom_voices import SampleError
from gradium.speech.voice_profile import ANALYSIS_RATE

FRAME, HOP = 512, 128  # 32 ms frames, 75 % overlap at 16 kHz
QUIET_PERCENTILE = 20.0  # frames at or below this energy percentile measure the noise
OVER_SUBTRACTION = 2.0
GAIN_FLOOR = 0.1  # -20 dB: never silence a bin completely
HIGH_PASS_HZ = 80.0


def _frames(x: NDArray[np.float64]) -> NDArray[np.float64]:
    padded = np.pad(x, (FRAME, FRAME + HOP))
    count = (len(padded) - FRAME) // HOP + 1
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    return np.asarray(padded[index] * np.hanning(FRAME), dtype=np.float64)


def _overlap_add(frames: NDArray[np.float64], length: int) -> NDArray[np.float64]:
    window = np.hanning(FRAME)
    out = np.zeros(HOP * (len(frames) - 1) + FRAME)
    norm = np.zeros_like(out)
    for i, frame in enumerate(frames):
        out[i * HOP : i * HOP + FRAME] += frame * window
        norm[i * HOP : i * HOP + FRAME] += window * window
    return np.asarray(out / np.maximum(norm, 1e-8), dtype=np.float64)[FRAME : FRAME + length]


def denoise(x: NDArray[np.float64], rate: int) -> NDArray[np.float64]:
    """Spectral gating plus an 80 Hz high-pass; same length as ``x``."""
    spectrum = np.fft.rfft(_frames(x), axis=1)
    power = np.abs(spectrum) ** 2
    energy = power.sum(axis=1)
    noise = power[energy <= np.percentile(energy, QUIET_PERCENTILE)].mean(axis=0)
    gain = np.sqrt(np.clip(1.0 - OVER_SUBTRACTION * noise / np.maximum(power, 1e-20), GAIN_FLOOR**2, 1.0))
    gain = np.apply_along_axis(lambda g: np.convolve(g, np.ones(3) / 3, mode="same"), 0, gain)
    gain[:, np.fft.rfftfreq(FRAME, 1.0 / rate) < HIGH_PASS_HZ] = 0.0
    return _overlap_add(np.fft.irfft(spectrum * gain, n=FRAME, axis=1), len(x))


def enhanced_wav(data: bytes) -> bytes:
    """The uploaded clip, decoded, denoised and written back as 16 kHz 16-bit WAV."""
    try:
        samples, rate = read_audio_file(data, ANALYSIS_RATE)
    except AudioFormatError as exc:
        raise SampleError(f"clip: {exc}") from None
    clean = denoise(samples.astype(np.float64), rate)
    pcm = (np.clip(clean, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
