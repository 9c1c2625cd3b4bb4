"""Voice ids that voice-agent frameworks use by default, mapped to catalog voices.

pipecat and LiveKit Agents pick a hosted Gradium (or Cartesia) voice when the user names none.
Those voices are not in the public docs' tables our catalog is built from, so each id resolves to a
catalog voice of the same language, accent and gender. The README lists this table ("Framework
default voices").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VoiceAlias:
    target_uid: str  # the catalog voice it speaks with
    name: str  # the hosted voice's name
    used_by: str  # where the id comes from


VOICE_ALIASES: dict[str, VoiceAlias] = {
    # pipecat GradiumTTSService default: Russell, US English, masculine -> Kent (flagship, en-US, m)
    "_6Aslh2DxfmnRLmP": VoiceAlias("LFZvm12tW_z0xfGo", "Russell", "pipecat GradiumTTSService"),
    # livekit-plugins-gradium 1.8.9 default: Everly, US English, feminine -> Emma (flagship, en-US, f)
    "vjFyp2BcCyTlUmYb": VoiceAlias("YTpq7expH9539ERJ", "Everly", "livekit-plugins-gradium 1.8.9"),
    # livekit-plugins-gradium up to 1.8.2: Harper, US English, feminine -> Sydney (flagship, en-US, f)
    "4SZHfMpw-p46Ywgs": VoiceAlias("jtEKaLYNn6iif5PR", "Harper", "livekit-plugins-gradium <= 1.8.2"),
    # livekit-plugins-cartesia 1.8.9 default (Cartesia voice): Katie, US English, feminine
    "f786b574-daa5-4673-aa0c-cbe3e8534c02": VoiceAlias(
        "56DcpvEI0Gawpidh", "Katie", "livekit-plugins-cartesia 1.8.9 (Cartesia routes too)"
    ),
}


def canonical_voice_id(voice_id: str) -> str:
    """The catalog uid that ``voice_id`` stands for (itself when it is not an alias)."""
    alias = VOICE_ALIASES.get(voice_id)
    return alias.target_uid if alias else voice_id
