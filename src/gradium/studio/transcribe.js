// Transcribe: the microphone live (interim hypothesis, committed words, and the VAD's end-of-turn
// probability drawn as a line) or a file (progress, then words with times; SRT/VTT/JSON export),
// over the Gradium STT WebSocket.
import { openSpeechSocket, readSocket, showError } from "./api.js";
import { bytesToBase64, captureMicrophone, decodeToPcm, download } from "./audio.js";

const $ = (id) => document.getElementById(id);
const RATE = 24000; // the protocol's "pcm" input
const FILE_CHUNK_BYTES = RATE * 2; // one second per message
const END_OF_TURN = 0.5; // inactivity probability (2 s horizon) drawn as the turn's end
let words = [];
let vad = []; // [seconds, inactivity probability]
let microphone = null;
let socket = null;

function reset() {
  words = [];
  vad = [];
  $("stt-words").replaceChildren();
  $("stt-table").tBodies[0].replaceChildren();
  $("stt-table").hidden = true;
  $("stt-interim").textContent = "";
  $("stt-interim").dataset.partials = 0;
  for (const id of ["stt-srt", "stt-vtt", "stt-json"]) $(id).disabled = true;
  showError($("stt-error"), null);
  drawVad(1);
}

function drawVad(duration) {
  const canvas = $("stt-vad");
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const end = Math.max(duration, vad.length ? vad[vad.length - 1][0] : 0, 1);
  const start = microphone ? Math.max(0, end - 20) : 0; // live: the last 20 s
  const x = (t) => ((t - start) / (end - start)) * width;
  const y = (p) => height - 4 - p * (height - 8);
  g.strokeStyle = "#e8590c";
  g.setLineDash([4, 4]);
  g.beginPath();
  g.moveTo(0, y(END_OF_TURN));
  g.lineTo(width, y(END_OF_TURN));
  g.stroke();
  g.setLineDash([]);
  g.strokeStyle = "#3b5bdb";
  g.lineWidth = 2;
  g.beginPath();
  vad.filter(([t]) => t >= start).forEach(([t, p], i) => (i ? g.lineTo(x(t), y(p)) : g.moveTo(x(t), y(p))));
  g.stroke();
  g.fillStyle = "#6b6b70";
  g.font = "11px system-ui";
  g.fillText("end of turn ↑", 6, y(END_OF_TURN) - 4);
}

function onMessage(message, duration) {
  if (message.type === "text") {
    const word = { text: message.text, start_s: message.start_s, stop_s: message.stop_s ?? message.start_s };
    words.push(word);
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = word.text;
    span.title = `${word.start_s.toFixed(2)}–${word.stop_s.toFixed(2)} s`;
    $("stt-words").append(span, " ");
    const row = $("stt-table").tBodies[0].insertRow();
    for (const value of [word.start_s.toFixed(2), word.stop_s.toFixed(2), word.text]) {
      row.insertCell().textContent = value;
    }
  } else if (message.type === "partial") {
    $("stt-interim").textContent = message.text;
    $("stt-interim").dataset.partials = Number($("stt-interim").dataset.partials ?? 0) + 1;
  } else if (message.type === "step") {
    const probability = message.vad?.[2]?.inactivity_prob ?? 0;
    vad.push([message.total_duration_s, probability]);
    if (probability >= END_OF_TURN) $("stt-interim").textContent = "";
    if (duration) {
      $("stt-progress").value = Math.min(1, message.total_duration_s / duration);
      $("stt-status").textContent = `${message.total_duration_s.toFixed(1)} s of ${duration.toFixed(1)} s`;
    }
    drawVad(duration ?? 0);
  }
}

async function open(duration) {
  const config = { interim_results: true };
  if ($("stt-language").value) config.language = $("stt-language").value;
  socket = await openSpeechSocket("asr");
  const done = readSocket(socket, (message) => onMessage(message, duration));
  socket.send(JSON.stringify({ input_format: "pcm", json_config: JSON.stringify(config), type: "setup" }));
  return { done }; // wrapped: an async function returning the promise itself would wait for it
}

function finished() {
  $("stt-interim").textContent = "";
  $("stt-table").hidden = !words.length;
  for (const id of ["stt-srt", "stt-vtt", "stt-json"]) $(id).disabled = !words.length;
  window.dispatchEvent(new Event("gradium:spent"));
}

async function toggleMicrophone() {
  if (microphone) {
    microphone.stop();
    microphone = null;
    socket?.send(JSON.stringify({ type: "end_of_stream" }));
    $("stt-mic").textContent = "Start microphone";
    return;
  }
  reset();
  try {
    const { done } = await open(null);
    microphone = await captureMicrophone(RATE, (chunk) => {
      if (socket?.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "audio", audio: bytesToBase64(chunk) }));
      }
    });
    $("stt-mic").textContent = "Stop microphone";
    $("stt-status").textContent = "listening…";
    await done;
    $("stt-status").textContent = `${words.length} words`;
  } catch (error) {
    showError($("stt-error"), error);
  } finally {
    microphone?.stop();
    microphone = null;
    $("stt-mic").textContent = "Start microphone";
    finished();
  }
}

async function transcribeFile() {
  const file = $("stt-file").files[0];
  if (!file) return;
  reset();
  $("stt-progress").hidden = false;
  $("stt-progress").value = 0;
  $("stt-status").textContent = "decoding…";
  try {
    const { pcm, duration } = await decodeToPcm(file, RATE);
    const { done } = await open(duration);
    for (let offset = 0; offset < pcm.length; offset += FILE_CHUNK_BYTES) {
      socket.send(JSON.stringify({ type: "audio", audio: bytesToBase64(pcm.subarray(offset, offset + FILE_CHUNK_BYTES)) }));
    }
    socket.send(JSON.stringify({ type: "end_of_stream" }));
    await done;
    $("stt-progress").value = 1;
    $("stt-status").textContent = `${words.length} words in ${duration.toFixed(1)} s of audio`;
  } catch (error) {
    showError($("stt-error"), error);
    $("stt-status").textContent = "";
  } finally {
    finished();
  }
}

// Subtitles: a cue per sentence-ish group (at most 8 words, broken at pauses over 0.8 s).
function cues() {
  const groups = [];
  for (const word of words) {
    const last = groups[groups.length - 1];
    if (!last || last.length >= 8 || word.start_s - last[last.length - 1].stop_s > 0.8) groups.push([word]);
    else last.push(word);
  }
  return groups.map((group) => ({
    start: group[0].start_s, end: Math.max(group[group.length - 1].stop_s, group[0].start_s + 0.3),
    text: group.map((w) => w.text).join(" "),
  }));
}

function stamp(seconds, separator) {
  const ms = Math.round(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export function srt() {
  return cues().map((c, i) => `${i + 1}\n${stamp(c.start, ",")} --> ${stamp(c.end, ",")}\n${c.text}\n`).join("\n");
}

export function vtt() {
  return `WEBVTT\n\n${cues().map((c) => `${stamp(c.start, ".")} --> ${stamp(c.end, ".")}\n${c.text}\n`).join("\n")}`;
}

export function init() {
  $("stt-mic").addEventListener("click", toggleMicrophone);
  $("stt-file").addEventListener("change", transcribeFile);
  $("stt-srt").addEventListener("click", () => download(new Blob([srt()], { type: "text/plain" }), "transcript.srt"));
  $("stt-vtt").addEventListener("click", () => download(new Blob([vtt()], { type: "text/vtt" }), "transcript.vtt"));
  $("stt-json").addEventListener("click", () => download(
    new Blob([JSON.stringify({ text: words.map((w) => w.text).join(" "), words }, null, 2)], { type: "application/json" }),
    "transcript.json"));
  drawVad(1);
}
