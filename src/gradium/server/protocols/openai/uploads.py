"""An uploaded audio file as one WAV for the STT pool: WAV as it is, FLAC/MP3/Ogg/Opus decoded by
sphn, anything else FFmpeg reads (m4a, mp4, webm: what browsers record) by PyAV."""

from __future__ import annotations

import io

import numpy as np

from gradium.audio.errors import AudioFormatError
from gradium.audio.files import float_to_int16, read_audio_file, sniff_container
from gradium.audio.wav import wav_header

DECODE_RATE = 16_000


def upload_to_wav(data: bytes) -> bytes:
    """Blocking (decoding)."""
    kind = sniff_container(data[:64])
    if kind == "wav":
        return data  # the pool's streaming WAV decoder reads every PCM/float/G.711 layout
    if kind is not None:
        audio, rate = read_audio_file(data, DECODE_RATE)
    else:
        audio, rate = _decode_with_av(data), DECODE_RATE
    pcm = float_to_int16(audio).astype("<i2").tobytes()
    return wav_header(rate, len(pcm)) + pcm


def _decode_with_av(data: bytes) -> np.ndarray:
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=DECODE_RATE)
            parts = [
                frame.to_ndarray().reshape(-1)
                for decoded in container.decode(audio=0)
                for frame in resampler.resample(decoded)
            ]
            parts += [frame.to_ndarray().reshape(-1) for frame in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise AudioFormatError(
            "unrecognised audio file: send mp3, mp4, mpeg, mpga, m4a, wav, webm, flac or ogg"
        ) from exc
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)
