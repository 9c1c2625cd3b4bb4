"""Property-based tests (hypothesis) of the parsers that read client input: text, tags, rewrite
rules and WAV headers. Whatever a client sends, each gives a result or its documented error, never
another exception; and the invariants behind issue 12's defects hold for every input."""

from __future__ import annotations

import contextlib
import itertools
import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradium.audio.errors import AudioFormatError
from gradium.audio.wav import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, WavHeaderParser
from gradium.text.normalize import RewriteRules, RuleError
from gradium.text.segmenter import Segment, TextSegmenter
from gradium.text.tags import Break, TagError, TagScanner
from gradium.text.validate import TextError, check_text

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text biased towards what breaks parsers: tag fragments, quotes, digits, surrogates, controls.
FRAGMENTS = st.sampled_from(
    ["<", ">", "/", "=", '"', "'", "<break", "<flush", 'time="1s"', "time=", "500ms", " ", ".", "a",
     "<b>", "</b>", "\ud800", "\x00", "é", "1.5s", "<break time=\"2s\"/>", "<flush>"]
)  # fmt: skip
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=30).map("".join)


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(max(c, 0), len(text)) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@FAST
@given(TEXT)
def test_check_text_accepts_exactly_what_utf8_can_carry(text: str) -> None:
    try:
        check_text(text)
    except TextError:
        return
    text.encode("utf-8")  # accepted text is encodable: no lone surrogate got through
    assert "\x00" not in text


@FAST
@given(TEXT, st.lists(st.integers(0, 200), max_size=6))
def test_tag_scanning_gives_text_and_tags_or_a_tag_error(text: str, cuts: list[int]) -> None:
    scanner = TagScanner()
    try:
        pieces = [p for piece in pieces_of(text, cuts) for p in scanner.feed(piece)]
        pieces += scanner.finish()
    except TagError:
        return
    spoken = "".join(p for p in pieces if isinstance(p, str)).lower()
    # issue 12 #11: a <break or <flush is never read aloud (it becomes a tag or an error).
    for name in ("<break", "<flush"):
        index = spoken.find(name)
        while index != -1:
            after = spoken[index + len(name) : index + len(name) + 1]
            assert after != "" and (after.isalnum() or after in "_:.-"), (text, pieces)
            index = spoken.find(name, index + 1)
    assert all(0.1 - 1e-9 <= p.seconds <= 2.0 + 1e-9 for p in pieces if isinstance(p, Break))


@FAST
@given(TEXT)
def test_segmenter_emits_non_empty_segments_or_a_tag_error(text: str) -> None:
    segmenter = TextSegmenter()
    try:
        items = segmenter.push(text) + segmenter.end()
    except TagError:
        return
    assert all(item.text.strip() for item in items if isinstance(item, Segment))


RULE_PARTS = st.sampled_from(
    ["/", "(a+)+$", "(?<!a)", "\\1", "\\g<x>", "(?P<x>a)", "=>", ";", "x", "en", "i", "[", "]",
     "*", "+", "{2,}", "\\b", "\\;", " ", "\n", "#", "colou?r", "(", ")"]
)  # fmt: skip
RULES = st.lists(st.one_of(RULE_PARTS, st.text(max_size=4)), max_size=12).map("".join)


@FAST
@given(RULES, st.text(alphabet="a!b ", max_size=40))
def test_rewrite_rules_parse_or_refuse_and_always_apply_quickly(spec: str, text: str) -> None:
    try:
        rules = RewriteRules.parse(spec)
    except RuleError:
        return
    started = time.perf_counter()
    assert isinstance(rules.apply(text * 50), str)
    assert time.perf_counter() - started < 1.0  # RE2: linear time, whatever the pattern


def wav_header(tag: int, channels: int, rate: int, block: int, bits: int, data: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@FAST
@given(
    st.sampled_from([1, 3, 6, 7, 0xFFFE, 0x55]),
    st.integers(0, 70),
    st.one_of(st.integers(0, 400_000), st.sampled_from([1, 7_999, 8_000, 192_000, 192_001, 2**32 - 1])),
    st.integers(0, 300),
    st.sampled_from([0, 8, 12, 16, 24, 32, 64]),
    st.binary(max_size=64),
)
def test_wav_headers_parse_to_sane_formats_or_an_audio_error(
    tag: int, channels: int, rate: int, block: int, bits: int, data: bytes
) -> None:
    try:
        parsed = WavHeaderParser().feed(wav_header(tag, channels, rate, block, bits, data))
    except AudioFormatError:
        return
    assert parsed is not None
    fmt, _ = parsed
    assert MIN_SAMPLE_RATE <= fmt.sample_rate <= MAX_SAMPLE_RATE
    assert 1 <= fmt.channels <= MAX_CHANNELS and fmt.block_align == block


@FAST
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_wav_parser(data: bytes) -> None:
    with contextlib.suppress(AudioFormatError):
        WavHeaderParser().feed(b"RIFF\x00\x00\x00\x00WAVE" + data)
