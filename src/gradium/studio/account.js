// Account: credits left, usage per day as a chart, and the organisation's API keys (created and
// revoked by admin keys).
import { api, showError } from "./api.js";

const $ = (id) => document.getElementById(id);
const COLOURS = { tts: "#3b5bdb", stt: "#2b8a3e", voice_design: "#e8590c" };
const DAYS = 30;

function cell(row, value) {
  row.insertCell().textContent = value;
}

function drawChart(history) {
  const canvas = $("account-chart");
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const today = new Date();
  const days = [...Array(DAYS).keys()].map((i) => {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (DAYS - 1 - i)));
    return day.toISOString().slice(0, 10);
  });
  const byDay = Object.fromEntries(days.map((d) => [d, {}]));
  for (const entry of history) if (byDay[entry.date]) byDay[entry.date][entry.service] = entry.credits;
  const totals = days.map((d) => Object.values(byDay[d]).reduce((a, b) => a + b, 0));
  const top = Math.max(1, ...totals);
  const left = 50;
  const bottom = height - 22;
  const slot = (width - left - 10) / DAYS;
  g.fillStyle = "#6b6b70";
  g.font = "11px system-ui";
  g.fillText(`${top.toLocaleString("en")} credits`, 2, 12);
  g.fillText("0", 2, bottom);
  days.forEach((day, i) => {
    let y = bottom;
    for (const [service, credits] of Object.entries(byDay[day])) {
      const h = (credits / top) * (bottom - 20);
      g.fillStyle = COLOURS[service] ?? "#868e96";
      g.fillRect(left + i * slot + 2, y - h, slot - 4, h);
      y -= h;
    }
    if (i % 5 === 4 || i === DAYS - 1) {
      g.fillStyle = "#6b6b70";
      g.fillText(day.slice(5), left + i * slot, height - 6);
    }
  });
  let x = width - 10;
  for (const [service, colour] of Object.entries(COLOURS).reverse()) {
    const label = service.replace("_", " ");
    x -= g.measureText(label).width + 22;
    g.fillStyle = colour;
    g.fillRect(x, 4, 10, 10);
    g.fillStyle = "#1d1d1f";
    g.fillText(label, x + 14, 13);
  }
}

async function loadUsage() {
  showError($("account-error"), null);
  try {
    const [credits, summary, history] = await Promise.all([
      api("/api/usages/credits"), api("/api/usages/summary"), api(`/api/usages/history?days=${DAYS}`),
    ]);
    $("account-remaining").textContent = credits.remaining.toLocaleString("en");
    $("account-allocated").textContent = credits.allocated.toLocaleString("en");
    const body = $("account-usage").tBodies[0];
    body.replaceChildren();
    for (const [service, entry] of Object.entries(summary.services)) {
      const row = body.insertRow();
      for (const value of [service, entry.requests, entry.characters, entry.audio_seconds, entry.credits]) cell(row, value);
    }
    drawChart(history.usage);
  } catch (error) {
    showError($("account-error"), error);
  }
}

async function loadKeys() {
  showError($("keys-error"), null);
  try {
    const { keys, current_key_id: currentId, is_admin: isAdmin } = await api("/api/keys");
    $("keys-admin").hidden = !isAdmin;
    const body = $("keys-table").tBodies[0];
    body.replaceChildren();
    for (const key of keys) {
      const row = body.insertRow();
      row.dataset.keyId = key.id;
      cell(row, key.name + (key.id === currentId ? " (this tab)" : ""));
      cell(row, `gd_${key.prefix}…`);
      cell(row, key.is_admin ? "yes" : "no");
      cell(row, key.revoked_at ? "revoked" : "active");
      const actions = row.insertCell();
      if (isAdmin && !key.revoked_at && key.id !== currentId) {
        const revoke = document.createElement("button");
        revoke.className = "quiet small revoke";
        revoke.textContent = "Revoke";
        revoke.addEventListener("click", async () => {
          if (!window.confirm(`Revoke the key “${key.name}”? Programs using it stop working.`)) return;
          try {
            await api(`/api/keys/${key.id}`, { method: "DELETE" });
            await loadKeys();
          } catch (error) {
            showError($("keys-error"), error);
          }
        });
        actions.append(revoke);
      }
    }
  } catch (error) {
    showError($("keys-error"), error);
  }
}

async function createKey() {
  showError($("keys-error"), null);
  try {
    const created = await api("/api/keys", {
      method: "POST", json: { name: $("keys-name").value, admin: $("keys-new-admin").checked },
    });
    $("keys-created").textContent = `New key (shown once, store it now): ${created.key}`;
    $("keys-created").hidden = false;
    $("keys-name").value = "";
    await loadKeys();
  } catch (error) {
    showError($("keys-error"), error);
  }
}

export function init() {
  $("keys-create").addEventListener("click", createKey);
}

export function show() {
  loadUsage();
  loadKeys();
}
