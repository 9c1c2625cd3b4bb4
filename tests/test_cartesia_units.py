"""Unit tests of the Cartesia adapter's pure parts: tokens, text joining, formats, phonemes."""

from __future__ import annotations

import io
import wave
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from gradium.accounts.models import ApiKey
from gradium.audio.errors import UnknownFormatError
from gradium.audio.files import read_audio_file
from gradium.audio.output import open_encoder_for, wav_with_sizes
from gradium.engines.base import WordTiming
from gradium.server.access_tokens import TokenSigner, signer_for
from gradium.server.protocols.cartesia.auth import credential_from, parse_expires_in, parse_grants
from gradium.server.protocols.cartesia.stt_audio import check_raw_format, file_to_wav, to_int16
from gradium.server.protocols.cartesia.tts_core import (
    TextJoiner,
    TtsRequestError,
    approximate_phonemes,
    parse_tts_request,
)
from gradium.server.protocols.cartesia.tts_http import http_error
from gradium.server.protocols.cartesia.voicing import (
    catalog_embedding,
    params_from_embedding,
    resolve_voice_spec,
)

KEY = ApiKey(7, 3, "k", "abcd", False, datetime.now(timezone.utc), None)
TONE = (np.sin(np.arange(24_000) / 8) * 12_000).astype(np.int16)


def test_tokens_round_trip_expire_and_resist_forgery() -> None:
    signer = TokenSigner(b"s" * 32)
    token = signer.mint(KEY, frozenset({"tts"}), 60, now=1000.0)
    payload = signer.verify(token, now=1010.0)
    assert payload is not None and payload["k"] == 7 and payload["o"] == 3 and payload["g"] == ["tts"]
    assert signer.verify(token, now=1061.0) is None  # expired
    assert TokenSigner(b"x" * 32).verify(token, now=1010.0) is None  # another server's secret
    body, _, signature = token.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    assert signer.verify(forged, now=1010.0) is None
    assert signer.verify("ctk_garbage", now=1010.0) is None


def test_secret_is_created_once_per_data_dir(tmp_path: Path) -> None:
    first = signer_for(tmp_path)
    token = first.mint(KEY, frozenset({"stt"}), 60)
    assert (tmp_path / "cartesia_token_secret").stat().st_mode & 0o777 == 0o600
    signer_for.cache_clear()
    assert signer_for(tmp_path).verify(token) is not None  # survives a restart


def test_credentials_and_grants() -> None:
    assert credential_from({"x-api-key": "gd_a"}) == "gd_a"
    assert credential_from({"authorization": "Bearer ctk_t"}) == "ctk_t"
    assert credential_from({}, {"access_token": "ctk_q"}) == "ctk_q"
    assert credential_from({}, {}) is None
    assert parse_grants(None) == {"tts", "stt"}
    assert parse_grants({"stt": True, "tts": False}) == {"stt"}
    with pytest.raises(ValueError):
        parse_grants({"voices": True})
    assert parse_expires_in(None) == 60
    for bad in (0, 3601, "60", True):
        with pytest.raises(ValueError):
            parse_expires_in(bad)


def test_text_joiner_concatenates_continuations_verbatim() -> None:
    joiner = TextJoiner()
    assert joiner.push("Hel") == ""
    assert joiner.push("lo wor") == "Hello"
    assert joiner.push("ld, <flush>how ") == "world, how"
    assert joiner.drain() == ""
    assert joiner.push("are") == "" and joiner.drain() == "are"


@pytest.mark.parametrize(
    ("container", "encoding", "rate", "bytes_per_sample"),
    [("raw", "pcm_f32le", 44_100, 4), ("raw", "pcm_s16le", 8_000, 2), ("raw", "pcm_mulaw", 16_000, 1),
     ("raw", "pcm_alaw", 48_000, 1), ("wav", "pcm_s16le", 22_050, 2), ("wav", "pcm_f32le", 24_000, 4),
     ("wav", "pcm_alaw", 8_000, 1), ("wav", "pcm_mulaw", 16_000, 1)],
)  # fmt: skip
def test_encoders_for_every_encoding(container: str, encoding: str, rate: int, bytes_per_sample: int) -> None:
    encoder = open_encoder_for(container, encoding, rate)
    data = b"".join(encoder.encode(TONE, 24_000) + encoder.finish())
    if container == "raw":
        assert len(data) == pytest.approx(rate * bytes_per_sample, rel=0.01)
        return
    audio, decoded_rate = read_audio_file(wav_with_sizes(data))
    assert decoded_rate == rate and audio.size == pytest.approx(rate, rel=0.01)


def test_wav_sizes_mp3_duration_cap_and_gain() -> None:
    encoder = open_encoder_for("wav", "pcm_s16le", 16_000, max_seconds=0.25, gain=0.5)
    data = wav_with_sizes(b"".join(encoder.encode(TONE, 24_000) + encoder.finish()))
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() == 4000 and reader.getframerate() == 16_000
        peak = np.abs(np.frombuffer(reader.readframes(4000), dtype="<i2")).max()
    assert encoder.capped and 5_000 < peak < 6_500
    mp3 = open_encoder_for("mp3", None, 44_100, 64_000)
    audio, rate = read_audio_file(b"".join(mp3.encode(TONE, 24_000) + mp3.finish()))
    assert rate == 44_100 and audio.size / rate == pytest.approx(1.0, abs=0.1)
    bad_formats: list[tuple[str, str | None, int, int | None]] = [
        ("ogg", "pcm_s16le", 16_000, None),
        ("raw", "pcm_u8", 16_000, None),
        ("raw", "pcm_s16le", 11_025, None),
        ("mp3", None, 44_100, 100_000),
    ]
    for container, encoding, rate, bit_rate in bad_formats:
        with pytest.raises(UnknownFormatError):
            open_encoder_for(container, encoding, rate, bit_rate)


def test_tts_request_validation() -> None:
    body = {
        "model_id": "sonic-2",
        "voice": {"mode": "id", "id": "YTpq7expH9539ERJ", "__experimental_controls": {"speed": "fast"}},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "language": "fr",
        "speed": "slow",
        "generation_config": {"volume": 1.5, "speed": 1.2, "emotion": "calm"},
        "duration": 2,
        "pronunciation_dict_id": None,
    }
    spec = parse_tts_request(body, flite=False)
    assert spec.voice.language == "fr" and spec.voice.espeak_voice.startswith("fr")
    assert spec.gain == 1.5 and spec.max_seconds == 2 and spec.speed > 1.0
    for key, value, status in [("voice", {"mode": "id", "id": "nope"}, 404), ("language", "xx", 400),
                               ("speed", "warp", 400), ("generation_config", {"volume": 9}, 400),
                               ("output_format", {"container": "raw", "sample_rate": "x"}, 400)]:  # fmt: skip
        with pytest.raises(TtsRequestError) as caught:
            parse_tts_request({**body, key: value}, flite=False)
        assert caught.value.status == status


def test_embeddings_map_back_to_the_voice() -> None:
    emma = resolve_voice_spec({"mode": "id", "id": "YTpq7expH9539ERJ"}, None, flite=False)
    from gradium.catalog import load_catalog

    embedding = catalog_embedding(load_catalog()["YTpq7expH9539ERJ"])
    again = params_from_embedding(embedding, "en", flite=False)
    assert len(embedding) == 192 and again.pitch == emma.pitch and again.rate_wpm == emma.rate_wpm
    assert again.espeak_voice.endswith("+f2")
    assert again.neural is not None and again.neural.voice == (("af_heart", 1.0),)


def test_embedding_voices_speak_a_neural_mix_along_the_gender_axis() -> None:
    def neural(gender: float, pitch: float, language: str = "en") -> object:
        return params_from_embedding([gender, pitch, 0.0, 0.0], language, flite=False).neural

    between = neural(0.0, 0.0)
    assert between.voice == (("af_heart", 0.5), ("am_michael", 0.5)) and between.pitch_factor == 1.0  # type: ignore[attr-defined]
    assert neural(-1.0, 1.0).voice == (("am_michael", 1.0),)  # type: ignore[attr-defined]
    assert neural(-1.0, 1.0).pitch_factor > 1.15 > 0.87 > neural(-1.0, -1.0).pitch_factor  # type: ignore[attr-defined]
    assert neural(0.4, 0.0, "pt").accent == "pt-BR"  # type: ignore[attr-defined]
    assert neural(1.0, 0.0, "de") is None  # German: espeak-ng


def test_stt_raw_conversions() -> None:
    floats = np.array([0.5, -0.5], dtype="<f4").tobytes()
    assert np.frombuffer(to_int16(floats, "pcm_f32le"), "<i2").tolist() == [16384, -16384]
    s32 = np.array([1 << 30, -(1 << 30)], dtype="<i4").tobytes()
    assert np.frombuffer(to_int16(s32, "pcm_s32le"), "<i2").tolist() == [16384, -16384]
    assert check_raw_format(None, None) == ("pcm_s16le", 16000)
    with pytest.raises(ValueError):
        check_raw_format("pcm_u8", 16000)
    with pytest.raises(ValueError):
        check_raw_format("pcm_s16le", 4000)
    wav = file_to_wav(TONE.tobytes(), "pcm_s16le", 24000)
    assert read_audio_file(wav)[1] == 24000


def test_phoneme_timestamps_cover_each_word() -> None:
    phonemes, starts, ends = approximate_phonemes([WordTiming("Hi!", 0.0, 0.2), WordTiming("you", 0.2, 0.5)])
    assert phonemes == ["h", "i", "y", "o", "u"] and starts[0] == 0.0 and ends[-1] == 0.5
    assert all(a <= b for a, b in zip(starts, ends, strict=True))


def test_an_engine_at_capacity_is_503_with_retry_after_and_other_errors_are_not() -> None:
    busy = http_error(TtsRequestError("the kokoro voices are at capacity", 503), retry_after_s=3)
    assert busy.status_code == 503 and busy.headers == {"Retry-After": "3"}
    invalid = http_error(TtsRequestError("output_format.bit_rate must be an integer"))
    assert invalid.status_code == 400 and invalid.headers is None
