"""Client pieces that need no server: URLs, audio conversion, error mapping, result parsing."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import gradium
from gradium import errors
from gradium.cli.client_commands import speed_to_padding_bonus, tts_format_for
from gradium.client import audio_input, urls
from gradium.client.results import SegmentAssembler, TTSResult


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("localhost:8000/api", "http://localhost:8000/api/"),
        ("127.0.0.1:8000/api", "http://127.0.0.1:8000/api/"),
        ("0.0.0.0:8000/api", "https://0.0.0.0:8000/api/"),
        ("api.gradium.ai/api", "https://api.gradium.ai/api/"),
        ("http://h/v1/api", "http://h/v1/api/"),
        ("https://api.gradium.ai/api/", "https://api.gradium.ai/api/"),
    ],
)
def test_base_url_normalisation(given: str, expected: str) -> None:
    assert urls.normalize_base_url(given) == expected


def test_route_joining_keeps_prefix_and_only_rewrites_scheme() -> None:
    assert urls.http_url("http://h/v1/api/", "voices/") == "http://h/v1/api/voices/"
    assert urls.ws_url("http://myhttphost/api/", "speech/tts") == "ws://myhttphost/api/speech/tts"
    assert urls.ws_url("https://x.ai/http/api/", "speech/asr") == "wss://x.ai/http/api/speech/asr"


def test_client_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIUM_API_KEY", raising=False)
    monkeypatch.delenv("GRADIUM_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="GRADIUM_API_KEY"):
        gradium.client.GradiumClient()
    monkeypatch.setenv("GRADIUM_API_KEY", "gd_env")
    client = gradium.client.GradiumClient()
    assert client.base_url == "http://127.0.0.1:8000/api/"
    assert client.headers["x-api-key"] == "gd_env"
    monkeypatch.setenv("GRADIUM_BASE_URL", "localhost:9/api")
    assert gradium.client.GradiumClient().base_url == "http://localhost:9/api/"
    assert gradium.client.GradiumClient(api_key="k", base_url="h.io").base_url == "https://h.io/"


def test_top_level_exports() -> None:
    for name in ("GradiumClient", "TTSSetup", "STTSetup", "S2SSetup", "client", "voices", "usages", "errors"):
        assert hasattr(gradium, name), name
    setup: gradium.TTSSetup = {"voice_id": "x", "output_format": "wav"}
    assert setup["output_format"] == "wav"


def test_float_audio_is_clipped_not_wrapped() -> None:
    out = audio_input.to_int16(np.array([1.0, -1.0, 2.0, -3.0, 0.5, 0.0], dtype=np.float32))
    assert out.dtype == np.int16
    assert out.tolist() == [32767, -32768, 32767, -32768, 16384, 0]


def test_audio_input_validation() -> None:
    with pytest.raises(ValueError, match="int16 or float32"):
        audio_input.to_int16(np.zeros(4, dtype=np.float64))
    with pytest.raises(ValueError, match="1-dimensional"):
        audio_input.to_int16(np.zeros((2, 4), dtype=np.int16))
    with pytest.raises(ValueError, match="pcm"):
        audio_input.check_audio_input(np.zeros(4, np.int16), "wav", 24000, default_format="pcm")
    with pytest.raises(ValueError, match="24000"):
        audio_input.check_audio_input(np.zeros(4, np.int16), "pcm", 16000, default_format="pcm")
    with pytest.raises(ValueError, match="sample_rate"):
        audio_input.check_audio_input(b"RIFF", "wav", 24000, default_format="wav")


async def test_audio_chunking() -> None:
    samples = np.arange(5000, dtype=np.int16)
    msgs = [m async for m in audio_input.iter_audio_messages(samples)]
    sizes = [len(audio_input.base64.b64decode(m["audio"])) for m in msgs]
    assert sizes == [3840, 3840, 2320]
    data = b"x" * 9000
    msgs = [m async for m in audio_input.iter_audio_messages(data)]
    assert [len(audio_input.base64.b64decode(m["audio"])) for m in msgs] == [4096, 4096, 808]


async def test_text_inputs() -> None:
    async def gen():  # type: ignore[no-untyped-def]
        yield "a "
        yield "b"

    assert [m["text"] async for m in audio_input.iter_text_messages("one")] == ["one"]
    assert [m["text"] async for m in audio_input.iter_text_messages(["x", "y"])] == ["x", "y"]
    assert [m["text"] async for m in audio_input.iter_text_messages(gen())] == ["a ", "b"]
    assert [m async for m in audio_input.iter_text_messages([])] == []


def test_setup_message_serialises_json_config_and_puts_type_last() -> None:
    original = {"voice_id": "v", "json_config": {"temp": 0.3}}
    msg = audio_input.setup_message(original)
    assert list(msg)[-1] == "type" and msg["type"] == "setup"
    assert json.loads(msg["json_config"]) == {"temp": 0.3}
    assert original["json_config"] == {"temp": 0.3}  # the caller's dict is not modified
    assert audio_input.setup_message({"json_config": '{"a": 1}'})["json_config"] == '{"a": 1}'


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (401, {"detail": "invalid API key"}, errors.AuthenticationError, "invalid API key"),
        (402, {"error": "insufficient credits"}, errors.InsufficientCreditsError, "insufficient credits"),
        (404, "voice not found", errors.NotFoundError, "voice not found"),
        (
            422,
            {"detail": [{"loc": ["body", "name"], "msg": "field required"}]},
            errors.InvalidRequestError,
            "name: field required",
        ),
        (429, {"detail": "slow down"}, errors.RateLimitError, "slow down"),
        (500, "error from server 1011: boom", errors.ServerError, "error from server 1011: boom"),
        (400, {"detail": "insufficient credits: 5"}, errors.InsufficientCreditsError, "insufficient"),
    ],
)
def test_http_error_mapping(status: int, body: object, cls: type, message: str) -> None:
    exc = errors.error_from_http(status, body)
    assert type(exc) is cls
    assert exc.status == status
    assert message in exc.message
    assert isinstance(exc, errors.GradiumError)


@pytest.mark.parametrize(
    ("msg", "cls"),
    [
        ({"type": "error", "message": "invalid api key", "code": 1008}, errors.AuthenticationError),
        ({"type": "error", "message": "Missing API key", "code": 1008}, errors.AuthenticationError),
        (
            {"type": "error", "message": "insufficient credits: 12 requested", "code": 1008},
            errors.InsufficientCreditsError,
        ),
        ({"type": "error", "message": "unknown format 'mp9'", "code": 1008}, errors.InvalidRequestError),
        ({"type": "error", "message": "engine crashed", "code": 1011}, errors.ServerError),
        ({"type": "error"}, errors.GradiumError),
    ],
)
def test_ws_error_mapping(msg: dict[str, object], cls: type) -> None:
    exc = errors.error_from_ws_message(msg, request_id="r1")
    assert type(exc) is cls
    assert exc.code == msg.get("code")
    assert exc.request_id == "r1"


def test_timeout_and_closed_errors_are_builtin_compatible() -> None:
    assert issubclass(errors.GradiumTimeoutError, TimeoutError)
    assert issubclass(errors.ConnectionClosedError, ConnectionError)


def test_segment_assembler_folds_end_text() -> None:
    asm = SegmentAssembler()
    assert asm.feed({"type": "text", "text": "Hello", "start_s": 0.5, "stream_id": 0}) == []
    assert asm.feed({"type": "step", "vad": []}) == []
    [hello] = asm.feed({"type": "end_text", "stop_s": 0.9, "stream_id": 0})
    assert (hello.text, hello.start_s, hello.stop_s) == ("Hello", 0.5, 0.9)
    asm.feed({"type": "text", "text": "world", "start_s": 1.0})
    [first] = asm.feed({"type": "text", "text": "again", "start_s": 1.5})  # no end_text: start = stop
    assert (first.text, first.stop_s) == ("world", 1.0)
    [last] = asm.finish()
    assert last.text == "again"
    assert [s.text for s in asm.completed] == ["Hello", "world", "again"]


def _wav(samples: np.ndarray, streaming: bool) -> bytes:
    data = samples.astype("<i2").tobytes()
    size = 0xFFFFFFFF if streaming else len(data)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 48000, 96000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF if streaming else 36 + len(data))
        + b"WAVE"
        + fmt
        + b"data"
        + struct.pack("<I", size)
        + data
    )


def test_result_pcm_conversions() -> None:
    samples = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    raw = TTSResult(samples.tobytes(), 48000, "pcm", "r", [])
    assert raw.pcm16().tolist() == samples.tolist()
    assert raw.pcm().dtype == np.float32 and raw.pcm()[1] == 0.5
    for streaming in (True, False):
        wav = TTSResult(_wav(samples, streaming), 48000, "wav", "r", [])
        assert wav.pcm16().tolist() == samples.tolist()
    with pytest.raises(ValueError):
        TTSResult(b"OggS...", 48000, "opus", "r", []).pcm16()


def test_speed_mapping_and_formats() -> None:
    assert speed_to_padding_bonus(1.0) == 0.0
    assert speed_to_padding_bonus(2.0) == -2.0
    assert speed_to_padding_bonus(0.5) == 2.0
    assert speed_to_padding_bonus(100.0) == -4.0
    assert tts_format_for("x.ogg", None) == "opus"
    assert tts_format_for("x.ULAW", None) == "ulaw_8000"
    assert tts_format_for("x.pcm", "pcm_16000") == "pcm_16000"
    assert tts_format_for(None, None) == "wav"


def test_sync_facade() -> None:
    # The private loop thread works from plain sync code; a refused connection fails fast.
    with (
        gradium.SyncGradiumClient(api_key="k", base_url="127.0.0.1:1/api", connect_timeout=2) as client,
        pytest.raises(errors.ConnectionClosedError),
    ):
        client.credits()
