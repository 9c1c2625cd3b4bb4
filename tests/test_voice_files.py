"""An operator's own Piper and Kokoro voice files, served as ``piper:<name>`` and ``kokoro:<name>``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from conftest import LiveServer, start_server, stop_server
from gradium.engines.kokoro import default_voices_dir
from gradium.engines.piper import DEFAULT_MODEL, MODELS
from gradium.engines.voice_files import VoiceFileError, scan
from wire import exchange, tts_frames

MY_KOKORO = "kokoro:af_mine"
MY_PIPER = "piper:en_US-mine-medium"


def install_voice_files(folder: Path) -> None:
    """A Kokoro style of our own (an even blend of two stock voices) and a renamed copy of Piper's joe."""
    kokoro = folder / "kokoro"
    kokoro.mkdir(parents=True)
    heart, bella = (np.fromfile(default_voices_dir() / f"{n}.bin", "<f4") for n in ("af_heart", "af_bella"))
    ((heart + bella) / 2).astype("<f4").tofile(kokoro / "af_mine.bin")
    piper = folder / "piper"
    piper.mkdir()
    model, config = MODELS[DEFAULT_MODEL]
    shutil.copy(model.path(), piper / "en_US-mine-medium.onnx")  # type: ignore[union-attr]
    shutil.copy(config.path(), piper / "en_US-mine-medium.onnx.json")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("voice-files")
    install_voice_files(tmp / "data" / "voice-files")
    live = start_server(tmp)
    yield live
    stop_server(live)


async def test_models_route_lists_the_voice_files(server: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "models", headers={"x-api-key": server.api_key}) as response,
    ):
        models = await response.json()
    listed = {voice["voice_id"]: voice for voice in models["voice_files"]}
    assert set(listed) == {MY_KOKORO, MY_PIPER}
    assert listed[MY_KOKORO]["accent"] == "en-US" and listed[MY_PIPER]["language"] == "en"


@pytest.mark.parametrize("voice_id", [MY_KOKORO, MY_PIPER])
async def test_gradium_tts_speaks_with_a_voice_file(server: LiveServer, voice_id: str) -> None:
    result = await exchange(
        server, "speech/tts", tts_frames("Good morning, this is my own voice.", voice_id=voice_id,
                                         output_format="pcm_16000", model_name="fast"),
    )  # fmt: skip
    assert result.messages[-1]["type"] == "end_of_stream", result.messages[-3:]
    words = [w["text"] for w in result.of_type("text")]
    assert [word.strip(",") for word in words[:3]] == ["Good", "morning", "this"]
    assert len(result.audio()) > 16000 * 2


async def test_cartesia_speaks_with_a_voice_file(server: LiveServer) -> None:
    body = {
        "model_id": "sonic-2",
        "transcript": "Bonjour à tous.",
        "language": "fr",
        "voice": {"mode": "id", "id": MY_KOKORO},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
    }
    headers = {"X-API-Key": server.api_key, "Cartesia-Version": "2025-04-16"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.root_url + "/tts/bytes", json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert len(await response.read()) > 24000


def test_a_bad_voice_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "voice-files" / "kokoro"
    folder.mkdir(parents=True)
    (folder / "af_short.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(VoiceFileError, match=r"af_short\.bin"):
        scan(tmp_path / "data" / "voice-files")
    done = subprocess.run(
        [sys.executable, "-m", "gradium", "serve", "--port", "1", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "af_short.bin" in done.stderr and "510 x 256" in done.stderr
    (folder / "af_short.bin").unlink()
    (folder / "xx_odd.bin").write_bytes(b"\0" * (510 * 256 * 4))
    with pytest.raises(VoiceFileError, match="first letter"):
        scan(tmp_path / "data" / "voice-files")
