// Playground: text -> speech over the Gradium TTS WebSocket. Audio plays as it streams (Web Audio)
// and the words the server times (TTS "text" messages) are highlighted as they are spoken.
import { api, openSpeechSocket, readSocket, showError } from "./api.js";
import { PcmPlayer, base64ToBytes, download, wavFile } from "./audio.js";
import { VoicePicker } from "./voice-picker.js";

const $ = (id) => document.getElementById(id);
let picker;
let current = null; // { socket, player, words, sampleRate, settings }

function settings() {
  const speed = Number($("tts-speed").value);
  return {
    voice_id: picker.selected?.uid,
    // padding_bonus: each 4 points halve or double the rate, so speed s is -4·log2(s).
    json_config: JSON.stringify({
      padding_bonus: Math.round(-4 * Math.log2(speed) * 100) / 100,
      temp: Number($("tts-temp").value),
      cfg_coef: Number($("tts-cfg").value),
    }),
  };
}

function highlight() {
  if (!current) return;
  const position = current.player.position;
  for (const word of current.words) {
    const { start, stop } = word.dataset;
    const spoken = position !== null && position >= Number(start);
    word.classList.toggle("spoken", spoken);
    word.classList.toggle("pending", !spoken);
    word.classList.toggle("current", spoken && position < Math.max(Number(stop), Number(start) + 0.12));
  }
  if (current.playing) requestAnimationFrame(highlight);
}

async function speak() {
  const text = $("tts-text").value;
  showError($("tts-error"), null);
  stop();
  $("tts-words").replaceChildren();
  $("tts-speak").disabled = true;
  $("tts-download").disabled = true;
  $("tts-status").textContent = "connecting…";
  const session = { words: [], player: null, playing: true, settings: settings(), text };
  const clicked = performance.now();
  try {
    session.socket = await openSpeechSocket("tts");
    current = session;
    $("tts-stop").disabled = false;
    const done = readSocket(session.socket, (message) => {
      if (message.type === "ready") {
        $("tts-status").dataset.readyMs = Math.round(performance.now() - clicked);
        session.sampleRate = message.sample_rate;
        session.player = new PcmPlayer(message.sample_rate);
        $("tts-status").textContent = "streaming…";
        requestAnimationFrame(highlight);
      } else if (message.type === "audio") {
        session.firstAudioMs ??= performance.now() - clicked;
        session.player.push(base64ToBytes(message.audio));
      } else if (message.type === "text") {
        const word = document.createElement("span");
        word.className = "word pending";
        word.textContent = message.text;
        word.dataset.start = message.start_s;
        word.dataset.stop = message.stop_s ?? message.start_s;
        session.words.push(word);
        $("tts-words").append(word, " ");
      }
    });
    session.socket.send(JSON.stringify({ ...session.settings, output_format: "pcm", type: "setup" }));
    session.socket.send(JSON.stringify({ type: "text", text }));
    session.socket.send(JSON.stringify({ type: "end_of_stream" }));
    await done;
    const seconds = session.player ? session.player.pcm.length / 2 / session.sampleRate : 0;
    $("tts-status").textContent = `${seconds.toFixed(2)} s of audio, ${session.words.length} words`
      + (session.firstAudioMs === undefined ? "" : `; first audio ${Math.round(session.firstAudioMs)} ms after the click`);
    $("tts-status").dataset.firstAudioMs = Math.round(session.firstAudioMs ?? -1);
    $("tts-download").disabled = !session.player;
    // Let the highlight run to the end of playback, then mark every word spoken.
    const left = session.player ? Math.max(0, session.player.nextTime - session.player.context.currentTime) : 0;
    setTimeout(() => { session.playing = false; highlight(); }, left * 1000 + 200);
  } catch (error) {
    session.playing = false;
    showError($("tts-error"), error);
    $("tts-status").textContent = "";
  } finally {
    $("tts-speak").disabled = false;
    $("tts-stop").disabled = true;
    window.dispatchEvent(new Event("gradium:spent"));
  }
}

function stop() {
  if (!current) return;
  current.playing = false;
  if (current.socket?.readyState === WebSocket.OPEN) current.socket.close();
  // Silence now; the audio received so far stays downloadable (the player keeps its chunks).
  if (current.player?.context.state !== "closed") current.player?.close();
}

async function save() {
  if (!current?.player) return;
  const format = $("tts-format").value;
  try {
    if (format === "wav") download(wavFile(current.player.pcm, current.sampleRate), "speech.wav");
    else if (format === "pcm") download(new Blob([current.player.pcm]), `speech_${current.sampleRate}.pcm`);
    else {
      // Other encodings come from the server's one-shot route: the same settings, rendered again.
      const response = await api("/api/post/speech/tts", {
        method: "POST",
        json: { ...current.settings, text: current.text, output_format: format, only_audio: true },
        raw: true,
      });
      download(await response.blob(), `speech.${format === "opus" ? "ogg" : "raw"}`);
      window.dispatchEvent(new Event("gradium:spent"));
    }
  } catch (error) {
    showError($("tts-error"), error);
  }
}

export function init() {
  picker = new VoicePicker($("tts-picker"), { onError: (error) => showError($("tts-error"), error) });
  $("tts-speak").addEventListener("click", speak);
  $("tts-stop").addEventListener("click", stop);
  $("tts-download").addEventListener("click", save);
  const show = (id, format) => {
    const update = () => { $(`${id}-out`).textContent = format(Number($(id).value)); };
    $(id).addEventListener("input", update);
    update();
  };
  show("tts-speed", (v) => `${v.toFixed(2)}×`);
  show("tts-temp", (v) => v.toFixed(2));
  show("tts-cfg", (v) => v.toFixed(2));
}
