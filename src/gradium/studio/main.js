// Sign-in, navigation between the four pages, and the credits badge.
import { api, session, showError } from "./api.js";
import { loadVoices } from "./voice-picker.js";
import * as playground from "./playground.js";
import * as voices from "./voices.js";
import * as transcribe from "./transcribe.js";
import * as account from "./account.js";

const pages = { playground, voices, transcribe, account };
const $ = (id) => document.getElementById(id);

export async function refreshCredits() {
  try {
    const credits = await api("/api/usages/credits");
    $("credits-badge").textContent = `${credits.remaining.toLocaleString("en")} credits`;
    $("credits-badge").dataset.remaining = credits.remaining;
    return credits;
  } catch {
    return null;
  }
}
window.addEventListener("gradium:spent", refreshCredits);

function showPage() {
  const name = (window.location.hash || "#playground").slice(1);
  const page = pages[name] ? name : "playground";
  for (const key of Object.keys(pages)) $(`page-${key}`).hidden = key !== page;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
  pages[page].show?.();
  if (session.key) refreshCredits(); // the badge agrees with the Account page's figure
}

function enter() {
  $("signin").hidden = true;
  for (const id of ["app", "nav", "credits-badge", "sign-out"]) $(id).hidden = false;
  for (const page of Object.values(pages)) page.init();
  loadVoices().catch((error) => showError($("voices-error"), error));
  showPage();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("signin-key").value.trim();
  try {
    await api("/api/usages/credits", { key });
  } catch (error) {
    showError($("signin-error"), error);
    return;
  }
  session.key = key;
  $("signin-key").value = "";
  showError($("signin-error"), null);
  enter();
});

$("sign-out").addEventListener("click", () => {
  session.key = null;
  window.location.reload();
});

window.addEventListener("hashchange", showPage);
if (session.key) enter();
