"""The web studio in headless Chromium (the system's, driven by Playwright) against a real server:
sign in, speak with streamed audio and highlighted words, clone from a corpus file, transcribe a
corpus file, see credits go down. Screenshots of each page go to ``artifacts/studio/``."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from conftest import CORPUS, REPO, LiveServer, start_server, stop_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts" / "studio"
# Chromium on a machine without internet access: no background fetches that would hang, a fake
# microphone that plays a corpus file, and audio allowed to start without a real user gesture.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    f"--use-file-for-fake-audio-capture={CORPUS / 'en_librispeech_2830-3980-0043.wav'}",
]
SPEECH_CLIP = CORPUS / "en_ljspeech_LJ001-0007.wav"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("studio"), env={"GRADIUM_STT_WORKERS": "1"})
    yield live
    stop_server(live)
    assert "Traceback" not in live.log(), live.log()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed (scripts/test.sh installs Debian's chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        yield _launch(playwright, tmp_path_factory.mktemp("chromium-profile"))


def _launch(playwright: Playwright, profile: Path) -> BrowserContext:
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        viewport={"width": 1360, "height": 900}, accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(scope="module")
def page(browser: BrowserContext, server: LiveServer) -> Page:
    """A studio tab, signed in with the server's admin key."""
    tab = browser.new_page()
    tab.goto(f"{server.root_url}/studio")
    tab.fill("#signin-key", server.api_key)
    tab.click("#signin-form button")
    expect(tab.locator("#credits-badge")).to_contain_text("credits")
    return tab


def _credits(server: LiveServer) -> int:
    url = f"{server.base_url}usages/credits"
    request = urllib.request.Request(url, headers={"x-api-key": server.api_key})
    with urllib.request.urlopen(request, timeout=10) as response:
        remaining: int = json.load(response)["remaining"]
    return remaining


def test_sign_in_rejects_a_bad_key_with_the_apis_message(browser: BrowserContext, server: LiveServer) -> None:
    tab = browser.new_page()
    tab.goto(f"{server.root_url}/studio/")
    tab.fill("#signin-key", "gd_not-a-real-key")
    tab.click("#signin-form button")
    expect(tab.locator("#signin-error")).to_have_text("invalid or revoked API key")
    assert tab.evaluate("sessionStorage.getItem('gradium.apiKey')") is None
    tab.screenshot(path=ARTIFACTS / "signin.png")
    tab.close()


def test_playground_streams_audio_and_highlights_words(page: Page, server: LiveServer) -> None:
    before = _credits(server)
    # The key is in session storage, never in the page's URL.
    assert page.evaluate("sessionStorage.getItem('gradium.apiKey')") == server.api_key
    assert server.api_key not in page.url
    page.goto(f"{server.root_url}/studio/#playground")
    page.locator("#tts-picker input[type=search]").fill("")
    page.fill("#tts-text", "The quick brown fox jumps over the lazy dog.")
    page.click("#tts-speak")
    words = page.locator("#tts-words .word")
    expect(words.first).to_be_visible()
    expect(page.locator("#tts-status")).to_contain_text("s of audio")
    assert words.count() >= 8
    text = " ".join(words.all_inner_texts()).lower()
    assert "fox" in text and "dog" in text
    # Words turn "spoken" as playback passes their start time.
    expect(page.locator("#tts-words .word.spoken").first).to_be_visible()
    page.screenshot(path=ARTIFACTS / "playground.png")
    with page.expect_download() as download:
        page.click("#tts-download")
    saved = download.value.path()
    assert saved is not None and Path(saved).read_bytes()[:4] == b"RIFF"
    assert _credits(server) < before
    expect(page.locator("#credits-badge")).to_have_attribute("data-remaining", str(_credits(server)))
