"""SttPipeline in-process on the real English recordings of ../shared/corpus (each decoded once)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sphn

from gradium.audio.input import AudioFormatError, UnknownFormatError
from gradium.bench.inputs import load_pcm
from gradium.engines.base import WordTiming
from gradium.engines.pocketsphinx import PocketsphinxDecoder
from gradium.speech.stt_engines import Recognizers
from gradium.speech.stt_pipeline import (
    InvalidSttConfigError,
    Step,
    SttEvent,
    SttPipeline,
    UnsupportedLanguageError,
    UtteranceEnd,
    Word,
    _StableCommitter,
)
from gradium.speech.turns import UNSURE, sentence_state
from stt_corpus import CORPUS, Clip, chunks, english_clips, run_pipeline, total_wer, wer, words_of

# Measured with benchmarks/stt_corpus_wer.py (fast search, delay_in_frames=10, temp=0): total corpus
# WER 0.486 over the 16 English clips (per-clip table in benchmarks/results/stt_corpus_wer.md).
MEASURED_TOTAL_WER = 0.486
WER_TOLERANCE = 0.05

HORIZONS = (0.5, 1.0, 2.0)


@pytest.fixture(scope="module")
def decoder() -> PocketsphinxDecoder:
    return PocketsphinxDecoder()


@pytest.fixture(scope="module")
def corpus_runs(decoder: PocketsphinxDecoder) -> list[tuple[Clip, list[SttEvent]]]:
    runs = []
    for clip in english_clips():
        decoder.reset()
        runs.append((clip, run_pipeline(SttPipeline(clip.input_format, decoder=decoder), clip.data)))
    return runs


def steps_of(events: list[SttEvent]) -> list[Step]:
    return [event for event in events if isinstance(event, Step)]


def test_one_step_per_80_ms_in_order(corpus_runs: list[tuple[Clip, list[SttEvent]]]) -> None:
    for clip, events in corpus_runs:
        steps = steps_of(events)
        duration = steps[-1].total_duration_s
        assert duration == pytest.approx(clip.duration_s, abs=0.01), clip.name
        assert len(steps) == math.ceil(duration / 0.08 - 1e-9), clip.name
        assert [s.step_idx for s in steps] == list(range(len(steps)))
        for step in steps[:-1]:
            assert step.total_duration_s == pytest.approx((step.step_idx + 1) * 0.08)


def test_words_in_order_within_the_audio(corpus_runs: list[tuple[Clip, list[SttEvent]]]) -> None:
    for clip, events in corpus_runs:
        words = words_of(list(events))
        assert words, clip.name
        assert all(w.text and w.text == w.text.strip() and "(" not in w.text for w in words)
        assert all(0 <= w.start_s <= w.stop_s <= clip.duration_s + 0.05 for w in words), clip.name
        assert all(a.stop_s <= b.start_s for a, b in itertools.pairwise(words)), clip.name


def test_inactivity_probabilities(corpus_runs: list[tuple[Clip, list[SttEvent]]]) -> None:
    for _, events in corpus_runs:
        for step in steps_of(events):
            assert tuple(h for h, _ in step.inactivity) == HORIZONS
            assert all(0.0 <= p <= 1.0 for _, p in step.inactivity)
            probs = [p for _, p in step.inactivity]
            assert probs == sorted(probs, reverse=True)  # a longer horizon is never likelier silent


def test_inactivity_low_in_speech_high_in_trailing_silence(decoder: PocketsphinxDecoder) -> None:
    clip = next(c for c in english_clips() if c.name == "en_librivox_ss_0870.wav")
    audio, _ = sphn.read(str(CORPUS / clip.name), sample_rate=16000)
    pcm = (audio[0] * 32767).astype(np.int16)
    silence = np.zeros(3 * 16000, dtype=np.int16)
    decoder.reset()
    events = run_pipeline(SttPipeline("pcm_16000", decoder=decoder), np.concatenate([pcm, silence]).tobytes())
    steps, words = steps_of(events), words_of(list(events))
    in_words = [s for s in steps if any(w.start_s + 0.1 < s.total_duration_s < w.stop_s for w in words)]
    assert len(in_words) > 20
    assert float(np.median([s.inactivity[0][1] for s in in_words])) < 0.2
    last = dict(steps[-1].inactivity)
    assert last[0.5] > 0.9 and last[1.0] > 0.8 and last[2.0] > 0.6


def test_corpus_wer(corpus_runs: list[tuple[Clip, list[SttEvent]]]) -> None:
    pairs = []
    for clip, events in corpus_runs:
        text = " ".join(w.text for w in words_of(list(events)))
        pairs.append((clip.transcript, text))
        print(f"{clip.name:40s} WER {wer(clip.transcript, text):.3f}  {text}")
    total = total_wer(pairs)
    print(f"total WER {total:.3f}")
    assert total <= MEASURED_TOTAL_WER + WER_TOLERANCE


def test_flush_commits_words_before_the_end(decoder: PocketsphinxDecoder) -> None:
    clip = next(c for c in english_clips() if c.name == "en_goforward.raw")
    decoder.reset()
    pipeline = SttPipeline(clip.input_format, decoder=decoder, delay_in_frames=48)
    before: list[SttEvent] = []
    for chunk in chunks(clip.data):
        before += pipeline.feed(chunk)
    flushed = pipeline.flush()
    after = pipeline.finish()
    assert words_of(list(flushed)), "the speaker is silent at the end: flush must commit the words"
    texts = [w.text for w in words_of([*before, *flushed, *after])]
    assert texts[:2] == ["go", "forward"]
    assert len(steps_of([*before, *flushed, *after])) == math.ceil(len(clip.data) / 2 / 1280)


def test_reset_decoder_matches_a_fresh_one(corpus_runs: list[tuple[Clip, list[SttEvent]]]) -> None:
    clip, events = corpus_runs[1]  # decoded after another clip by the shared, reset decoder
    fresh = run_pipeline(SttPipeline(clip.input_format), clip.data)
    assert words_of(list(fresh)) == words_of(list(events))


def test_temp_changes_the_decoder() -> None:
    clip = next(c for c in english_clips() if c.name == "en_librispeech_2830-3980-0043.wav")
    pipeline = SttPipeline(clip.input_format, temp=1.0)
    assert isinstance(pipeline.decoder, PocketsphinxDecoder) and pipeline.decoder.temp == 1.0
    assert words_of(list(run_pipeline(pipeline, clip.data)))


@pytest.mark.parametrize("language", ["fr", "de", "xx"])
def test_unsupported_language_names_the_installed_ones(language: str) -> None:
    with pytest.raises(UnsupportedLanguageError, match="installed: en"):
        SttPipeline("pcm", language=language)


@pytest.mark.parametrize(("delay", "temp"), [(9, 0.0), (0, 0.0), (10, -0.1), (10, 1.5)])
def test_invalid_delay_or_temp(delay: int, temp: float) -> None:
    with pytest.raises(InvalidSttConfigError):
        SttPipeline("pcm", delay_in_frames=delay, temp=temp)


def test_format_errors() -> None:
    with pytest.raises(UnknownFormatError):
        SttPipeline("mp3")
    pipeline = SttPipeline("wav")
    with pytest.raises(AudioFormatError):
        for _ in range(4):
            pipeline.feed(b"this is not a RIFF/WAVE header at all" * 4)
        pipeline.finish()


def test_commit_waits_for_delay_from_word_start_margin_and_stability() -> None:
    committer = _StableCommitter(delay_s=0.8, margin_s=0.24, stable_s=0.16)
    short = WordTiming("a", 1.0, 1.1)  # ready at start + delay = 1.8 s
    long = WordTiming("b", 1.1, 2.0)  # longer than the delay: ready at stop + margin = 2.24 s
    hypothesis = [short, long]
    assert committer.stable_words(hypothesis, 1.6) == []
    assert committer.stable_words(hypothesis, 1.76) == []  # stable, but only 0.76 s after its start
    assert committer.stable_words(hypothesis, 1.84) == [short]
    assert committer.stable_words([long], 2.16) == []  # ended only 0.16 s ago
    assert committer.stable_words([long], 2.24) == [long]


def test_commit_needs_a_stable_hypothesis() -> None:
    committer = _StableCommitter(delay_s=0.56, margin_s=0.24, stable_s=0.16)
    assert committer.stable_words([WordTiming("wreck", 0.0, 0.3)], 1.0) == []  # new at 1.0 s
    assert committer.stable_words([WordTiming("recognise", 0.0, 0.4)], 1.08) == []  # changed
    assert committer.stable_words([WordTiming("recognise", 0.0, 0.4)], 1.16) == []
    assert [w.text for w in committer.stable_words([WordTiming("recognise", 0.0, 0.4)], 1.24)] == [
        "recognise"
    ]


def test_silence_between_utterances_is_skipped_without_moving_word_times(
    decoder: PocketsphinxDecoder,
) -> None:
    clip = next(c for c in english_clips() if c.name == "en_goforward.raw")
    speech = np.frombuffer(clip.data, dtype="<i2")
    silence = np.zeros(3 * 16000, dtype=np.int16)
    decoder.reset()
    alone = words_of(run_pipeline(SttPipeline("pcm_16000", decoder=decoder), clip.data))
    decoder.reset()
    padded = np.concatenate([silence, speech, silence, speech, silence]).tobytes()
    pipeline = SttPipeline("pcm_16000", decoder=decoder)
    twice = words_of(run_pipeline(pipeline, padded))
    assert decoder.seconds_accepted < 2 * clip.duration_s + 2.0  # most of the 9 s of silence skipped
    assert [w.text for w in twice] == [w.text for w in alone] * 2
    second_start = 6.0 + clip.duration_s
    # Word boundaries may move a little (the cepstral mean adapts to what was heard before), but
    # the seconds of silence the recogniser never got must not be missing from the times.
    for offset, words in ((3.0, twice[: len(alone)]), (second_start, twice[len(alone) :])):
        for got, expected in zip(words, alone, strict=True):
            assert got.start_s == pytest.approx(expected.start_s + offset, abs=0.15)
            assert got.stop_s == pytest.approx(expected.stop_s + offset, abs=0.15)


def _pcm16k(name: str, tail_s: float = 2.0) -> bytes:
    audio, _ = sphn.read(str(CORPUS / name), sample_rate=16000)
    pcm = (np.asarray(audio).mean(axis=0) * 32767).astype(np.int16)
    return np.concatenate([pcm, np.zeros(int(tail_s * 16000), dtype=np.int16)]).tobytes()


def test_the_step_that_ends_an_utterance_carries_its_hint(decoder: PocketsphinxDecoder) -> None:
    decoder.reset()
    pcm = _pcm16k("en_librispeech_4507-16021-0012.wav")
    events = run_pipeline(SttPipeline("pcm_16000", decoder=decoder), pcm)
    end = next(i for i, e in enumerate(events) if isinstance(e, UtteranceEnd))
    ending = [e for e in events[:end] if isinstance(e, Step)][-1]
    last_word = [e for e in events[:end] if isinstance(e, Word)][-1]
    assert sentence_state(last_word.text) == UNSURE  # pocketsphinx: no punctuation, "way"
    # About 0.6 s after the last word: the density scale alone gives ~0.2, the hint ~0.8.
    assert ending.inactivity[-1][1] > 0.6


def test_a_breath_after_the_last_word_does_not_hold_the_end_of_turn_back() -> None:
    # en_fleurs_005: Silero hears a 64 ms breath 0.3 s after "others.", which restarts the
    # segmentation's silence; the early final-quality pass gives the hint before the utterance end.
    # As the benchmark streams it: 24 kHz PCM in 80 ms chunks, then 2 s of silence (at 16 kHz
    # from the file, the breath is a longer run: speech).
    recognizers = Recognizers()
    decoder = recognizers.decoder("whisper", "en", 0.0)
    final_passes: list[int] = []
    finish = decoder.finish

    def counted_finish() -> list[WordTiming]:  # a spy: the real pass runs
        final_passes.append(len(events))
        return finish()

    decoder.finish = counted_finish  # type: ignore[method-assign]
    early_passes: list[int] = []
    final_hypothesis = decoder.final_hypothesis

    def counted_final_hypothesis() -> list[WordTiming]:  # a spy too
        early_passes.append(len(events))
        return final_hypothesis()

    decoder.final_hypothesis = counted_final_hypothesis  # type: ignore[method-assign]
    pipeline = SttPipeline("pcm", decoder=decoder, vad=recognizers.vad("whisper"))
    pcm = np.concatenate([load_pcm(CORPUS / "en_fleurs_005.wav", 24000), np.zeros(48000, dtype="<i2")])
    events: list[SttEvent] = []
    for piece in chunks(pcm.tobytes(), 3840):
        events += pipeline.feed(piece)
    events += pipeline.finish()
    end = next(i for i, e in enumerate(events) if isinstance(e, UtteranceEnd))
    last_word = [e for e in events[:end] if isinstance(e, Word)][-1]
    assert last_word.text == "others."
    reached = next(e for e in events if isinstance(e, Step) and e.inactivity[-1][1] >= 0.9)
    assert reached.total_duration_s - last_word.stop_s <= 0.8  # was 1.0 (0.9 only after the end)
    assert events.index(reached) < end  # before the utterance's own end
    # The early pass's words ended the utterance: no second final pass over the same speech.
    assert not final_passes
    # One early pass: none at the clip's onset (a short first run after 1 s of leading silence).
    assert len(early_passes) == 1
