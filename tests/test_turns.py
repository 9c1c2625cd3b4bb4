"""The end-of-turn model (gradium.speech.turns) on synthetic sequences of VAD decisions.

Silero's frames are 32 ms: an 80 ms step holds 2 or 3 of them; these tests feed 3 (96 ms steps),
which changes nothing in the model but keeps the arithmetic simple.
"""

from __future__ import annotations

from gradium.speech.turns import ENDED, OPEN, UNSURE, InactivityEstimator, sentence_state

FRAME_S = 0.032
SPEECH, SILENCE, BLIP = [True] * 3, [False] * 3, [False, True, True]


def estimator() -> InactivityEstimator:
    return InactivityEstimator(frame_s=FRAME_S, min_speech_run=3)  # as the pipeline builds it for Silero


def vad2(est: InactivityEstimator, steps: list[list[bool]]) -> list[float]:
    return [est.update(step)[-1][1] for step in steps]


def test_sentence_state_from_the_last_word() -> None:
    assert sentence_state("country.") == ENDED
    assert sentence_state("way?") == ENDED
    assert sentence_state("not!") == ENDED
    assert sentence_state("country") == UNSURE  # Whisper left the last sentence unpunctuated
    assert sentence_state("control,") == OPEN
    assert sentence_state("the") == OPEN
    assert sentence_state("And") == OPEN
    assert sentence_state("l'", "fr") == OPEN
    assert sentence_state("und", "de") == OPEN
    assert sentence_state("und", "en") == UNSURE
    assert sentence_state("") == OPEN


def test_speech_keeps_every_probability_at_zero() -> None:
    est = estimator()
    assert all(p == 0.0 for step in vad2(est, [SPEECH] * 20) for p in [step])


def test_short_pause_inside_a_sentence_stays_low() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30)
    pause = vad2(est, [SILENCE] * 3)  # 0.29 s: shorter than the utterance end, so no hint
    assert max(pause) < 0.1
    assert vad2(est, [SPEECH]) == [0.0]


def test_finished_sentence_reaches_0_9_within_0_6_s_of_silence() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30)  # speech until 2.88 s
    before = vad2(est, [SILENCE] * 5)  # the utterance ends after 0.5 s of silence ...
    assert max(before) < 0.5
    est.utterance_ended("way?", stop_s=2.88)  # ... and the final pass ends with a question mark
    after = vad2(est, [SILENCE] * 2)  # 0.58 s and 0.67 s of silence
    assert after[-1] >= 0.9


def test_unpunctuated_last_word_is_a_weaker_hint() -> None:
    ended, unsure, open_ = estimator(), estimator(), estimator()
    results = {}
    for est, word in ((ended, "country."), (unsure, "country"), (open_, "the")):
        vad2(est, [SPEECH] * 30)
        vad2(est, [SILENCE] * 5)
        est.utterance_ended(word, stop_s=2.88)
        results[word] = vad2(est, [SILENCE] * 4)  # up to 0.86 s of silence
    assert results["country."][-1] > results["country"][-1] > results["the"][-1]
    assert results["the"][-1] < 0.5  # an open sentence: no hint, the density scale
    assert vad2(unsure, [SILENCE])[-1] >= 0.9  # 0.96 s


def test_a_blip_after_the_last_word_does_not_restart_the_pause() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30)
    vad2(est, [SILENCE] * 3 + [BLIP] + [SILENCE])  # a 64 ms click 0.3 s into the pause
    assert est.pause_s > 0.45  # the probabilities' pause goes on
    assert est.trailing_silence_s < 0.2  # the utterance segmentation keeps the step rule
    old = InactivityEstimator(frame_s=FRAME_S)  # the step rule alone (WebRTC VAD)
    vad2(old, [SPEECH] * 30 + [SILENCE] * 3 + [BLIP] + [SILENCE])
    assert old.pause_s < 0.2


def test_silence_counts_from_the_last_word_once_the_hint_is_in() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30 + [SPEECH] * 2)  # the VAD heard speech until 3.07 s (a long breath)
    vad2(est, [SILENCE] * 5)
    est.utterance_ended("myself.", stop_s=2.6)  # but the last word ended at 2.6 s
    assert vad2(est, [SILENCE])[-1] >= 0.9  # 1.06 s after the word, 0.58 s of VAD silence


def test_speech_clears_the_hint() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30 + [SILENCE] * 5)
    est.utterance_ended("done.", stop_s=2.88)
    assert est.sentence_ended
    vad2(est, [SPEECH])
    assert not est.sentence_ended
    assert max(vad2(est, [SILENCE] * 3)) < 0.1  # the next short pause has no hint


def test_a_blip_after_the_hint_does_not_clear_it() -> None:
    est = estimator()
    vad2(est, [SPEECH] * 30 + [SILENCE] * 7)
    est.utterance_ended("others.", stop_s=2.88)
    before = est.probabilities()[-1][1]
    after = vad2(est, [BLIP])[-1]  # a breath 0.67 s after the last word
    assert est.sentence_ended
    assert after > before >= 0.9
    step_rule = InactivityEstimator(frame_s=FRAME_S)  # WebRTC's VAD: any speech step clears it
    vad2(step_rule, [SPEECH] * 30 + [SILENCE] * 7)
    step_rule.utterance_ended("others.", stop_s=2.88)
    vad2(step_rule, [BLIP])
    assert not step_rule.sentence_ended


def test_a_hint_given_during_a_blip_restarted_silence_counts_from_the_last_word() -> None:
    # The pipeline's early hint: the probabilities' pause is 0.58 s, the segmentation's only 0.19 s.
    est = estimator()
    vad2(est, [SPEECH] * 30 + [SILENCE] * 3 + [BLIP] + [SILENCE] * 2)
    assert est.pause_s > 0.5 > 0.2 > est.trailing_silence_s
    est.utterance_ended("others.", stop_s=2.88)
    assert est.hinted
    assert est.probabilities()[-1][1] > 0.85
    assert vad2(est, [SILENCE])[-1] >= 0.9  # 0.67 s after the last word
    vad2(est, [SPEECH])  # a run of speech: the speaker goes on
    assert not est.hinted


def test_probabilities_take_a_new_hint_into_account() -> None:
    est = estimator()
    before = vad2(est, [SPEECH] * 30 + [SILENCE] * 6)[-1]
    assert est.probabilities()[-1][1] == before
    est.utterance_ended("done.", stop_s=2.88)
    assert est.probabilities()[-1][1] > 0.8 > before


def test_a_run_of_speech_is_seen_a_blip_is_not() -> None:
    est = estimator()
    vad2(est, [SILENCE] * 10 + [BLIP])
    assert est.speech_seen  # a speech step (it starts the recogniser listening) ...
    assert not est.speech_run_seen  # ... but no run: the long pause before it is not after speech
    vad2(est, [SPEECH])
    assert est.speech_run_seen
    est.mark()
    assert not est.speech_run_seen
