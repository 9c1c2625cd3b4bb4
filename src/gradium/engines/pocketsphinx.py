"""Streaming English recognition with the PyPI ``pocketsphinx`` wheel and its bundled en-us model.

One :class:`PocketsphinxDecoder` is one recognition session. Loading costs ~0.25 s and ~92 MB, so
callers keep decoders and :meth:`PocketsphinxDecoder.reset` them between streams instead of building
new ones. pocketsphinx holds the GIL while decoding: run decoders in worker processes, not threads.
"""

from __future__ import annotations

import re
import warnings

from .base import Int16Array, WordTiming

SAMPLE_RATE = 16_000
SUPPORTED_LANGUAGES: frozenset[str] = frozenset({"en"})

_FRAMES_PER_SECOND = 100  # seg() reports 10 ms feature frames
_DEFAULT_LM_WEIGHT = 6.5  # the bundled model's default ``lw``
# temp=1 lowers the language-model weight by this fraction. A weaker LM lets the acoustics pick
# less likely words: more varied output, usually a little less accurate (measured on the corpus).
_TEMP_LM_WEIGHT_DROP = 0.3
_PRONUNCIATION_SUFFIX = re.compile(r"\(\d+\)$")
# Initial cepstral mean of every stream. The model's own (40,3,-1,0,...) fits real microphones
# badly: live CMN only catches up after a few seconds, so short streams were misrecognised
# (corpus WER 0.451 for whole-clip decoding). This is the mean CMN reached on the 8 *non-English*
# corpus clips (held out
# from the English WER evaluation; CMN is a channel/speaker property, not a language one), which
# brought the English corpus to 0.419 for whole-clip decoding. Same value for every stream, so
# results stay deterministic and independent of what a reused decoder heard before.
_SPEECH_CMN_PRIOR = "39.0,9.1,1.9,8.5,-3.4,-0.9,-3.5,-4.2,-2.7,-2.3,0.0,-1.8,-1.0"

# Search settings, by mode. pocketsphinx spends nearly all its time in the search, so these set the
# CPU cost of a stream. "accurate" is the model's own configuration. Measured on the English corpus
# with every clip decoded by each setting in turn (delay_in_frames 10), "fast" needs 0.36x the CPU
# of "accurate" for corpus WER 0.486 instead of 0.462. Its parts: at most 2500 active HMMs per
# frame (maxhmmpf, the big saving: 30000 / 5000 / 3000 / 2500 / 2000 give 0.88 / 0.54 / 0.40 /
# 0.36 / 0.32x for WER 0.466 / 0.486 / 0.482 / 0.486 / 0.506), no second flat-lexicon pass
# (fwdflat), a 10-frame phone-loop lookahead (pl_window; 0 doubles the CPU) and at most 10 word
# exits per frame (maxwpf). Tried without gain: ds 2 (WER +3.6 points for -6 % CPU), topn 2 (WER
# +6 points, no saving), tighter beam (1e-40: WER +4.8 points for -33 %), wbeam, bestpath off.
SEARCH_MODES: dict[str, dict[str, object]] = {
    "fast": {"maxhmmpf": 2500, "fwdflat": False, "pl_window": 10, "maxwpf": 10},
    "accurate": {},
}
DEFAULT_SEARCH = "fast"


def lm_weight_for(temp: float) -> float:
    """The language-model weight used for a sampling temperature in [0, 1]."""
    return _DEFAULT_LM_WEIGHT * (1.0 - _TEMP_LM_WEIGHT_DROP * temp)


def _is_filler(word: str) -> bool:
    # <s>, </s>, <sil> mark utterance edges and silence; [NOISE], [SPEECH]... are noise fillers.
    return word.startswith(("<", "["))


class PocketsphinxDecoder:
    """:class:`~gradium.engines.base.STTDecoder` over pocketsphinx, 16 kHz, en-us.

    Word times count from the start of the stream: each utterance's frame numbers are shifted by
    the audio accepted before it, so ending an utterance (``finish``) does not restart the clock.
    """

    sample_rate: int = SAMPLE_RATE
    partial_interval_s: float = 0.0  # its search keeps a hypothesis up to date: ask every step
    commit_margin_s: float = 0.24
    end_of_utterance_s: float = 0.6  # corpus WER: 0.4 s -> 0.439, 0.8 s -> 0.431 (delay 10)
    # Utterances are also cut when they grow this long, to bound the recogniser's memory and the
    # cost of its final pass; a cut inside speech may split one word, which is the price.
    max_utterance_s: float = 30.0

    def __init__(self, temp: float = 0.0, *, search: str = DEFAULT_SEARCH) -> None:
        if search not in SEARCH_MODES:
            raise ValueError(f"unknown STT search mode {search!r}; valid: {', '.join(SEARCH_MODES)}")
        # Imported here: the server's main process imports this module for its constants only and
        # should not map the library (the worker processes decode).
        from pocketsphinx import Decoder

        self.temp = temp
        self.search = search
        self._decoder = Decoder(
            samprate=SAMPLE_RATE, lw=lm_weight_for(temp), loglevel="FATAL", **SEARCH_MODES[search]
        )
        self._decoder.set_cmn(_SPEECH_CMN_PRIOR)
        self._in_utterance = False
        self._utterance_start = 0  # samples accepted before the current utterance
        self._accepted = 0  # samples accepted since the last reset

    @property
    def seconds_accepted(self) -> float:
        return self._accepted / SAMPLE_RATE

    def accept(self, pcm: Int16Array) -> None:
        if pcm.size == 0:
            return
        if not self._in_utterance:
            self._decoder.start_utt()
            self._in_utterance = True
            self._utterance_start = self._accepted
        self._decoder.process_raw(pcm.astype("<i2", copy=False).tobytes(), False, False)
        self._accepted += pcm.size

    def hypothesis(self) -> list[WordTiming]:
        if not self._in_utterance:
            return []
        return self._words()

    def finish(self) -> list[WordTiming]:
        if not self._in_utterance:
            return []
        self._decoder.end_utt()
        self._in_utterance = False
        return self._words()

    def reset(self) -> None:
        """Forget the current stream so this decoder can serve a new one."""
        if self._in_utterance:
            self._decoder.end_utt()
            self._in_utterance = False
        # Noise statistics and the cepstral mean adapted to the last stream; restart both so that
        # a reset decoder behaves exactly like a fresh one (same words for the same audio).
        # start_stream() is marked deprecated but still resets the noise estimate.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._decoder.start_stream()
        self._decoder.set_cmn(_SPEECH_CMN_PRIOR)
        self._utterance_start = 0
        self._accepted = 0

    def _words(self) -> list[WordTiming]:
        offset = self._utterance_start / SAMPLE_RATE
        words: list[WordTiming] = []
        # seg() gives None (not an empty iterator) before the search has any hypothesis.
        for seg in self._decoder.seg() or ():
            if _is_filler(seg.word):
                continue
            words.append(
                WordTiming(
                    text=_PRONUNCIATION_SUFFIX.sub("", seg.word),
                    start_s=round(offset + seg.start_frame / _FRAMES_PER_SECOND, 3),
                    # end_frame is inclusive: the word lasts until the end of that 10 ms frame.
                    stop_s=round(offset + (seg.end_frame + 1) / _FRAMES_PER_SECOND, 3),
                )
            )
        return words
