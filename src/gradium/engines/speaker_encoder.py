"""Speaker embeddings with Resemblyzer's GE2E encoder, run in NumPy.

A speaker embedding is a unit 256-d vector; the cosine of two of them says how alike two voices
sound (same speaker typically 0.75-0.9, different speakers 0.4-0.7 on clean speech). Cloning uses
it to find the neural voice closest to a sample, and benchmarks use it to grade clones.

The network is small (3-layer LSTM over 40 mel bands, a linear layer, ReLU, L2 norm), so it runs
here in NumPy rather than in torch, which the default install does not carry. The weights are
``resemblyzer/pretrained.pt`` from the ``Resemblyzer==0.1.4`` wheel, installed without its
dependencies by ``scripts/install.sh``, checked by sha256 and read by
:mod:`gradium.engines.torch_checkpoint`. Preprocessing follows the package's: 16 kHz, volume
raised to -30 dBFS, long pauses cut with the WebRTC VAD, 1.6 s partial windows at 1.3 per second
whose embeddings are averaged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import numpy as np
import soxr
from numpy.typing import NDArray

from gradium.engines.torch_checkpoint import load_legacy_checkpoint
from gradium.engines.weights import PackagedFile, verified_path

SAMPLE_RATE = 16_000
WEIGHTS = PackagedFile(
    "Resemblyzer==0.1.4",
    "resemblyzer",
    "pretrained.pt",
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
)
_N_FFT = 400  # 25 ms window
_HOP = 160  # 10 ms step
_N_MELS = 40
_PARTIAL_FRAMES = 160  # 1.6 s per partial window
_PARTIALS_PER_S = 1.3
_MIN_COVERAGE = 0.75
_TARGET_DBFS = -30.0
_VAD_WINDOW = 480  # 30 ms at 16 kHz
_VAD_SMOOTHING = 8
_VAD_MAX_SILENCE = 6

Embedding = NDArray[np.float32]


@dataclass(frozen=True)
class _Layer:
    w_ih: NDArray[np.float32]  # (4H, in), gates in PyTorch's order i, f, g, o
    w_hh: NDArray[np.float32]  # (4H, H)
    bias: NDArray[np.float32]  # b_ih + b_hh


def _sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # tanh form: no overflow warnings for large |x|
    return np.asarray(0.5 * (np.tanh(0.5 * x) + 1.0), np.float32)


class SpeakerEncoder:
    """GE2E speaker embeddings of mono float audio. Thread-safe (no state between calls)."""

    def __init__(self) -> None:
        state = load_legacy_checkpoint(verified_path(WEIGHTS))
        prefix = "model_state."
        self._layers = [
            _Layer(
                state[f"{prefix}lstm.weight_ih_l{n}"],
                state[f"{prefix}lstm.weight_hh_l{n}"],
                state[f"{prefix}lstm.bias_ih_l{n}"] + state[f"{prefix}lstm.bias_hh_l{n}"],
            )
            for n in range(3)
        ]
        self._linear_w = state[f"{prefix}linear.weight"]
        self._linear_b = state[f"{prefix}linear.bias"]
        from faster_whisper.feature_extractor import FeatureExtractor  # Slaney mel filters, as librosa

        self._mel = np.asarray(FeatureExtractor.get_mel_filters(SAMPLE_RATE, _N_FFT, _N_MELS), np.float32)
        self._window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as librosa

    def embed(self, samples: NDArray[np.floating], sample_rate: int) -> Embedding:
        """The unit embedding of one speaker's audio (any rate; at least ~1 s of speech helps)."""
        wav = _preprocess(np.asarray(samples, np.float32), sample_rate)
        if wav.size == 0:
            raise ValueError("no speech found in the audio")
        partials = self._partial_mels(wav)
        embeddings = self._forward(partials)
        mean = embeddings.mean(axis=0)
        return np.asarray(mean / np.linalg.norm(mean), np.float32)

    def _partial_mels(self, wav: NDArray[np.float32]) -> NDArray[np.float32]:
        starts = _partial_starts(wav.size)
        needed = (starts[-1] + _PARTIAL_FRAMES) * _HOP
        if needed > wav.size:
            wav = np.pad(wav, (0, needed - wav.size))
        mel = self._mel_spectrogram(wav)
        return np.stack([mel[s : s + _PARTIAL_FRAMES] for s in starts])

    def _mel_spectrogram(self, wav: NDArray[np.float32]) -> NDArray[np.float32]:
        """Power mel spectrogram (not log), centred frames with zero padding, as librosa's default."""
        padded = np.pad(wav, (_N_FFT // 2, _N_FFT // 2))
        frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
        power = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        return np.asarray(power @ self._mel.T, np.float32)

    def _forward(self, mels: NDArray[np.float32]) -> NDArray[np.float32]:
        x = mels  # (batch, frames, bands)
        for layer in self._layers:
            x, hidden = _lstm_layer(layer, x)
        raw = np.maximum(hidden @ self._linear_w.T + self._linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return np.asarray(raw / np.maximum(norms, 1e-9), np.float32)


def _lstm_layer(layer: _Layer, x: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    batch, steps, _ = x.shape
    size = layer.w_hh.shape[1]
    inputs = x @ layer.w_ih.T + layer.bias  # all time steps at once: only the recurrence is serial
    h = np.zeros((batch, size), np.float32)
    c = np.zeros((batch, size), np.float32)
    outputs = np.empty((batch, steps, size), np.float32)
    for t in range(steps):
        gates = inputs[:, t] + h @ layer.w_hh.T
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outputs[:, t] = h
    return outputs, h


def _partial_starts(n_samples: int) -> list[int]:
    """First mel frame of each 1.6 s partial window; the last is kept if 75 % of it is audio."""
    n_frames = int(np.ceil((n_samples + 1) / _HOP))
    step = round(SAMPLE_RATE / _PARTIALS_PER_S / _HOP)
    starts = list(range(0, max(1, n_frames - _PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * _HOP) / (_PARTIAL_FRAMES * _HOP)
    if coverage < _MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def _preprocess(samples: NDArray[np.float32], sample_rate: int) -> NDArray[np.float32]:
    if sample_rate != SAMPLE_RATE:
        samples = np.asarray(soxr.resample(samples, sample_rate, SAMPLE_RATE), np.float32)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
    if rms > 0:
        gain_db = _TARGET_DBFS - 20 * np.log10(rms)
        if gain_db > 0:  # raise quiet recordings only, as Resemblyzer does
            samples = samples * np.float32(10 ** (gain_db / 20))
    return _trim_long_silences(samples)


def _trim_long_silences(wav: NDArray[np.float32]) -> NDArray[np.float32]:
    import webrtcvad

    wav = wav[: wav.size - wav.size % _VAD_WINDOW]
    pcm = np.clip(np.round(wav * 32767), -32768, 32767).astype("<i2")
    vad = webrtcvad.Vad(3)
    windows = range(0, pcm.size, _VAD_WINDOW)
    flags = np.array([vad.is_speech(pcm[i : i + _VAD_WINDOW].tobytes(), SAMPLE_RATE) for i in windows], float)
    if flags.size == 0:
        return wav[:0]
    padded = np.concatenate([np.zeros((_VAD_SMOOTHING - 1) // 2), flags, np.zeros(_VAD_SMOOTHING // 2)])
    smoothed = np.convolve(padded, np.ones(_VAD_SMOOTHING) / _VAD_SMOOTHING, mode="valid")
    # Dilate: keep up to _VAD_MAX_SILENCE windows of pause on each side of speech.
    width = _VAD_MAX_SILENCE + 1
    mask = np.convolve(np.round(smoothed), np.ones(width), mode="same") > 0
    return wav[np.repeat(mask, _VAD_WINDOW)]


_lock = threading.Lock()


@cache
def _shared() -> SpeakerEncoder:
    return SpeakerEncoder()


def speaker_encoder() -> SpeakerEncoder:
    """The process's encoder, loaded (and its weights checked) on first use."""
    with _lock:
        return _shared()


def similarity(a: Embedding, b: Embedding) -> float:
    """Cosine similarity of two unit embeddings."""
    return float(np.dot(a, b))
