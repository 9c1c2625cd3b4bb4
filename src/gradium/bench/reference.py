"""Reference word end times for STT latency: forced alignment of the clip's transcript.

pocketsphinx aligns the known transcript to the audio (``set_align_text``), which gives each
reference word its end time independently of what our streaming recogniser hears. If alignment
fails (a word missing from the dictionary), the word end times of a full offline decode by the
same recogniser are used instead, and the clip's ``reference_source`` says so.
"""

from __future__ import annotations

import re

import numpy as np
from pocketsphinx import Decoder

from gradium.bench.inputs import RefWord, words_of
from gradium.engines.pocketsphinx import PocketsphinxDecoder

_FRAMES_PER_SECOND = 100
_VARIANT = re.compile(r"\(\d+\)$")


def align(pcm16k: np.ndarray, transcript: str) -> tuple[list[RefWord], str]:
    words = words_of(transcript)
    try:
        decoder = Decoder(samprate=16000, loglevel="FATAL")
        decoder.set_align_text(" ".join(words))
        decoder.start_utt()
        decoder.process_raw(pcm16k.astype("<i2").tobytes(), False, True)
        decoder.end_utt()
        aligned = [
            RefWord(
                _VARIANT.sub("", seg.word),
                (seg.end_frame + 1) / _FRAMES_PER_SECOND,
                seg.start_frame / _FRAMES_PER_SECOND,
            )
            for seg in decoder.seg()
            if not seg.word.startswith(("<", "["))
        ]
        if len(aligned) == len(words):
            return aligned, "forced-alignment"
    except (RuntimeError, ValueError):
        pass
    offline = PocketsphinxDecoder()
    offline.accept(pcm16k.astype(np.int16))
    decoded = [RefWord(w.text.lower(), w.stop_s, w.start_s) for w in offline.finish()]
    return decoded, "offline-decode"
