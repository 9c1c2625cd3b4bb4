"""Measuring helpers for engine tests: a small YIN pitch tracker and pocketsphinx recognition.

Everything here is numpy/soxr/pocketsphinx only, so the tests depend on no external tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr
from pocketsphinx import Decoder

ASR_RATE = 16000
_FRAMES_PER_S = 100  # pocketsphinx segment frames
_PAD_S = 0.25  # silence around each utterance, like a caller's VAD would leave


def to_16k(pcm: npt.NDArray[np.int16], sample_rate: int) -> npt.NDArray[np.int16]:
    if sample_rate == ASR_RATE:
        return pcm
    audio = soxr.resample(pcm.astype(np.float32) / 32768.0, sample_rate, ASR_RATE, quality="HQ")
    pcm16: npt.NDArray[np.int16] = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    return pcm16


def median_f0(pcm: npt.NDArray[np.int16], sample_rate: int, fmin: float = 60.0, fmax: float = 450.0) -> float:
    """Median F0 in Hz over voiced frames (YIN: cumulative-mean-normalised difference, threshold 0.15)."""
    x = to_16k(pcm, sample_rate).astype(np.float64) / 32768.0
    window, hop = int(0.025 * ASR_RATE), int(0.01 * ASR_RATE)
    min_lag, max_lag = int(ASR_RATE / fmax), int(ASR_RATE / fmin)
    level = 0.05 * float(np.max(np.abs(x))) if len(x) else 0.0
    f0s: list[float] = []
    for start in range(0, len(x) - window - max_lag, hop):
        frame = x[start : start + window + max_lag]
        head = frame[:window]
        if np.sqrt(np.mean(head * head)) < level:
            continue
        squares = np.concatenate(([0.0], np.cumsum(frame * frame)))
        energy = squares[window : window + max_lag + 1] - squares[: max_lag + 1]
        correlation = np.correlate(frame, head, mode="valid")[: max_lag + 1]
        difference = energy[0] + energy - 2.0 * correlation
        lags = np.arange(1, max_lag + 1)
        cmndf = difference[1:] * lags / np.maximum(np.cumsum(difference[1:]), 1e-12)
        below = np.flatnonzero(cmndf[min_lag - 1 :] < 0.15)
        if len(below) == 0:
            continue
        lag = min_lag - 1 + int(below[0])
        while lag + 1 < len(cmndf) and cmndf[lag + 1] < cmndf[lag]:
            lag += 1  # walk down to the bottom of the first dip
        f0s.append(ASR_RATE / (lag + 1))
    return float(np.median(f0s)) if f0s else 0.0


@dataclass(frozen=True)
class Recognised:
    word: str
    start_s: float
    stop_s: float


def make_decoder() -> Decoder:
    return Decoder(samprate=ASR_RATE, logfn="/dev/null")


def recognise(decoder: Decoder, pcm: npt.NDArray[np.int16], sample_rate: int) -> list[Recognised]:
    """Decode one whole utterance (padded with silence); times are relative to ``pcm``."""
    pad = np.zeros(int(_PAD_S * ASR_RATE), dtype=np.int16)
    audio = np.concatenate([pad, to_16k(pcm, sample_rate), pad])
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), False, True)
    decoder.end_utt()
    words = []
    for segment in decoder.seg():
        word = re.sub(r"\(\d+\)$", "", segment.word)  # alternate pronunciations: "the(2)"
        if word.startswith(("<", "[")):
            continue  # <s>, </s>, <sil>, [NOISE]
        start = segment.start_frame / _FRAMES_PER_S - _PAD_S
        stop = (segment.end_frame + 1) / _FRAMES_PER_S - _PAD_S
        words.append(Recognised(word, start, stop))
    return words


def normalise(text: str) -> str:
    """Lower case, punctuation removed (apostrophes inside words kept), single spaces."""
    text = re.sub(r"[^\w\s']", " ", text.lower())
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())
