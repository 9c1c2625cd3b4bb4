// Voices: the catalog and your voices (play, rename, delete); clone from a file or the microphone
// (with consent); the voice designer (prompt -> drafts -> keep one); a mix of two voices.
import { api, showError } from "./api.js";
import { captureMicrophone, wavFile } from "./audio.js";
import { VoicePicker, loadVoices, onVoicesChanged, playSample, voiceLabel } from "./voice-picker.js";

const $ = (id) => document.getElementById(id);
const RECORD_SECONDS = 10;
const RECORD_RATE = 24000;
let recorded = null; // a WAV Blob from the microphone

function spent() {
  window.dispatchEvent(new Event("gradium:spent"));
}

function button(label, title, onClick) {
  const element = document.createElement("button");
  element.className = "quiet small";
  element.textContent = label;
  element.title = title;
  element.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick();
  });
  return element;
}

function ownVoiceActions(voice) {
  if (voice.is_catalog) return [];
  const rename = button("Rename", `Rename ${voice.name}`, async () => {
    const name = window.prompt("New name", voice.name);
    if (name === null) return;
    try {
      await api(`/api/voices/${voice.uid}`, { method: "PUT", json: { name } });
      await loadVoices(true);
    } catch (error) {
      showError($("voices-error"), error);
    }
  });
  rename.classList.add("rename");
  const remove = button("Delete", `Delete ${voice.name}`, async () => {
    if (!window.confirm(`Delete the voice “${voice.name}”?`)) return;
    try {
      await api(`/api/voices/${voice.uid}`, { method: "DELETE" });
      await loadVoices(true);
    } catch (error) {
      showError($("voices-error"), error);
    }
  });
  remove.classList.add("delete");
  return [rename, remove];
}

async function record() {
  const status = $("clone-record-status");
  showError($("clone-error"), null);
  const chunks = [];
  try {
    const microphone = await captureMicrophone(RECORD_RATE, (chunk) => chunks.push(chunk));
    $("clone-record").disabled = true;
    for (let left = RECORD_SECONDS; left > 0; left -= 1) {
      status.textContent = `recording… ${left} s`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    microphone.stop();
  } catch (error) {
    showError($("clone-error"), error);
    return;
  } finally {
    $("clone-record").disabled = false;
  }
  const pcm = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    pcm.set(chunk, offset);
    offset += chunk.length;
  }
  recorded = wavFile(pcm, RECORD_RATE);
  $("clone-file").value = "";
  status.textContent = `recorded ${(pcm.length / 2 / RECORD_RATE).toFixed(1)} s`;
}

async function clone() {
  showError($("clone-error"), null);
  $("clone-result").hidden = true;
  const file = $("clone-file").files[0];
  const audio = file ?? recorded;
  if (!audio) {
    showError($("clone-error"), new Error("choose an audio file or record from the microphone first"));
    return;
  }
  if (!$("clone-consent").checked) {
    showError($("clone-error"), new Error("tick the consent box: clone only a voice whose speaker agreed"));
    return;
  }
  const form = new FormData();
  form.append("audio_file", audio, file ? file.name : "microphone.wav");
  if ($("clone-name").value.trim()) form.append("name", $("clone-name").value.trim());
  form.append("language", $("clone-language").value);
  $("clone-create").disabled = true;
  $("clone-create").textContent = "Cloning…";
  try {
    const voice = await api("/api/voices/", { method: "POST", form });
    $("clone-result").textContent = `Created “${voice.name}” (${voice.uid}).`;
    $("clone-result").hidden = false;
    await loadVoices(true);
  } catch (error) {
    showError($("clone-error"), error);
  } finally {
    $("clone-create").disabled = false;
    $("clone-create").textContent = "Clone";
  }
}

async function design() {
  showError($("design-error"), null);
  const language = $("design-language").value;
  try {
    const { embeddings } = await api("/api/voice-generator/generate", {
      method: "POST",
      json: { prompt: $("design-prompt").value, language, n_samples: Number($("design-count").value) },
    });
    spent();
    $("design-drafts").replaceChildren(...embeddings.map((draft, index) => {
      const item = document.createElement("li");
      const name = document.createElement("input");
      name.value = `${$("design-prompt").value.slice(0, 40)} #${index + 1}`;
      const play = button("▶", "Audition this draft", () =>
        playSample(draft.embedding_id, language).catch((error) => showError($("design-error"), error)));
      const keep = button("Keep", "Keep this draft as one of your voices", async () => {
        try {
          await api("/api/voices/from-embedding", {
            method: "POST", json: { voxium_embedding_id: draft.embedding_id, name: name.value },
          });
          keep.disabled = true;
          keep.textContent = "Kept";
          await loadVoices(true);
        } catch (error) {
          showError($("design-error"), error);
        }
      });
      item.append(play, name, keep);
      return item;
    }));
  } catch (error) {
    showError($("design-error"), error);
  }
}

function fillMixChoices(voices) {
  for (const id of ["mix-a", "mix-b"]) {
    const select = $(id);
    const current = select.value;
    select.replaceChildren(...voices.map((v) => new Option(voiceLabel(v), v.uid)));
    if (voices.some((v) => v.uid === current)) select.value = current;
  }
  if ($("mix-a").value === $("mix-b").value && voices.length > 1) $("mix-b").value = voices[1].uid;
}

async function mix() {
  showError($("mix-error"), null);
  $("mix-result").hidden = true;
  const weight = Number($("mix-weight").value);
  const first = $("mix-a").value;
  const second = $("mix-b").value;
  const voices = await loadVoices();
  const language = voices.find((v) => v.uid === first)?.language ?? "en";
  try {
    // The Cartesia routes: /voices/mix blends the embeddings, /voices/ stores the blend.
    const { embedding } = await api("/voices/mix", {
      method: "POST", json: { voices: [{ id: first, weight: 1 - weight }, { id: second, weight }] },
    });
    const name = $("mix-name").value.trim() || `Mix of ${first} and ${second}`;
    const voice = await api("/voices/", { method: "POST", json: { embedding, name, language } });
    $("mix-result").textContent = `Created “${voice.name}” (${voice.id}).`;
    $("mix-result").hidden = false;
    await loadVoices(true);
  } catch (error) {
    showError($("mix-error"), error);
  }
}

export function init() {
  new VoicePicker($("voices-picker"), {
    actions: ownVoiceActions,
    onError: (error) => showError($("voices-error"), error),
  });
  onVoicesChanged(fillMixChoices);
  $("clone-record").addEventListener("click", record);
  $("clone-file").addEventListener("change", () => {
    recorded = null;
    $("clone-record-status").textContent = "";
  });
  $("clone-create").addEventListener("click", clone);
  $("design-generate").addEventListener("click", design);
  $("mix-create").addEventListener("click", mix);
  const weight = () => {
    $("mix-weight-out").textContent = `${Math.round(Number($("mix-weight").value) * 100)} % second`;
  };
  $("mix-weight").addEventListener("input", weight);
  weight();
}
