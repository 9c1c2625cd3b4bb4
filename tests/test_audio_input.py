"""STT input decoders and whole-file reading: real WAV/Opus/G.711 streams in arbitrary slices."""

from __future__ import annotations

import struct
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from gradium.audio import (
    INPUT_FORMATS,
    AudioFormatError,
    UnknownFormatError,
    alaw_encode,
    encode_complete,
    float_to_int16,
    int16_to_float,
    open_decoder,
    open_encoder,
    read_audio_file,
    ulaw_encode,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CLIP = CORPUS / "en_cards_005.wav"  # 16 kHz mono, 3.5 s of real speech


def tone(seconds: float, rate: int, freq: float = 440.0, level: float = 0.5) -> NDArray[np.int16]:
    t = np.arange(round(seconds * rate)) / rate
    return np.round(level * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def read_clip(path: Path = CLIP) -> tuple[NDArray[np.int16], int]:
    with wave.open(str(path)) as clip:
        return np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2").copy(), clip.getframerate()


def slices(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def decode(name: str, pieces: Iterable[bytes], target_rate: int = 16000) -> NDArray[np.int16]:
    decoder = open_decoder(name, target_rate)
    return np.concatenate([*(decoder.feed(piece) for piece in pieces), decoder.finish()])


def make_wav(
    frames: bytes, rate: int, channels: int, bits: int, tag: int = 1, *,
    extensible: bool = False, data_size: int | None = None, extra: bytes = b"", trailer: bytes = b"",
) -> bytes:  # fmt: skip
    """A WAV built field by field, so that each header variant can be exercised."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits)
    if extensible:
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, bits, 0) + guid
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    chunks += b"data" + struct.pack("<I", len(frames) if data_size is None else data_size) + frames + trailer
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


LIST_BODY = b"INFO" + b"ISFT" + struct.pack("<I", 1) + b"x"  # 13 bytes: odd, so a pad byte follows
LIST_CHUNK = b"LIST" + struct.pack("<I", len(LIST_BODY)) + LIST_BODY + b"\x00"
FACT_CHUNK = b"fact" + struct.pack("<I", 4) + struct.pack("<I", 123)


def test_format_table() -> None:
    assert set(INPUT_FORMATS) == {
        "pcm", "pcm_8000", "pcm_16000", "pcm_24000", "pcm_44100", "pcm_48000",
        "wav", "opus", "ulaw_8000", "mulaw_8000", "alaw_8000",
    }  # fmt: skip
    assert INPUT_FORMATS["pcm"] == 24000


def test_unknown_format() -> None:
    with pytest.raises(UnknownFormatError, match=r"valid formats: .*pcm_16000"):
        open_decoder("flac")


# --- raw PCM and G.711 ---------------------------------------------------------------------------


def test_pcm_at_target_rate_is_exact_even_in_one_byte_slices() -> None:
    speech, _ = read_clip()
    speech = speech[:8000]
    decoder = open_decoder("pcm_16000", 16000)
    out = [decoder.feed(piece) for piece in slices(speech.tobytes(), 1)]
    np.testing.assert_array_equal(np.concatenate([*out, decoder.finish()]), speech)
    assert decoder.input_sample_rate == 16000
    assert decoder.seconds_received == pytest.approx(speech.size / 16000)


def test_pcm_24k_is_resampled_identically_whatever_the_slicing() -> None:
    data = tone(1.0, 24000).tobytes()
    whole = decode("pcm", [data])
    assert whole.size == 16000
    for size in (7, 1919, 1920, 4096):
        np.testing.assert_array_equal(decode("pcm", slices(data, size)), whole)
    # One-byte slices (half samples) on a shorter stream, to keep the test quick.
    np.testing.assert_array_equal(decode("pcm", slices(data[:4801], 1)), decode("pcm", [data[:4801]]))


@pytest.mark.parametrize(("name", "encode"), [("ulaw_8000", ulaw_encode), ("mulaw_8000", ulaw_encode),
                                              ("alaw_8000", alaw_encode)])  # fmt: skip
def test_g711_input(name: str, encode: object) -> None:
    assert callable(encode)
    original = tone(1.0, 8000)
    decoder = open_decoder(name, 8000)
    out = np.concatenate([decoder.feed(piece) for piece in slices(encode(original), 333)])
    assert decoder.seconds_received == pytest.approx(1.0)
    assert np.max(np.abs(out.astype(np.int32) - original)) < 600


# --- WAV -----------------------------------------------------------------------------------------


def test_real_wav_file_decodes_to_its_samples() -> None:
    speech, _ = read_clip()
    decoder = open_decoder("wav", 16000)
    out = np.concatenate([*(decoder.feed(p) for p in slices(CLIP.read_bytes(), 4096)), decoder.finish()])
    np.testing.assert_array_equal(out, speech)
    assert decoder.input_sample_rate == 16000
    assert decoder.seconds_received == pytest.approx(speech.size / 16000)


def test_header_split_at_every_offset_gives_identical_samples() -> None:
    speech, _ = read_clip()
    body = make_wav(speech[:4000].tobytes(), 16000, 1, 16, extra=LIST_CHUNK + FACT_CHUNK)
    expected = decode("wav", [body])
    np.testing.assert_array_equal(expected, speech[:4000])
    for offset in range(1, 61):
        np.testing.assert_array_equal(decode("wav", [body[:offset], body[offset:]]), expected)
    np.testing.assert_array_equal(decode("wav", slices(body, 1)), expected)


def test_wav_at_another_rate_is_resampled() -> None:
    decoder = open_decoder("wav", 16000)
    out = np.concatenate([decoder.feed(make_wav(tone(1.0, 44100).tobytes(), 44100, 1, 16)), decoder.finish()])
    assert decoder.input_sample_rate == 44100
    assert out.size == 16000
    assert decoder.seconds_received == pytest.approx(1.0)


def test_24_bit_wav() -> None:
    values = [0, 1 << 8, -(1 << 8), (1 << 23) - 1, -(1 << 23), 0x123456, 0x1234C0]
    frames = b"".join(struct.pack("<i", v)[:3] for v in values)
    out = decode("wav", [make_wav(frames, 16000, 1, 24)])
    # The low byte is rounded away: 0x56 rounds down, 0xC0 rounds up.
    np.testing.assert_array_equal(out, [0, 1, -1, 32767, -32768, 0x1234, 0x1235])


def test_float32_wav_clips_instead_of_wrapping() -> None:
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5], dtype="<f4")
    out = decode("wav", [make_wav(values.tobytes(), 16000, 1, 32, tag=3)])
    np.testing.assert_array_equal(out, [0, 16384, -16384, 32767, -32768, 32767])
    nan = decode("wav", [make_wav(np.array([np.nan, -np.inf], dtype="<f4").tobytes(), 16000, 1, 32, tag=3)])
    np.testing.assert_array_equal(nan, [0, -32768])


def test_8_bit_and_32_bit_int_wav() -> None:
    out8 = decode("wav", [make_wav(bytes([128, 192, 64, 255, 0]), 16000, 1, 8)])
    np.testing.assert_array_equal(out8, [0, 16384, -16384, 32512, -32768])
    values32 = np.array([0, 1 << 30, -(1 << 31)], dtype="<i4")
    out32 = decode("wav", [make_wav(values32.tobytes(), 16000, 1, 32)])
    np.testing.assert_array_equal(out32, [0, 16384, -32768])


def test_stereo_is_downmixed() -> None:
    left = tone(0.5, 16000)
    same = np.stack([left, left], axis=1).reshape(-1)
    np.testing.assert_array_equal(decode("wav", [make_wav(same.tobytes(), 16000, 2, 16)]), left)
    opposite = np.stack([left, -left], axis=1).reshape(-1)
    assert not decode("wav", [make_wav(opposite.tobytes(), 16000, 2, 16)]).any()


def test_extensible_24_bit_stereo() -> None:
    left = tone(0.25, 16000)
    frames = b"".join(struct.pack("<i", int(v) << 8)[:3] * 2 for v in left)  # same sample on both channels
    body = make_wav(frames, 16000, 2, 24, tag=1, extensible=True)
    np.testing.assert_array_equal(decode("wav", slices(body, 7)), left)


def test_streaming_size_placeholders_read_to_the_end() -> None:
    speech, _ = read_clip()
    for placeholder in (0, 0xFFFFFFFF):
        body = make_wav(speech.tobytes(), 16000, 1, 16, data_size=placeholder)
        np.testing.assert_array_equal(decode("wav", slices(body, 4096)), speech)


def test_declared_data_size_excludes_trailing_chunks() -> None:
    speech, _ = read_clip()
    body = make_wav(speech[:1000].tobytes(), 16000, 1, 16, trailer=LIST_CHUNK)
    np.testing.assert_array_equal(decode("wav", slices(body, 100)), speech[:1000])


def test_our_own_streaming_wav_output_round_trips() -> None:
    speech, _ = read_clip()
    encoder = open_encoder("wav")
    body = b"".join(encoder.encode(speech, 16000) + encoder.finish())  # 48 kHz on the wire
    at_48k = decode("wav", slices(body, 4096), 48000)
    np.testing.assert_array_equal(at_48k.tobytes(), body[44:])
    complete = encode_complete(speech, 16000, "wav")
    np.testing.assert_array_equal(decode("wav", [complete], 48000), at_48k)
    back_to_16k = decode("wav", slices(body, 4096), 16000)
    assert back_to_16k.size == speech.size
    # Up and back down again is close to the original (soxr's passband is ~91% of Nyquist).
    residual = np.sqrt(np.mean(np.square(back_to_16k.astype(np.float64) - speech)))
    assert residual < 0.05 * np.sqrt(np.mean(np.square(speech.astype(np.float64))))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"OggS" + bytes(100), "expected a WAV stream \\(RIFF/WAVE header\\) for input_format 'wav'"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "expected a WAV stream"),
        (make_wav(bytes(100), 16000, 1, 4, tag=0x55), "compressed"),
        (make_wav(bytes(100), 16000, 0, 16), "0 channels"),
        (make_wav(bytes(100), 0, 1, 16), "sample rate 0"),
        (make_wav(bytes(100), 400000, 1, 16), "sample rate 400000"),
        (make_wav(bytes(100), 16000, 1, 12), "12-bit"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd", "before its fmt"),
    ],
)
def test_bad_wav_is_rejected(body: bytes, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        decode("wav", slices(body, 4096))


def test_non_riff_data_fails_on_the_first_byte() -> None:
    decoder = open_decoder("wav")
    with pytest.raises(AudioFormatError):
        decoder.feed(b"X")


def test_wav_ending_inside_its_header() -> None:
    decoder = open_decoder("wav")
    decoder.feed(make_wav(b"", 16000, 1, 16)[:30])
    with pytest.raises(AudioFormatError, match="header"):
        decoder.finish()


def test_empty_wav_stream_is_not_an_error() -> None:
    decoder = open_decoder("wav")
    assert decoder.finish().size == 0 and decoder.seconds_received == 0


# --- Opus ----------------------------------------------------------------------------------------


def opus_stream(pcm: NDArray[np.int16], rate: int) -> bytes:
    encoder = open_encoder("opus")
    return b"".join(encoder.encode(pcm, rate) + encoder.finish())


def test_opus_input_round_trip() -> None:
    body = opus_stream(tone(1.0, 24000), 24000)
    decoder = open_decoder("opus", 16000)
    out = np.concatenate([*(decoder.feed(piece) for piece in slices(body, 500)), decoder.finish()])
    assert decoder.input_sample_rate == 48000
    assert abs(decoder.seconds_received - 1.0) <= 0.010
    assert abs(out.size / 16000 - 1.0) <= 0.010
    assert np.sqrt(np.mean(np.square(out.astype(np.float64)))) > 5000


def test_non_ogg_opus_is_rejected() -> None:
    decoder = open_decoder("opus")
    with pytest.raises(AudioFormatError, match="OggS"):
        decoder.feed(b"RIFF")


def test_corrupt_ogg_is_rejected() -> None:
    body = bytearray(opus_stream(tone(1.0, 24000), 24000))
    third_page = body.find(b"OggS", body.find(b"OggS", 1) + 1)
    body[third_page : third_page + 40] = b"\x11" * 40  # a damaged page header
    with pytest.raises(AudioFormatError, match="corrupt Ogg Opus"):
        decode("opus", slices(bytes(body), 4096))


# --- whole files and sample conversions -----------------------------------------------------------


def test_read_wav_file_by_path_and_bytes() -> None:
    speech, _ = read_clip()
    samples, rate = read_audio_file(CLIP)
    assert rate == 16000 and samples.dtype == np.float32
    np.testing.assert_array_equal(float_to_int16(samples), speech)
    from_bytes, _ = read_audio_file(CLIP.read_bytes())
    np.testing.assert_array_equal(from_bytes, samples)


def test_read_stereo_24_bit_flac_downmixed_and_resampled() -> None:
    samples, rate = read_audio_file(CORPUS / "en_jfk.flac")
    assert rate == 44100 and samples.ndim == 1 and samples.size == 485100
    resampled, rate16 = read_audio_file(str(CORPUS / "en_jfk.flac"), target_rate=16000)
    assert rate16 == 16000 and resampled.size == 176000
    assert 0.01 < float(np.sqrt(np.mean(np.square(resampled)))) < 1


def test_content_decides_not_the_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "speech.mp3"
    disguised.write_bytes(CLIP.read_bytes())
    samples, rate = read_audio_file(disguised)
    assert rate == 16000 and samples.size == read_clip()[0].size


def test_raw_and_garbage_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="raw PCM"):
        read_audio_file(CORPUS / "en_goforward.raw")
    with pytest.raises(AudioFormatError):
        read_audio_file(b"fLaC" + bytes(200))  # right magic, undecodable body
    with pytest.raises(FileNotFoundError):
        read_audio_file(tmp_path / "missing.wav")


def test_float_to_int16_clips_and_rounds() -> None:
    out = float_to_int16(np.array([1.0, -1.0, 2.0, -1.5, 0.5, 0.0, 1 / 65536], dtype=np.float32))
    np.testing.assert_array_equal(out, [32767, -32768, 32767, -32768, 16384, 0, 0])
    assert out.dtype == np.int16


def test_int16_float_round_trip_is_lossless() -> None:
    everything = np.arange(-32768, 32768, dtype=np.int16)
    as_float = int16_to_float(everything)
    assert as_float.dtype == np.float32 and as_float.min() == -1.0 and as_float.max() < 1.0
    np.testing.assert_array_equal(float_to_int16(as_float), everything)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # issue 12 #6: 1 Hz made 300 bytes count as 300 s and blew a worker up to 2.8 GB
        (make_wav(bytes(300), 1, 1, 16), "sample rate 1 Hz is out of range"),
        (make_wav(bytes(300), 7_999, 1, 16), "out of range"),
        (make_wav(bytes(300), 192_001, 1, 16), "out of range"),
        (make_wav(bytes(300), 16_000, 33, 16), "33 channels"),
    ],
)
def test_wav_outside_real_audio_rates_and_channels_is_rejected(body: bytes, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        decode("wav", [body])


def test_wav_with_inconsistent_block_align_is_rejected() -> None:
    body = bytearray(make_wav(bytes(300), 16_000, 2, 16))
    struct.pack_into("<H", body, 32, 1)  # block_align: 1 byte for two 16-bit channels
    with pytest.raises(AudioFormatError, match="block_align"):
        decode("wav", [bytes(body)])


def test_wav_with_a_huge_fmt_chunk_fails_at_once() -> None:
    body = b"RIFF\x00\x00\x00\x00WAVEfmt " + struct.pack("<I", 0x7FFFFFFF) + bytes(16)
    with pytest.raises(AudioFormatError, match="fmt chunk"):
        decode("wav", [body])


def test_audio_file_at_one_hertz_is_rejected() -> None:
    with pytest.raises(AudioFormatError, match="out of range"):
        read_audio_file(make_wav(bytes(300), 1, 1, 16))
