"""OpenAI's ``response_format`` of ``/v1/audio/speech``: streaming encoders fed 24 kHz int16 audio.

mp3 (LAME), opus (Ogg, 48 kHz), aac (ADTS) and flac (PyAV), wav (streamed: sizes unknown) and pcm
(raw 24 kHz signed 16-bit little-endian, as OpenAI documents it).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gradium.audio.av_stream import AV_FORMATS, AvStreamEncoder
from gradium.audio.output import AudioEncoder, open_encoder, output_format_for
from gradium.audio.wav import wav_header

SPEECH_RATE = 24_000
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
_CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "wav": "audio/wav", "pcm": "audio/pcm"}


class SpeechEncoder:
    """One response's encoder: ``encode`` 24 kHz int16 samples, then ``finish``."""

    def __init__(self, response_format: str) -> None:
        self.name = response_format
        self._av: AvStreamEncoder | None = None
        self._audio: AudioEncoder | None = None
        self._header = b""
        if response_format in AV_FORMATS:
            self._av = AvStreamEncoder(response_format, SPEECH_RATE)
            self.content_type = self._av.content_type
            return
        self.content_type = _CONTENT_TYPES[response_format]
        if response_format == "mp3":
            self._audio = AudioEncoder(output_format_for("mp3", None, SPEECH_RATE))
        elif response_format == "opus":
            self._audio = open_encoder("opus")
        elif response_format == "wav":
            self._header = wav_header(SPEECH_RATE, None)

    def encode(self, samples: NDArray[np.int16]) -> bytes:
        if self._av is not None:
            return self._av.encode(samples)
        if self._audio is not None:
            return b"".join(self._audio.encode(samples, SPEECH_RATE))
        header, self._header = self._header, b""
        return header + samples.astype("<i2").tobytes()

    def finish(self) -> bytes:
        if self._av is not None:
            return self._av.finish()
        if self._audio is not None:
            return b"".join(self._audio.finish())
        header, self._header = self._header, b""
        return header
