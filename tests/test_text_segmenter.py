"""Tests for gradium.text.segmenter: clause cuts, tags, incremental feeding, billing."""

from __future__ import annotations

import pytest

from gradium.text.segmenter import Break, Flush, Segment, SegmenterItem, TextSegmenter, billable_characters
from gradium.text.tags import TagError

DOCUMENT = (
    "Hello, this is a test from Dr. Smith, e.g. a demo. <flush> We met on March 3, 2024 at 3:45 pm! "
    '<break time="1.5s" /> It costs $3.50; really? Am 3. Mai <b>bold</b>, a < b… done'
)


def run_whole(text: str, max_pending_words: int = 12) -> list[SegmenterItem]:
    segmenter = TextSegmenter(max_pending_words)
    return segmenter.push(text) + segmenter.end()


def run_words(text: str, max_pending_words: int = 12) -> list[SegmenterItem]:
    segmenter = TextSegmenter(max_pending_words)
    items: list[SegmenterItem] = []
    for word in text.split(" "):
        items += segmenter.push(word)
    return items + segmenter.end()


def test_document_segments() -> None:
    assert run_whole(DOCUMENT) == [
        Segment("Hello,"),
        Segment("this is a test from Dr. Smith,"),
        Segment("e.g. a demo."),
        Flush(),
        Segment("We met on March 3, 2024 at 3:45 pm!"),
        Break(1.5),
        Segment("It costs $3.50;"),
        Segment("really?"),
        Segment("Am 3. Mai bold,"),
        Segment("a < b…"),
        Segment("done"),
    ]


def test_word_by_word_equals_whole_message() -> None:
    assert run_words(DOCUMENT) == run_whole(DOCUMENT)


def test_tokens_with_trailing_spaces_and_double_spaces_are_harmless() -> None:
    segmenter = TextSegmenter()
    items: list[SegmenterItem] = []
    for token in ["Hello ", " world.  ", "  How ", "are\tyou?\n"]:
        items += segmenter.push(token)
    assert items + segmenter.end() == [Segment("Hello world."), Segment("How are you?")]


def test_first_clause_is_emitted_before_end_of_stream() -> None:
    segmenter = TextSegmenter()
    assert segmenter.push("Hello") == []
    assert segmenter.push("there,") == [Segment("Hello there,")]
    assert segmenter.push("friend") == []
    assert segmenter.pending_text == "friend"


@pytest.mark.parametrize("word", ["Dr.", "Mr.", "Mrs.", "e.g.", "i.e.", "z.B.", "J.", "U.S.", "3.", "3,"])
def test_words_that_do_not_end_a_clause(word: str) -> None:
    segmenter = TextSegmenter()
    assert segmenter.push(f"see {word}") == []


@pytest.mark.parametrize(
    "word", ["end.", "end,", "end;", "end:", "end!", "end?", "end…", 'end."', "end!)", "3.5.", "$4."]
)
def test_words_that_end_a_clause(word: str) -> None:
    assert TextSegmenter().push(f"the {word}") == [Segment(f"the {word}")]


def test_decimal_does_not_cut() -> None:
    assert TextSegmenter().push("pi is 3.14 roughly") == []


def test_max_pending_words_cut() -> None:
    words = " ".join(f"w{i}" for i in range(10))
    assert run_words(words, max_pending_words=4) == [
        Segment("w0 w1 w2 w3 w4"),
        Segment("w5 w6 w7 w8 w9"),
    ]


def test_flush_emits_pending_then_flush() -> None:
    assert run_whole("one two <flush> three") == [Segment("one two"), Flush(), Segment("three")]


def test_flush_and_break_without_text_emit_no_empty_segment() -> None:
    assert run_whole('<flush> <break time="500ms"/>   <flush>') == [Flush(), Break(0.5), Flush()]


def test_tag_glued_to_words_is_a_word_boundary() -> None:
    assert run_whole("one<flush>two") == [Segment("one"), Flush(), Segment("two")]


def test_unknown_tags_are_removed_without_splitting_words() -> None:
    assert run_whole("<speak>Say <b>this</b>, please.</speak>") == [Segment("Say this,"), Segment("please.")]


@pytest.mark.parametrize(
    "pieces",
    [
        ["Wait", "<break", 'time="1s"', "/>", "go"],
        ["Wait <break time=", '"1s" />', "go"],
        ["Wait <break time=", '"1s"', "/> go"],
    ],
)
def test_split_break_tag(pieces: list[str]) -> None:
    segmenter = TextSegmenter()
    items: list[SegmenterItem] = []
    for piece in pieces:
        items += segmenter.push(piece)
    assert items + segmenter.end() == [Segment("Wait"), Break(1.0), Segment("go")]


def test_unterminated_tag_at_end_is_spoken_as_text() -> None:
    assert run_whole("a <b") == [Segment("a <b")]


def test_out_of_range_break_raises() -> None:
    segmenter = TextSegmenter()
    with pytest.raises(TagError, match='got "3s"'):
        segmenter.push('Hi. <break time="3s" />')


def test_empty_input() -> None:
    segmenter = TextSegmenter()
    assert segmenter.push("") == []
    assert segmenter.push("   ") == []
    assert segmenter.end() == []


def test_billable_characters_exclude_tags() -> None:
    items = run_whole('Hi there. <break time="1s" /> <flush> Bye.')
    segments = [item for item in items if isinstance(item, Segment)]
    assert sum(billable_characters(s.text) for s in segments) == len("Hi there.") + len("Bye.")
    assert segments[0].billable_characters == 9


def test_invalid_max_pending_words() -> None:
    with pytest.raises(ValueError):
        TextSegmenter(0)
