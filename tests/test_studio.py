"""The web studio in headless Chromium (the system's, driven by Playwright) against a real server:
sign in, speak with streamed audio and highlighted words, clone from a corpus file, transcribe a
corpus file, see credits go down. Screenshots of each page go to ``artifacts/studio/``."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import CORPUS, REPO, LiveServer, start_server, stop_server
from gradium.server.studio import STUDIO_DIR

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
# Waits, not timings: the first synthesis loads the neural voices, the first transcription Whisper.
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("studio"), env={"GRADIUM_STT_WORKERS": "1"})
    yield live
    stop_server(live)
    assert "Traceback" not in live.log(), live.log()
    # The access tokens of the studio's sockets travel in URLs: the log masks them, like keys.
    assert "ctk_" not in live.log()


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


def _tts_requests(server: LiveServer) -> int:
    count: int = _http(server, "GET", "/api/usages/summary", server.api_key)[1]["services"]["tts"]["requests"]
    return count


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
    # Reported, not asserted (README "Web studio"): from the click to the first audio message, on a
    # fresh server (the voice loads) and once more.
    status = page.locator("#tts-status")
    print("first audio after", status.get_attribute("data-first-audio-ms"), "ms (first request)")
    page.click("#tts-speak")
    expect(status).to_contain_text("first audio")
    print("first audio after", status.get_attribute("data-first-audio-ms"), "ms (second request;",
          "ready after", status.get_attribute("data-ready-ms"), "ms)")
    # A voice's play button speaks a sample through post/speech/tts: one more TTS request.
    requests = _tts_requests(server)
    page.locator("#tts-picker .voice-item button.play").first.click()
    expect(page.locator("#tts-picker .voice-item button.play").first).to_be_enabled()
    expect(page.locator("#tts-error")).to_be_hidden()
    assert _tts_requests(server) == requests + 1
    with page.expect_download() as download:
        page.click("#tts-download")
    saved = download.value.path()
    assert saved is not None and Path(saved).read_bytes()[:4] == b"RIFF"
    assert _credits(server) < before
    expect(page.locator("#credits-badge")).to_have_attribute("data-remaining", str(_credits(server)))


def test_playground_shows_the_sockets_own_error(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.root_url}/studio/#playground")
    page.fill("#tts-text", 'Wait <break time="soon" /> here.')
    page.click("#tts-speak")
    error = page.locator("#tts-error")
    expect(error).to_contain_text('break time must look like "1.5s" or "500ms", got "soon"')
    expect(page.locator("#tts-speak")).to_be_enabled()


def test_voices_clone_from_a_corpus_file_then_rename_and_delete(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.root_url}/studio/#voices")
    page.fill("#clone-name", "Studio clone")
    page.set_input_files("#clone-file", str(SPEECH_CLIP))
    # No consent, no clone: the studio says why before anything is sent.
    page.click("#clone-create")
    expect(page.locator("#clone-error")).to_contain_text("consent")
    page.check("#clone-consent")
    page.click("#clone-create")
    expect(page.locator("#clone-result")).to_contain_text("Studio clone")
    own = page.locator("#voices-picker .voice-item", has_text="Studio clone")
    expect(own).to_have_count(1)
    page.screenshot(path=ARTIFACTS / "voices.png")
    # The clone is in the Playground's picker too, and speaks.
    page.goto(f"{server.root_url}/studio/#playground")
    page.select_option("#tts-picker select[data-role=source]", "own")
    page.click("#tts-picker .voice-item >> text=Studio clone")
    page.fill("#tts-text", "A cloned voice speaks.")
    page.click("#tts-speak")
    expect(page.locator("#tts-status")).to_contain_text("s of audio")
    expect(page.locator("#tts-error")).to_be_hidden()
    page.goto(f"{server.root_url}/studio/#voices")
    page.once("dialog", lambda dialog: dialog.accept("Renamed clone"))
    own.locator("button.rename").click()
    renamed = page.locator("#voices-picker .voice-item", has_text="Renamed clone")
    expect(renamed).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    renamed.locator("button.delete").click()
    expect(renamed).to_have_count(0)


def test_voices_clone_from_the_microphone(page: Page, server: LiveServer) -> None:
    """Ten seconds of Chromium's fake microphone (a corpus clip in a loop) become a voice."""
    page.goto(f"{server.root_url}/studio/#voices")
    page.set_input_files("#clone-file", [])
    page.fill("#clone-name", "Microphone clone")
    page.click("#clone-record")
    expect(page.locator("#clone-record-status")).to_contain_text(re.compile(r"recorded \d+\.\d s"))
    page.check("#clone-consent")
    page.click("#clone-create")
    expect(page.locator("#clone-result")).to_contain_text("Microphone clone")
    expect(page.locator("#voices-picker .voice-item", has_text="Microphone clone")).to_have_count(1)


def test_voice_designer_and_mix_show_the_apis_errors_and_make_voices(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.root_url}/studio/#voices")
    page.fill("#design-prompt", "   ")
    page.click("#design-generate")
    expect(page.locator("#design-error")).to_contain_text("prompt must describe the voice")
    page.fill("#design-prompt", "a calm, deep-voiced older man")
    page.fill("#design-count", "2")
    page.click("#design-generate")
    drafts = page.locator("#design-drafts li")
    expect(drafts).to_have_count(2)
    drafts.first.locator("input").fill("Designed voice")
    drafts.first.locator("button", has_text="Keep").click()
    expect(page.locator("#voices-picker .voice-item", has_text="Designed voice")).to_have_count(1)
    page.fill("#mix-name", "Half and half")
    page.click("#mix-create")
    expect(page.locator("#mix-result")).to_contain_text("Half and half")
    expect(page.locator("#voices-picker .voice-item", has_text="Half and half")).to_have_count(1)


def test_transcribe_a_corpus_file_and_export_subtitles(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.root_url}/studio/#transcribe")
    page.select_option("#stt-language", "en")
    page.set_input_files("#stt-file", str(CORPUS / "en_librispeech_4507-16021-0012.wav"))
    expect(page.locator("#stt-status")).to_contain_text("words in", timeout=TIMEOUT_MS)
    text = " ".join(page.locator("#stt-words .word").all_inner_texts()).lower()
    assert "halt" in text and "way" in text, text  # "why should one halt on the way"
    rows = page.locator("#stt-table tbody tr")
    assert rows.count() >= 5
    page.screenshot(path=ARTIFACTS / "transcribe.png")
    with page.expect_download() as download:
        page.click("#stt-srt")
    srt = Path(str(download.value.path())).read_text()
    assert srt.startswith("1\n00:00:0") and " --> " in srt and "halt" in srt.lower()
    with page.expect_download() as download:
        page.click("#stt-vtt")
    vtt = Path(str(download.value.path())).read_text()
    assert vtt.startswith("WEBVTT\n\n00:00:0") and re.search(r"\d\d:\d\d\.\d{3} --> ", vtt), vtt
    with page.expect_download() as download:
        page.click("#stt-json")
    words = json.loads(Path(str(download.value.path())).read_text())["words"]
    assert all(w["stop_s"] >= w["start_s"] >= 0 for w in words) and len(words) == rows.count()


def test_transcribe_the_microphone_live(page: Page, server: LiveServer) -> None:
    """Chromium's fake microphone plays a corpus clip ("experience proves this") in a loop."""
    page.goto(f"{server.root_url}/studio/#transcribe")
    page.click("#stt-mic")
    expect(page.locator("#stt-words .word").first).to_be_visible()
    # Interim hypotheses ("partial") arrive while an utterance is spoken, before its words commit.
    expect(page.locator("#stt-interim")).not_to_have_attribute("data-partials", "0")
    print("partials:", page.locator("#stt-interim").get_attribute("data-partials"),
          "words:", page.locator("#stt-words .word").count())
    page.click("#stt-mic")
    expect(page.locator("#stt-mic")).to_have_text("Start microphone")
    expect(page.locator("#stt-status")).to_contain_text("words")
    text = " ".join(page.locator("#stt-words .word").all_inner_texts()).lower()
    assert "experience" in text or "proves" in text, text
    # The VAD line (#3b5bdb) was drawn from the step messages (the threshold line is orange).
    assert page.evaluate(
        "(() => { const c = document.getElementById('stt-vad');"
        " const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 0; i < p.length; i += 4)"
        "   if (p[i] === 59 && p[i + 1] === 91 && p[i + 2] === 219) return true;"
        " return false; })()"
    )


def test_account_shows_credits_usage_and_manages_keys(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.root_url}/studio/#account")
    before = _credits(server)
    expect(page.locator("#account-remaining")).to_have_text(f"{before:,}")
    spend = {"text": "Spend a few credits."}
    assert _http(server, "POST", "/api/post/speech/tts", server.api_key, spend)[0] == 200
    after = _credits(server)
    assert after < before
    page.goto(f"{server.root_url}/studio/#playground")
    page.goto(f"{server.root_url}/studio/#account")
    expect(page.locator("#account-remaining")).to_have_text(f"{after:,}")
    # The header's badge follows too (it showed the figure of the last spend made in the studio).
    expect(page.locator("#credits-badge")).to_have_attribute("data-remaining", str(after))
    expect(page.locator("#account-usage tbody tr", has_text="tts")).to_have_count(1)
    page.fill("#keys-name", "studio-made")
    page.click("#keys-create")
    expect(page.locator("#keys-created")).to_contain_text("gd_")
    made = page.locator("#keys-table tbody tr", has_text="studio-made")
    expect(made).to_contain_text("active")
    page.screenshot(path=ARTIFACTS / "account.png")
    page.once("dialog", lambda dialog: dialog.accept())
    made.locator("button.revoke").click()
    expect(made).to_contain_text("revoked")


# The server side of the studio, over plain HTTP and WebSockets ------------------------------------


def _http(server: LiveServer, method: str, path: str, key: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.root_url}{path}", data=data, method=method,
        headers={"x-api-key": key, "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(data or b"null") if is_json else data
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _token(server: LiveServer, grants: dict[str, bool]) -> str:
    body = {"grants": grants, "expires_in": 60}
    status, body = _http(server, "POST", "/access-token", server.api_key, body)
    assert status == 200, body
    token: str = body["token"]
    return token


def _tts_socket(server: LiveServer, query: str) -> list[dict[str, Any]]:
    """Speak a word on /api/speech/tts opened with ``query`` and no header; the messages received."""
    messages = []
    with connect(f"ws://{server.host}:{server.port}/api/speech/tts?{query}", open_timeout=30) as socket:
        setup = {"voice_id": "YTpq7expH9539ERJ", "output_format": "pcm", "type": "setup"}
        for message in (setup, {"type": "text", "text": "Hello."}, {"type": "end_of_stream"}):
            with contextlib.suppress(ConnectionClosed):  # a refused socket is closed at once
                socket.send(json.dumps(message))
        try:
            while True:
                messages.append(json.loads(socket.recv(timeout=60)))
        except ConnectionClosed:
            pass
    return messages


def test_gradium_socket_opens_with_an_access_token_of_the_right_grant(server: LiveServer) -> None:
    messages = _tts_socket(server, f"access_token={_token(server, {'tts': True})}")
    assert messages[0]["type"] == "ready"
    assert any(m["type"] == "audio" for m in messages)
    refused = _tts_socket(server, f"access_token={_token(server, {'stt': True})}")
    assert refused == [{"type": "error", "message": "this access token has no 'tts' grant", "code": 1008}]
    # An API key in a URL would end up in logs and history: refused, even a valid one.
    refused = _tts_socket(server, f"access_token={server.api_key}")
    assert refused[0]["type"] == "error" and "never an API key" in refused[0]["message"]
    # The sockets' URLs reached the log with their tokens masked (and the key: never in full).
    assert "access_token=[redacted]" in server.log() and "ctk_" not in server.log()
    assert server.api_key not in server.log().split(server.api_key, 1)[1]  # only the first-start line


def test_asr_interim_results_must_be_a_boolean(server: LiveServer) -> None:
    token = _token(server, {"stt": True})
    with connect(f"ws://{server.host}:{server.port}/api/speech/asr?access_token={token}") as socket:
        config = json.dumps({"interim_results": "yes"})
        socket.send(json.dumps({"input_format": "pcm", "json_config": config, "type": "setup"}))
        assert json.loads(socket.recv(timeout=60)) == {
            "type": "error", "message": "json_config 'interim_results' must be true or false", "code": 1008}


def test_key_routes_are_for_admins_of_the_same_organisation(server: LiveServer) -> None:
    status, created = _http(server, "POST", "/api/keys", server.api_key, {"name": "not-admin"})
    assert status == 201 and created["key"].startswith("gd_") and not created["is_admin"]
    member = created["key"]
    status, listed = _http(server, "GET", "/api/keys", member)
    assert status == 200 and listed["current_key_id"] == created["id"] and not listed["is_admin"]
    assert all("key" not in k and "key_hash" not in k for k in listed["keys"])
    assert _http(server, "POST", "/api/keys", member, {"name": "x"}) == (
        403, {"detail": "only an admin API key can create or revoke keys"})
    assert _http(server, "DELETE", f"/api/keys/{created['id']}", member)[0] == 403
    admin_id = _http(server, "GET", "/api/keys", server.api_key)[1]["current_key_id"]
    status, body = _http(server, "DELETE", f"/api/keys/{admin_id}", server.api_key)
    assert status == 400 and "you are calling with" in body["detail"]
    assert _http(server, "DELETE", "/api/keys/999999", server.api_key) == (
        404, {"detail": "API key 999999 not found"})
    assert _http(server, "POST", "/api/keys", server.api_key, {"name": "  "})[0] == 400
    status, history = _http(server, "GET", "/api/usages/history?days=7", member)
    assert status == 200 and history["days"] == 7 and isinstance(history["usage"], list)
    assert _http(server, "GET", "/api/usages/history?days=0", member)[0] == 422


def test_studio_is_served_without_internet_resources(server: LiveServer) -> None:
    with urllib.request.urlopen(f"{server.root_url}/studio", timeout=10) as response:
        html = response.read().decode()
        assert response.url.endswith("/studio/")
    for name in ["index.html", "style.css", *(p.name for p in STUDIO_DIR.glob("*.js"))]:
        text = (STUDIO_DIR / name).read_text()
        assert "http://" not in text and "https://" not in text, name
    assert 'src="main.js"' in html
