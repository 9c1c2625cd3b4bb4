"""The Gradium speech client: ``gradium.client.GradiumClient`` and its result types."""

from gradium.client.core import GradiumClient
from gradium.client.realtime import S2SRealtime, STTRealtime, TTSRealtime
from gradium.client.results import S2SResult, STTResult, TextWithTimestamps, TTSResult
from gradium.client.setup import S2SSetup, STTSetup, TTSSetup
from gradium.client.streams import S2SStream, STTStream, TTSStream

__all__ = [
    "GradiumClient",
    "S2SRealtime",
    "S2SResult",
    "S2SSetup",
    "S2SStream",
    "STTRealtime",
    "STTResult",
    "STTSetup",
    "STTStream",
    "TTSRealtime",
    "TTSResult",
    "TTSSetup",
    "TTSStream",
    "TextWithTimestamps",
]
