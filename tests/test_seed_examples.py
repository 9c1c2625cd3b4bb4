"""Every Python example of the public client docs (the seed), run verbatim against our server.

Each example is extracted from the seed file, its top-level awaits are wrapped in an async main,
and it runs in a subprocess with our ``gradium`` package; the only edit to the code is that the
literal placeholder API key is replaced by a lookup of ``GRADIUM_API_KEY``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, SEEDS, LiveServer
from gradium import SyncGradiumClient

SEED = SEEDS / "000_0f2452c6e0683de3.txt"
CLIP = CORPUS / "en_librivox_ss_0870.wav"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)

# The voice examples name a voice created in an earlier step ("abc123def456") and a local
# recording ("my_voice_sample.wav"): the test supplies both, a real voice cloned from a corpus clip.
PLACEHOLDER_UID = "abc123def456"
SAMPLE_NAME = "my_voice_sample.wav"


def seed_examples() -> list[str]:
    return [block for block in BLOCK.findall(SEED.read_text(encoding="utf-8"))]


PRELUDE = """
import asyncio, os, sys
import numpy as np
import gradium
audio_data = np.load(sys.argv[1])
client = gradium.client.GradiumClient()
"""


def as_script(code: str) -> str:
    """Wrap an example so that top-level ``await`` runs; keep ``asyncio.run(main())`` ones as is."""
    code = code.replace('"your-api-key"', 'os.environ["GRADIUM_API_KEY"]')
    code = code.replace('"gd_your_api_key_here"', 'os.environ["GRADIUM_API_KEY"]')
    if "asyncio.run(" in code:
        return PRELUDE + code
    body = textwrap.indent(code, "    ")
    # Names assigned in the example become globals so that later statements see them.
    wrapper = f"async def __example():\n    global client\n{body}\n    pass\n\n"
    return PRELUDE + wrapper + "asyncio.run(__example())\n"


def audio_24k(tmp: Path) -> Path:
    import soxr

    with wave.open(str(CLIP)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    resampled = soxr.resample(samples.astype(np.float32) / 32768.0, rate, 24000)
    out = np.clip(np.rint(resampled * 32768.0), -32768, 32767).astype(np.int16)
    path = tmp / "audio_24k.npy"
    np.save(path, out)
    return path


EXAMPLES = seed_examples()


def test_seed_has_the_expected_examples() -> None:
    assert len(EXAMPLES) == 21


def run_example(live_server: LiveServer, tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(as_script(code))
    repo = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, str(script), str(audio_24k(tmp_path))],
        cwd=tmp_path,
        env={**live_server.env(), "PYTHONPATH": str(repo / "src")},
        capture_output=True,
        text=True,
        timeout=240,
    )


def clone_voice(live_server: LiveServer) -> str:
    """A fresh custom voice for the examples that read, update or delete one."""
    with SyncGradiumClient(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        voice = client.voice_create(str(CLIP), name="seed example voice", language="en")
    return str(voice["uid"])


def check_wav(path: Path) -> None:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    # Streaming WAV headers may carry placeholder sizes; parse the fmt chunk ourselves.
    assert int.from_bytes(data[24:28], "little") == 48000
    assert len(data) > 48000 * 2 * 0.3  # at least 0.3 s of audio


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_seed_example(live_server: LiveServer, tmp_path: Path, index: int) -> None:
    code = EXAMPLES[index]
    if code.strip().startswith("pip ") or not code.strip():
        pytest.skip("not Python")
    if SAMPLE_NAME in code:
        shutil.copy(CLIP, tmp_path / SAMPLE_NAME)
    if PLACEHOLDER_UID in code:
        code = code.replace(PLACEHOLDER_UID, clone_voice(live_server))
    if "stream._stream" in code:
        first_branch = '    if msg.get("type") == "text":'
        # The docs show this loop on the `stream` of the STT example above it; recreate that stream.
        code = (
            "async def audio_generator(audio_data, chunk_size=1920):\n"
            "    for i in range(0, len(audio_data), chunk_size):\n"
            "        yield audio_data[i : i + chunk_size]\n"
            "stream = await client.stt_stream({'model_name': 'default', 'input_format': 'pcm'},"
            " audio_generator(audio_data))\n"
            "seen = set()\n"
            + code.replace(first_branch, '    seen.add(msg.get("type"))\n' + first_branch)
            + "assert {'text', 'step'} <= seen, seen\n"
        )
    if "sample_text" in code and "sample_text =" not in code:
        code = 'sample_text = "Hello, this is a test of the Gradium Text to Speech system."\n' + code
    if "result.pcm()" in code and "result =" in code:
        code += "\nassert pcm_array.dtype == np.float32 and pcm16_array.dtype == np.int16\n"
        code += "assert len(pcm16_array) > 0\n"
    proc = run_example(live_server, tmp_path, code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in ("welcome.wav", "output.wav"):
        if (tmp_path / name).exists():
            check_wav(tmp_path / name)
    out = proc.stdout
    if "Sample rate:" in out:
        assert "Sample rate: 48000" in out
    if "s - " in out and "item.text" in code:
        spans = re.findall(r": (\d+\.\d+)s - (\d+\.\d+)s", out)
        assert spans, out
        starts = [float(a) for a, _ in spans]
        assert starts == sorted(starts)
        assert all(float(b) >= float(a) for a, b in spans)
    if "iter_text()" in code:
        words = out.lower()
        assert any(w in words for w in ("dashwood", "leisure", "consider", "power")), out
    if "iter_bytes()" in code and "print" in code:
        assert "Received" in out
    if "credits_info" in code:
        assert "{" in out
