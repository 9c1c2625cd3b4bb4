"""The streaming pipeline over the real Whisper decoder and Silero VAD, in-process."""

from __future__ import annotations

from gradium.bench.inputs import load_pcm
from gradium.engines.base import WordTiming
from gradium.engines.whisper import WhisperDecoder
from gradium.speech.stt_engines import Recognizers
from gradium.speech.stt_pipeline import PARTIAL_SKIP_SILENCE_S, SttPipeline, UtteranceEnd
from stt_corpus import CORPUS, words_of


class _WatchedDecoder(WhisperDecoder):
    """Whisper as it is, noting the stream's trailing silence whenever a partial pass runs."""

    pipeline: SttPipeline
    silences: list[float]

    def hypothesis(self) -> list[WordTiming]:
        self.silences.append(self.pipeline._turns.trailing_silence_s)
        return super().hypothesis()


def test_no_partial_pass_once_the_speaker_has_paused() -> None:
    """On this clip a partial used to run 0.26 s into the pause that ended the utterance, right
    before its final pass (0.36 s + 0.43 s back to back)."""
    pcm = load_pcm(CORPUS / "en_fleurs_006_quiet.wav", 24000).tobytes() + bytes(2 * 48000)
    recognizers = Recognizers()
    decoder = _WatchedDecoder(recognizers._whisper_models(), "en")
    decoder.silences = []
    pipeline = SttPipeline("pcm", language="en", decoder=decoder, vad=recognizers.vad("whisper"))
    decoder.pipeline = pipeline
    step = 3840  # 80 ms of 24 kHz s16le, as a real-time client sends it
    events = [e for i in range(0, len(pcm), step) for e in pipeline.feed(pcm[i : i + step])]
    events += pipeline.finish()
    assert len(decoder.silences) >= 5  # interim passes still run while the person speaks
    assert max(decoder.silences) < PARTIAL_SKIP_SILENCE_S
    assert any(isinstance(e, UtteranceEnd) for e in events)
    assert len(words_of(events)) >= 12
