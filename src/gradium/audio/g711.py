"""G.711 mu-law and A-law, bit-exact with the CCITT reference algorithm (the one `audioop` used).

`audioop` is gone in Python 3.13, so the algorithm is written here once, vectorised over every
possible input, and frozen into lookup tables: 65,536 entries for encoding (indexed by the int16
sample's bit pattern) and 256 for decoding. Table look-ups are far faster than the arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

# Upper bounds of the eight logarithmic segments, on the reference's reduced-precision scales
# (14-bit magnitude for mu-law, 13-bit for A-law).
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_CLIP = 8159  # largest 14-bit magnitude before the bias is added
_ULAW_BIAS = 0x84
_QUANT_MASK = 0x0F
_SEG_MASK = 0x70
_SEG_SHIFT = 4
_SIGN_BIT = 0x80


def _segment(magnitude: NDArray[np.int32], ends: NDArray[np.int32]) -> NDArray[np.int32]:
    """Index of the first segment whose end is >= magnitude; 8 means beyond the last segment."""
    return np.searchsorted(ends, magnitude, side="left").astype(np.int32)


def _ulaw_encode_exact(pcm: NDArray[np.int32]) -> NDArray[np.uint8]:
    value = pcm >> 2  # the reference works on 14-bit samples (arithmetic shift, as in C)
    negative = value < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -value, value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _segment(magnitude, _ULAW_SEGMENT_ENDS)
    code = (np.minimum(seg, 7) << 4) | ((magnitude >> (np.minimum(seg, 7) + 1)) & _QUANT_MASK)
    # Magnitudes past the last segment saturate to the loudest code of their sign.
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_encode_exact(pcm: NDArray[np.int32]) -> NDArray[np.uint8]:
    value = pcm >> 3  # the reference works on 13-bit samples
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)  # one's complement keeps -1 in segment 0
    seg = _segment(magnitude, _ALAW_SEGMENT_ENDS)
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = (np.minimum(seg, 7) << _SEG_SHIFT) | ((magnitude >> shift) & _QUANT_MASK)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _ulaw_decode_exact(codes: NDArray[np.int32]) -> NDArray[np.int16]:
    inverted = ~codes & 0xFF
    magnitude = (((inverted & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((inverted & _SEG_MASK) >> _SEG_SHIFT)
    signed = np.where(inverted & _SIGN_BIT, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS)
    return signed.astype(np.int16)


def _alaw_decode_exact(codes: NDArray[np.int32]) -> NDArray[np.int16]:
    toggled = codes ^ 0x55  # A-law transmits with even bits inverted
    mantissa = (toggled & _QUANT_MASK) << 4
    seg = (toggled & _SEG_MASK) >> _SEG_SHIFT
    magnitude = np.where(seg == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(seg - 1, 0))
    return np.where(toggled & _SIGN_BIT, magnitude, -magnitude).astype(np.int16)


def _encode_table(encode: Callable[[NDArray[np.int32]], NDArray[np.uint8]]) -> NDArray[np.uint8]:
    # Index = the sample's uint16 bit pattern, so a view of the input can index the table directly.
    samples = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    return encode(samples)


_ULAW_ENCODE = _encode_table(_ulaw_encode_exact)
_ALAW_ENCODE = _encode_table(_alaw_encode_exact)
_ALL_CODES = np.arange(256, dtype=np.int32)
_ULAW_DECODE = _ulaw_decode_exact(_ALL_CODES)
_ALAW_DECODE = _alaw_decode_exact(_ALL_CODES)


def ulaw_encode(pcm: NDArray[np.int16]) -> bytes:
    """Encode int16 samples to G.711 mu-law bytes (one byte per sample)."""
    return _ULAW_ENCODE[_bit_patterns(pcm)].tobytes()


def alaw_encode(pcm: NDArray[np.int16]) -> bytes:
    """Encode int16 samples to G.711 A-law bytes (one byte per sample)."""
    return _ALAW_ENCODE[_bit_patterns(pcm)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> NDArray[np.int16]:
    """Decode G.711 mu-law bytes to int16 samples."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes | bytearray | memoryview) -> NDArray[np.int16]:
    """Decode G.711 A-law bytes to int16 samples."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def _bit_patterns(pcm: NDArray[np.int16]) -> NDArray[np.uint16]:
    return np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1).view(np.uint16)
