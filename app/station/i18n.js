// Translations: one JSON catalogue per language in ./i18n/ (flat keys, "{name}" placeholders),
// chosen per user. A key missing from the catalogue shows as the key itself and is recorded in
// `missing`, so a browser test can prove that a page rendered with none.

export const LANGUAGES = ["en", "zh-CN"];
const LANG_KEY = "iaewatch.lang";

let catalogue = {};
let current = "en";
export const missing = new Set();

/** The language to start with: this user's last choice, the last one used here, the browser's. */
export function preferredLanguage(username = null) {
  const stored =
    (username && localStorage.getItem(`${LANG_KEY}.${username}`)) || localStorage.getItem(LANG_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** Remember `lang` for `username` (and as this machine's default before anyone logs in). */
export function rememberLanguage(lang, username = null) {
  localStorage.setItem(LANG_KEY, lang);
  if (username) localStorage.setItem(`${LANG_KEY}.${username}`, lang);
}

/**
 * Load the catalogue of `lang` (one of LANGUAGES) and make it current. A page of its own (the
 * trial page) names its extra catalogues in `pages`: `./i18n/{page}-{lang}.json`, merged over it.
 */
export async function setLanguage(lang, pages = []) {
  const code = LANGUAGES.includes(lang) ? lang : "en";
  const merged = {};
  for (const name of [code, ...pages.map((p) => `${p}-${code}`)]) {
    const resp = await fetch(`/station/i18n/${name}.json`);
    if (!resp.ok) throw new Error(`catalogue ${name}: HTTP ${resp.status}`);
    Object.assign(merged, await resp.json());
  }
  catalogue = merged;
  current = code;
  document.documentElement.lang = code;
}

export function language() {
  return current;
}

/** The text of `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = catalogue[key];
  if (typeof text !== "string") {
    missing.add(key);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** `t(key)` when the catalogue has it, else `fallback` (for open-ended names such as codes). */
export function tOr(key, fallback) {
  return typeof catalogue[key] === "string" ? catalogue[key] : fallback;
}

/** Fill every `[data-i18n]` element's text (and `[data-i18n-title]` titles) under `root`. */
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  document.title = t("page.title");
}
