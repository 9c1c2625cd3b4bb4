"""Pairing recognised words with reference words, to time each word from its end in the audio."""

from __future__ import annotations

from difflib import SequenceMatcher

from gradium.bench.inputs import RefWord, words_of


def word_latencies(received: list[tuple[str, float]], reference: list[RefWord]) -> list[float]:
    """Latency of each recognised word that matches a reference word (in order).

    ``received`` holds (text, time) with times on the audio clock: the moment the word's message
    arrived, counted from the instant the first audio sample was spoken. Misrecognised words have
    no reference end time and are left out (the report gives how many matched).
    """
    hyp = [(w, t) for text, t in received for w in words_of(text)]
    ref = [w.text for w in reference]
    matcher = SequenceMatcher(a=[w for w, _ in hyp], b=ref, autojunk=False)
    latencies = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            latencies.append(hyp[block.a + k][1] - reference[block.b + k].end_s)
    return latencies
