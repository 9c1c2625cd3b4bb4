"""Which voice a request asked for: ``voice_id`` first, then a ``voice`` name, else the default."""

from __future__ import annotations

from gradium.catalog import DEFAULT_VOICE_ID, CatalogVoice, load_catalog


class UnknownVoiceError(LookupError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_voice(voice_id: object, voice_name: object) -> CatalogVoice:
    catalog = load_catalog()
    if voice_id is not None and voice_id != "":
        voice = catalog.get(str(voice_id))
        if voice is None:
            raise UnknownVoiceError(
                f"unknown voice_id '{voice_id}': list voices with GET voices/?include_catalog=1"
            )
        return voice
    if voice_name is None or voice_name == "" or str(voice_name).lower() == "default":
        return catalog[DEFAULT_VOICE_ID]
    wanted = str(voice_name).casefold()
    # Names repeat across languages; prefer flagship voices, then catalog order.
    matches = [v for v in catalog.values() if v.name.casefold() == wanted]
    if not matches:
        raise UnknownVoiceError(
            f"unknown voice '{voice_name}': use a voice_id from GET voices/?include_catalog=1"
        )
    return sorted(matches, key=lambda v: not v.flagship)[0]
