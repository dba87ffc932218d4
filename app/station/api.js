// The session (token in sessionStorage), its refresh, and authenticated REST calls.

import { t } from "./i18n.js";

const SESSION_KEY = "iaewatch.session";

/** Raised when the server answers 401: the page goes back to the login form. */
export class AuthError extends Error {}

/** The stored session, or null when there is none or it has expired. */
export function loadSession() {
  let s;
  try {
    s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    s = null;
  }
  if (!s || !s.access_token) return null;
  if (sessionExpired(s)) {
    clearSession();
    return null;
  }
  return s;
}

export function sessionExpired(session, now = Date.now()) {
  const end = Date.parse(session.expires_at ?? "");
  return Number.isFinite(end) && end <= now;
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** POST /api/auth/login; stores and returns the session. Throws Error with a user message. */
export async function login(username, password) {
  let resp;
  try {
    resp = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new Error(t("login.unreachable"));
  }
  if (resp.status === 401 || resp.status === 403) {
    throw new Error(t("login.wrong"));
  }
  if (resp.status === 429) throw new Error(t("login.throttled"));
  if (!resp.ok) throw new Error(t("login.failed", { status: resp.status }));
  return keep(await resp.json(), username);
}

function keep(body, username) {
  if (!body.access_token) throw new Error(t("login.noToken"));
  const session = {
    access_token: body.access_token,
    token_type: body.token_type ?? "bearer",
    username: body.username ?? username,
    role: body.role ?? "nurse",
    issued_at: new Date().toISOString(),
    expires_at: body.expires_at ?? null,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/**
 * POST /api/auth/refresh with the current (unexpired) token: a new token for the same user,
 * no password. AuthError when the server refuses (expired, disabled); Error when unreachable.
 */
export async function refreshSession(session) {
  const body = await apiFetch(session, "/api/auth/refresh", { method: "POST" });
  return keep(body, session.username);
}

/**
 * fetch() with the bearer token. Returns the parsed JSON (or text for non-JSON answers).
 * Throws AuthError on 401 and Error (with `status`) on other failures.
 */
export async function apiFetch(session, path, { method = "GET", body, accept } = {}) {
  const headers = { Authorization: `Bearer ${session.access_token}` };
  if (accept) headers.Accept = accept;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    const err = new Error(t("login.unreachable"));
    err.status = 0;
    throw err;
  }
  if (resp.status === 401) throw new AuthError(t("session.expired"));
  if (!resp.ok) {
    let detail = "";
    try {
      const j = await resp.json();
      detail = typeof j.detail === "string" ? `: ${j.detail}` : "";
    } catch {
      // not JSON
    }
    const err = new Error(`HTTP ${resp.status}${detail}`);
    err.status = resp.status;
    throw err;
  }
  const type = resp.headers.get("Content-Type") ?? "";
  if (type.includes("json")) return resp.json();
  return resp.text();
}
