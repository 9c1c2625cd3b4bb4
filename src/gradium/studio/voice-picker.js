// The voice list shared by the Playground and the Voices page: search, filters (language, gender,
// accent, yours vs catalog) and a play button per voice.
import { api } from "./api.js";

const SAMPLE_TEXT = {
  en: "Hello! This is how I sound.",
  fr: "Bonjour ! Voici ma voix.",
  de: "Hallo! So klingt meine Stimme.",
  es: "¡Hola! Así suena mi voz.",
  pt: "Olá! Esta é a minha voz.",
};

let cache = null;
const listeners = new Set();

export async function loadVoices(force = false) {
  if (!cache || force) {
    cache = await api("/api/voices/?include_catalog=1&limit=0");
    listeners.forEach((listener) => listener(cache));
  }
  return cache;
}

export function onVoicesChanged(listener) {
  listeners.add(listener);
}

export function voiceLabel(voice) {
  return `${voice.name} (${voice.language}${voice.is_catalog ? "" : ", yours"})`;
}

// Speak a short sample in the voice (POST /api/post/speech/tts; a few credits).
export async function playSample(voiceId, language) {
  const text = SAMPLE_TEXT[(language || "en").slice(0, 2)] ?? SAMPLE_TEXT.en;
  const response = await api("/api/post/speech/tts", {
    method: "POST",
    json: { voice_id: voiceId, text, output_format: "wav", only_audio: true },
    raw: true,
  });
  window.dispatchEvent(new Event("gradium:spent"));
  const audio = new Audio(URL.createObjectURL(await response.blob()));
  await audio.play().catch(() => {});
  return audio;
}

function options(select, values, all) {
  const current = select.value;
  select.replaceChildren(new Option(all, ""), ...[...values].sort().map((v) => new Option(v, v)));
  select.value = values.has(current) ? current : "";
}

export class VoicePicker {
  // actions(voice) -> extra elements for a row (rename, delete...); onError(error) shows errors.
  constructor(root, { onSelect = () => {}, actions = () => [], onError = () => {} } = {}) {
    this.root = root;
    this.onSelect = onSelect;
    this.actions = actions;
    this.onError = onError;
    this.selected = null;
    root.innerHTML = `
      <div class="filters">
        <input type="search" placeholder="Search voices" data-role="search">
        <select data-role="language"></select>
        <select data-role="gender"></select>
        <select data-role="accent"></select>
        <select data-role="source">
          <option value="">yours and catalog</option><option value="own">yours</option><option value="catalog">catalog</option>
        </select>
      </div>
      <div class="voice-list" role="listbox"></div>`;
    this.list = root.querySelector(".voice-list");
    this.controls = Object.fromEntries(
      [...root.querySelectorAll("[data-role]")].map((el) => [el.dataset.role, el]));
    for (const control of Object.values(this.controls)) control.addEventListener("input", () => this.render());
    onVoicesChanged(() => this.render());
    if (cache) this.render();
  }

  get voices() {
    return cache ?? [];
  }

  select(uid) {
    this.selected = this.voices.find((v) => v.uid === uid) ?? null;
    for (const row of this.list.children) row.classList.toggle("selected", row.dataset.uid === uid);
    if (this.selected) this.onSelect(this.selected);
  }

  render() {
    const voices = this.voices;
    const { search, language, gender, accent, source } = this.controls;
    options(language, new Set(voices.map((v) => v.language).filter(Boolean)), "any language");
    options(gender, new Set(voices.map((v) => v.gender).filter(Boolean)), "any gender");
    options(accent, new Set(voices.map((v) => v.country).filter(Boolean)), "any accent");
    const query = search.value.trim().toLowerCase();
    const shown = voices.filter((v) =>
      (!query || `${v.name} ${v.description ?? ""} ${v.uid}`.toLowerCase().includes(query))
      && (!language.value || v.language === language.value)
      && (!gender.value || v.gender === gender.value)
      && (!accent.value || v.country === accent.value)
      && (!source.value || (source.value === "own") === !v.is_catalog));
    this.list.replaceChildren(...shown.map((voice) => this.row(voice)));
    if (!this.selected || !voices.some((v) => v.uid === this.selected.uid)) {
      const first = voices.find((v) => v.is_flagship) ?? voices[0];
      if (first) this.select(first.uid);
    } else {
      this.select(this.selected.uid);
    }
  }

  row(voice) {
    const row = document.createElement("div");
    row.className = "voice-item";
    row.dataset.uid = voice.uid;
    row.setAttribute("role", "option");
    const play = document.createElement("button");
    play.className = "quiet small play";
    play.textContent = "▶";
    play.title = `Play ${voice.name}`;
    play.addEventListener("click", async (event) => {
      event.stopPropagation();
      play.disabled = true;
      try {
        await playSample(voice.uid, voice.language);
      } catch (error) {
        this.onError(error);
      } finally {
        play.disabled = false;
      }
    });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = voice.name;
    const tags = document.createElement("span");
    tags.className = "tags";
    tags.textContent = [voice.language, voice.gender, voice.country, voice.is_catalog ? "catalog" : "yours"]
      .filter(Boolean).join(" · ");
    row.append(play, name, tags, ...this.actions(voice));
    row.addEventListener("click", () => this.select(voice.uid));
    return row;
  }
}
