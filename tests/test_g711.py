"""G.711: bit-exact with the CCITT reference as shipped in the stdlib `audioop` (Python <= 3.12)."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pytest

from gradium.audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module: ModuleType = pytest.importorskip("audioop")
    return module


def test_ulaw_encode_matches_audioop_for_every_int16(audioop: ModuleType) -> None:
    assert ulaw_encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.astype("<i2").tobytes(), 2)


def test_alaw_encode_matches_audioop_for_every_int16(audioop: ModuleType) -> None:
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16.astype("<i2").tobytes(), 2)


def test_ulaw_decode_matches_audioop_for_every_code(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.ulaw2lin(ALL_CODES, 2), dtype="<i2")
    np.testing.assert_array_equal(ulaw_decode(ALL_CODES), expected)


def test_alaw_decode_matches_audioop_for_every_code(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.alaw2lin(ALL_CODES, 2), dtype="<i2")
    np.testing.assert_array_equal(alaw_decode(ALL_CODES), expected)


def test_silence_codes() -> None:
    zeros = np.zeros(4, dtype=np.int16)
    assert ulaw_encode(zeros) == b"\xff" * 4
    assert alaw_encode(zeros) == b"\xd5" * 4


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_round_trip_error_is_logarithmic(encode: object, decode: object) -> None:
    assert callable(encode) and callable(decode)
    tone = (12000 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.int16)
    restored = decode(encode(tone))
    assert restored.dtype == np.int16 and restored.shape == tone.shape
    error = np.abs(restored.astype(np.int32) - tone)
    # 8-bit companding keeps each sample within about 1/32 of its magnitude (plus a small floor).
    assert np.all(error <= np.abs(tone.astype(np.int32)) / 32 + 16)


def test_encode_accepts_non_contiguous_views() -> None:
    tone = (8000 * np.sin(np.arange(200) / 5)).astype(np.int16)
    assert ulaw_encode(tone[::2]) == ulaw_encode(tone[::2].copy())
    assert len(alaw_encode(tone[::2])) == 100
