"""TTS output encoders: 80 ms chunks, streaming == one-shot, valid WAV/Ogg concatenations."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import sphn
from numpy.typing import NDArray

from gradium.audio import (
    OUTPUT_FORMATS,
    UnknownFormatError,
    alaw_decode,
    encode_complete,
    open_encoder,
    read_audio_file,
    ulaw_decode,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CLIP = CORPUS / "en_cards_005.wav"  # 16 kHz mono, 3.5 s of real speech


def tone(seconds: float, rate: int, freq: float = 440.0, level: float = 0.5) -> NDArray[np.int16]:
    t = np.arange(round(seconds * rate)) / rate
    return np.round(level * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def read_clip(path: Path) -> tuple[NDArray[np.int16], int]:
    with wave.open(str(path)) as clip:
        return np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2").copy(), clip.getframerate()


def stream(name: str, pcm: NDArray[np.int16], rate: int, piece: int = 1000) -> list[bytes]:
    """Encode in irregular pieces, the way an engine yields audio."""
    encoder = open_encoder(name)
    chunks: list[bytes] = []
    start, step = 0, piece
    while start < pcm.size:
        chunks += encoder.encode(pcm[start : start + step], rate)
        start += step
        step = piece + (step * 7919) % 613  # vary the piece size deterministically
    return chunks + encoder.finish()


def dominant_frequency(samples: NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def test_format_table() -> None:
    expected = {
        "wav", "pcm", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100", "pcm_48000",
        "ulaw_8000", "mulaw_8000", "alaw_8000", "opus",
    }  # fmt: skip
    assert set(OUTPUT_FORMATS) == expected
    assert OUTPUT_FORMATS["pcm"].sample_rate == 48000
    assert OUTPUT_FORMATS["wav"].content_type == "audio/wav"
    assert OUTPUT_FORMATS["opus"].content_type == "audio/ogg"
    assert OUTPUT_FORMATS["ulaw_8000"].content_type == "audio/basic"
    assert OUTPUT_FORMATS["alaw_8000"].content_type == "audio/x-alaw-basic"
    assert OUTPUT_FORMATS["pcm_22050"].sample_rate == 22050


def test_unknown_format_lists_valid_names() -> None:
    with pytest.raises(UnknownFormatError) as info:
        open_encoder("mp3")
    assert isinstance(info.value, ValueError)
    assert "'mp3'" in str(info.value) and "pcm_16000" in str(info.value) and "opus" in str(info.value)


@pytest.mark.parametrize("name", ["pcm", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100"])
def test_pcm_chunks_are_exactly_80_ms(name: str) -> None:
    rate = OUTPUT_FORMATS[name].sample_rate
    chunks = stream(name, tone(2.03, 24000), 24000)
    chunk_bytes = rate * 80 // 1000 * 2
    assert all(len(chunk) == chunk_bytes for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk_bytes and len(chunks[-1]) % 2 == 0
    if name == "pcm":
        assert chunk_bytes == 7680
    total = sum(len(chunk) for chunk in chunks) // 2
    assert total == round(2.03 * rate)  # soxr keeps the duration exactly


@pytest.mark.parametrize("name", ["ulaw_8000", "mulaw_8000", "alaw_8000"])
def test_g711_chunks_are_80_ms_and_decode_to_the_pcm(name: str) -> None:
    chunks = stream(name, tone(1.5, 24000), 24000)
    assert all(len(chunk) == 640 for chunk in chunks[:-1])
    decoded = (alaw_decode if name.startswith("alaw") else ulaw_decode)(b"".join(chunks))
    linear = np.frombuffer(b"".join(stream("pcm_8000", tone(1.5, 24000), 24000)), dtype="<i2")
    assert decoded.size == linear.size == 12000
    assert np.max(np.abs(decoded.astype(np.int32) - linear)) < 600  # companding error only


def test_streaming_equals_one_shot_for_pcm() -> None:
    speech, rate = read_clip(CLIP)
    encoder = open_encoder("pcm")
    one_shot = b"".join(encoder.encode(speech, rate) + encoder.finish())
    for piece in (1, 160, 1000, 4096):
        assert b"".join(stream("pcm", speech, rate, piece)) == one_shot
    assert len(one_shot) == speech.size * 3 * 2


def test_native_rate_is_passed_through_untouched() -> None:
    speech, _ = read_clip(CLIP)
    assert b"".join(stream("pcm_16000", speech, 16000)) == speech.astype("<i2").tobytes()


def test_resampling_keeps_the_pitch() -> None:
    pcm = np.frombuffer(b"".join(stream("pcm", tone(1.0, 22050), 22050)), dtype="<i2")
    assert abs(dominant_frequency(pcm, 48000) - 440) <= 1


def test_wav_stream_header_uses_unknown_length_placeholder() -> None:
    chunks = stream("wav", tone(1.0, 24000), 24000)
    header = chunks[0][:44]
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[36:40] == b"data"
    assert struct.unpack_from("<I", header, 4)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<I", header, 40)[0] == 0xFFFFFFFF
    assert len(chunks[0]) == 44 + 7680
    assert all(len(chunk) == 7680 for chunk in chunks[1:-1])


def test_wav_stream_concatenation_is_readable_directly_by_stdlib_wave(tmp_path: Path) -> None:
    speech, rate = read_clip(CLIP)
    body = b"".join(stream("wav", speech, rate))
    expected = b"".join(stream("pcm", speech, rate))
    with wave.open(io.BytesIO(body)) as reader:  # no header patching needed
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 48000)
        assert reader.readframes(1 << 24) == expected
    # symphonia (sphn.read) also reads the placeholder as "until end of file".
    path = tmp_path / "stream.wav"
    path.write_bytes(body)
    samples, file_rate = sphn.read(str(path))
    assert file_rate == 48000 and samples.shape == (1, len(expected) // 2)


def test_encode_complete_wav_has_real_sizes() -> None:
    speech, rate = read_clip(CLIP)
    body = encode_complete(speech, rate, "wav")
    pcm = b"".join(stream("pcm", speech, rate))
    assert struct.unpack_from("<I", body, 4)[0] == len(body) - 8
    assert struct.unpack_from("<I", body, 40)[0] == len(pcm)
    with wave.open(io.BytesIO(body)) as reader:
        assert reader.getnframes() == len(pcm) // 2
        assert reader.readframes(reader.getnframes()) == pcm


def test_encode_complete_other_formats_equal_the_stream() -> None:
    pcm = tone(0.7, 24000)
    for name in ("pcm", "pcm_16000", "ulaw_8000"):
        assert encode_complete(pcm, 24000, name) == b"".join(stream(name, pcm, 24000))
    with pytest.raises(UnknownFormatError):
        encode_complete(pcm, 24000, "flac")


def opus_duration_and_level(body: bytes) -> tuple[float, float]:
    samples, rate = sphn.read_opus_bytes(body)
    assert rate == 48000
    return samples.shape[-1] / rate, float(np.sqrt(np.mean(np.square(samples))))


def test_opus_stream_is_one_valid_ogg_stream() -> None:
    chunks = stream("opus", tone(1.0, 24000), 24000)
    assert chunks[0][:4] == b"OggS"
    assert all(chunk[:4] == b"OggS" for chunk in chunks)  # every chunk is whole Ogg pages
    duration, level = opus_duration_and_level(b"".join(chunks))
    assert abs(duration - 1.0) <= 0.010
    assert level > 0.2  # a 0.5-amplitude sine has an RMS of 0.35


def test_opus_round_trip_of_real_speech_with_ragged_length() -> None:
    speech, rate = read_clip(CLIP)  # 3.5025 s: not a whole number of 20 ms frames
    body = b"".join(stream("opus", speech, rate))
    duration, level = opus_duration_and_level(body)
    # The last partial frame is padded with silence to 20 ms, so the stream may be up to 20 ms longer.
    assert 0 <= duration - speech.size / rate < 0.020
    assert level > 0.01
    # A streaming reader fed arbitrary slices sees the same stream.
    reader = sphn.OpusStreamReader(48000)
    decoded = sum(np.asarray(reader.append_bytes(body[i : i + 500])).size for i in range(0, len(body), 500))
    assert decoded == round(duration * 48000)
    # And the file reader used for uploads recognises it.
    samples, file_rate = read_audio_file(body)
    assert file_rate == 48000 and samples.size == decoded


def test_finish_without_audio_still_gives_a_valid_stream() -> None:
    assert open_encoder("pcm").finish() == []
    wav_chunks = open_encoder("wav").finish()
    assert len(wav_chunks) == 1 and len(wav_chunks[0]) == 44
    with wave.open(io.BytesIO(wav_chunks[0])) as reader:
        assert reader.readframes(100) == b""
    opus_chunks = open_encoder("opus").finish()
    assert len(opus_chunks) == 1 and opus_chunks[0][:4] == b"OggS"


def test_silence_helper() -> None:
    encoder = open_encoder("pcm")
    chunks = encoder.silence(0.5) + encoder.finish()
    assert [len(chunk) for chunk in chunks] == [7680] * 6 + [1920]
    assert not any(b"".join(chunks))


def test_engine_rate_change_mid_stream_loses_no_audio() -> None:
    encoder = open_encoder("pcm")
    chunks = encoder.encode(tone(1.0, 24000), 24000) + encoder.encode(tone(1.0, 16000), 16000)
    chunks += encoder.finish()
    assert sum(len(chunk) for chunk in chunks) == 2 * 48000 * 2


def test_rejects_non_int16_input() -> None:
    with pytest.raises(TypeError):
        open_encoder("pcm").encode(np.zeros(10, dtype=np.float32), 24000)
    with pytest.raises(TypeError):
        open_encoder("pcm").encode(np.zeros((10, 2), dtype=np.int16), 24000)
