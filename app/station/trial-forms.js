// What the trial page's sections share: reading a form, times typed in the site's zone, and
// running an action so that a refusal (403 with the server's reason, 409, 422) shows where it
// happened and in the page's notice. No state of its own.

import { AuthError } from "./api.js";
import { formatDateTime } from "./format.js";
import { t } from "./i18n.js";

/** A form's fields as trimmed strings (checkboxes: true/false). */
export function fields(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : String(el.value ?? "").trim();
  }
  return out;
}

/** A number typed in a field, or undefined when the field is empty. */
export function num(text) {
  return text === "" || text == null ? undefined : Number(text);
}

/** Text typed in a field, or undefined when empty. */
export function opt(text) {
  return text === "" || text == null ? undefined : text;
}

/**
 * A `datetime-local` value read as a wall-clock time in the site's zone (the zone the page
 * shows every time in) → ISO 8601 UTC; undefined when empty.
 */
export function siteTime(value) {
  if (!value) return undefined;
  const asUtc = Date.parse(`${value.length === 16 ? `${value}:00` : value}Z`);
  if (!Number.isFinite(asUtc)) return undefined;
  // the site's offset at that moment: what its wall clock reads minus the UTC instant
  const offset = (at) => Date.parse(`${formatDateTime(at).replace(" ", "T")}Z`) - at;
  let ms = asUtc - offset(asUtc);
  ms = asUtc - offset(ms); // once more, in case the guess crossed a zone change
  return new Date(ms).toISOString();
}

/**
 * Run `action()` for a form: its status line says "saving", then `done` (a text, or a function
 * of the result giving one) or the refusal.
 * `page.notice(text)` shows refusals page-wide; `page.endSession(msg)` handles a 401.
 * Returns the action's result, or undefined when it failed.
 */
export async function act(form, page, action, done = t("trial.saved")) {
  const out = form.querySelector(".t-out");
  const buttons = form.querySelectorAll("button");
  for (const b of buttons) b.disabled = true;
  out.className = "t-out";
  out.textContent = t("trial.saving");
  try {
    const result = await action();
    out.textContent = typeof done === "function" ? done(result) : done;
    out.classList.add("ok");
    page.notice(null);
    return result;
  } catch (err) {
    if (err instanceof AuthError) {
      page.endSession(err.message);
      return undefined;
    }
    const why = err.status === 403 ? t("trial.forbidden", { why: err.message }) : t("trial.refused", { why: err.message });
    out.textContent = why;
    out.classList.add("err");
    page.notice(why);
    return undefined;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}
