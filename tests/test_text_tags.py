"""Tests for gradium.text.tags: <flush>, <break time=... />, unknown tags, split tags."""

from __future__ import annotations

import pytest

from gradium.text.tags import (
    MAX_TAG_LENGTH,
    Break,
    Flush,
    StrippedTag,
    TagError,
    TagScanner,
    parse_break_time,
    parse_tag,
    scan_tags,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1.5s", 1.5),
        ("0.1s", 0.1),
        ("2s", 2.0),
        ("2.0s", 2.0),
        ("500ms", 0.5),
        ("100ms", 0.1),
        ("1", 1.0),
        (" 1 s ", 1.0),
    ],
)
def test_break_time_accepts_seconds_and_milliseconds(value: str, seconds: float) -> None:
    assert parse_break_time(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["3s", "0.05s", "2.5s", "0s", "2001ms", "50ms"])
def test_break_time_out_of_range_names_the_value(value: str) -> None:
    with pytest.raises(TagError, match=rf'between 0.1 and 2.0 seconds, got "{value}"'):
        parse_break_time(value)


@pytest.mark.parametrize("value", ["", "abc", "1,5s", "1.5 minutes", "-1s", "1.5s2"])
def test_break_time_malformed(value: str) -> None:
    with pytest.raises(TagError):
        parse_break_time(value)


@pytest.mark.parametrize(
    "raw",
    [
        '<break time="1.5s" />',
        "<break time='1.5s'/>",
        "<break time=1.5s>",
        '<BREAK TIME="1.5s" />',
        '<break time = "1.5s" / >',
    ],
)
def test_parse_break_spellings(raw: str) -> None:
    assert parse_tag(raw) == Break(1.5)


def test_parse_flush_spellings() -> None:
    assert parse_tag("<flush>") == Flush()
    assert parse_tag("<flush/>") == Flush()
    assert parse_tag("<FLUSH />") == Flush()


def test_break_without_time_is_an_error() -> None:
    with pytest.raises(TagError, match="time attribute"):
        parse_tag("<break />")


@pytest.mark.parametrize("raw", ["<b>", "</b>", "<speak>", '<emphasis level="strong">', "<br/>", "</flush>"])
def test_unknown_tags_are_stripped(raw: str) -> None:
    assert parse_tag(raw) == StrippedTag(raw)


@pytest.mark.parametrize("raw", ["< b>", "<y and z>", "<>", "<3>"])
def test_prose_is_not_a_tag(raw: str) -> None:
    assert parse_tag(raw) is None


def test_scan_keeps_plain_angle_brackets() -> None:
    pieces, held = scan_tags("a < b and x<y and z>w <flush> c", final=False)
    assert pieces == ["a < b and x<y and z>w ", Flush(), " c"]
    assert held == ""


def test_scan_holds_back_an_unterminated_tag() -> None:
    pieces, held = scan_tags("hello <break time=", final=False)
    assert pieces == ["hello "]
    assert held == "<break time="


def test_scanner_joins_a_tag_split_across_messages() -> None:
    scanner = TagScanner()
    assert scanner.feed("Hi. <break time=") == ["Hi. "]
    assert scanner.held_back == "<break time="
    assert scanner.feed(' "1s" /> there') == [Break(1.0), " there"]


def test_scanner_gives_up_on_a_long_unterminated_tag() -> None:
    scanner = TagScanner()
    text = "<b " + "x" * MAX_TAG_LENGTH
    assert scanner.feed(text) == [text]
    assert scanner.held_back == ""


def test_scanner_finish_releases_held_text_as_plain() -> None:
    scanner = TagScanner()
    assert scanner.feed("a <b") == ["a "]
    assert scanner.finish() == ["<b"]


def test_scanner_error_does_not_stick() -> None:
    scanner = TagScanner()
    with pytest.raises(TagError):
        scanner.feed('<break time="9s" />')
    assert scanner.feed("ok") == ["ok"]


@pytest.mark.parametrize(
    "text",
    [
        'Hello <break time="1s"',  # issue 12 #11: cut off by the end of the text
        "Hello <flush",
        "Hello <break foo> there",  # an attribute without a value: not a valid tag
        "Hello <BREAK",
    ],
)
def test_an_unfinished_or_malformed_control_tag_is_an_error(text: str) -> None:
    scanner = TagScanner()
    with pytest.raises(TagError, match="malformed"):
        scanner.feed(text)
        scanner.finish()


def test_a_control_tag_that_never_closes_is_an_error_even_mid_stream() -> None:
    scanner = TagScanner()
    with pytest.raises(TagError, match="malformed <break> tag"):
        scanner.feed("<break time=" + "1" * MAX_TAG_LENGTH)


def test_words_that_start_like_a_tag_name_stay_text() -> None:
    scanner = TagScanner()
    assert scanner.feed("a <breakfast") == ["a "]
    assert scanner.finish() == ["<breakfast"]
