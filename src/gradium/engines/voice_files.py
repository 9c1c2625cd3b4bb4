"""An operator's own neural voice files: Piper models and Kokoro style vectors dropped in a folder.

Layout of the folder (``GRADIUM_VOICE_FILES_DIR``, default ``DATA_DIR/voice-files``)::

    piper/<name>.onnx + piper/<name>.onnx.json   a Piper voice (any language Piper's espeak-ng speaks)
    kokoro/<name>.bin                             a Kokoro style vector: float32, 510 x 1 x 256
                                                  (the kokoro-js / voices-v1.0 layout)

Each file becomes a voice whose id is ``piper:<name>`` or ``kokoro:<name>``, usable wherever a
voice id is (Gradium ``voice_id``, Cartesia ``{"mode": "id"}``, the OpenAI-style routes). A Kokoro
voice's language and gender follow Kokoro's naming (first letter a = US English, b = British,
e = Spanish, f = French, p = Brazilian Portuguese; second letter f or m), e.g. ``af_myvoice``.

These are the operator's files, so no digest is pinned in the code: each file's sha256 is taken
when the folder is scanned at start-up, and the engine refuses to load a file whose bytes changed
since (restart the server after replacing a file).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from gradium.engines.kokoro import ACCENT_OF_PREFIX, LANGUAGE_OF_ACCENT, VOICE_SHA256
from gradium.engines.neural import LocalFile
from gradium.engines.piper import MODELS as STOCK_PIPER

PIPER, KOKORO = "piper", "kokoro"
KOKORO_STYLE_BYTES = 510 * 256 * 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HINT = "restart gradium serve after changing a voice file"
LANGUAGES = ("en", "fr", "de", "es", "pt")


class VoiceFileError(ValueError):
    """A file in the voice-files folder that cannot be a voice; the message names it and why."""


@dataclass(frozen=True)
class VoiceFile:
    """One installed voice file."""

    engine: str  # "piper" or "kokoro"
    name: str  # the file's stem: "en_GB-alan-medium", "af_myvoice"
    language: str  # our language code: "en", "fr", "de", "es", "pt" (or what Piper's config says)
    accent: str  # what it speaks: "en-US", "en-GB", "fr", ..., or Piper's espeak voice
    feminine: bool | None  # None: not known (Piper configs do not say)
    files: tuple[LocalFile, ...]  # Piper: (model, config); Kokoro: (style,)

    @property
    def voice_id(self) -> str:
        return f"{self.engine}:{self.name}"


def _pinned(path: Path) -> LocalFile:
    return LocalFile(path, hashlib.sha256(path.read_bytes()).hexdigest(), _HINT)


def _checked_name(path: Path, stem: str) -> str:
    if not _NAME.match(stem):
        raise VoiceFileError(f"{path}: a voice name is 1-64 letters, digits, '_', '-' or '.'")
    return stem


def _piper_voice(model: Path) -> VoiceFile:
    name = _checked_name(model, model.name.removesuffix(".onnx"))
    config_path = model.with_name(model.name + ".json")
    if not config_path.is_file():
        raise VoiceFileError(f"{model}: its config {config_path.name} is missing (Piper ships both)")
    try:
        config = json.loads(config_path.read_text())
        espeak_voice = str(config["espeak"]["voice"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VoiceFileError(f"{config_path}: not a Piper voice config ({exc})") from None
    language = espeak_voice.split("-")[0].lower()
    if language not in LANGUAGES:
        raise VoiceFileError(f"{model}: speaks {espeak_voice!r}; gradium speaks {', '.join(LANGUAGES)}")
    if name in STOCK_PIPER:
        raise VoiceFileError(f"{model}: {name!r} is the name of a packaged voice; rename the file")
    return VoiceFile(PIPER, name, language, espeak_voice, None, (_pinned(model), _pinned(config_path)))


def _kokoro_voice(style: Path) -> VoiceFile:
    name = _checked_name(style, style.stem)
    accent = ACCENT_OF_PREFIX.get(name[:1])
    if accent is None or name[1:2] not in ("f", "m"):
        raise VoiceFileError(
            f"{style}: name a Kokoro voice like Kokoro's own (af_name, bm_name, ef_, ff_, pf_...):"
            " its first letter says the language, its second the gender"
        )
    if name in VOICE_SHA256:
        raise VoiceFileError(f"{style}: {name!r} is the name of a stock Kokoro voice; rename the file")
    if style.stat().st_size != KOKORO_STYLE_BYTES:
        raise VoiceFileError(f"{style}: a Kokoro voice is {KOKORO_STYLE_BYTES} bytes (510 x 256 float32)")
    return VoiceFile(KOKORO, name, LANGUAGE_OF_ACCENT[accent], accent, name[1] == "f", (_pinned(style),))


def scan(folder: Path) -> dict[str, VoiceFile]:
    """Every voice in ``folder`` by voice id; a file that cannot be a voice is a VoiceFileError."""
    voices: list[VoiceFile] = []
    if (folder / PIPER).is_dir():
        voices += [_piper_voice(path) for path in sorted((folder / PIPER).glob("*.onnx"))]
    if (folder / KOKORO).is_dir():
        voices += [_kokoro_voice(path) for path in sorted((folder / KOKORO).glob("*.bin"))]
    return {voice.voice_id: voice for voice in voices}
