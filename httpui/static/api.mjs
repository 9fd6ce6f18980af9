// The HTTP API client: the token (session storage by default, local
// storage only when "remember on this computer" is ticked), requests with
// the X-Auth-Token header, and readable errors.
import { $ } from "./dom.mjs";

const KEY = "roy_token";

// storedToken returns the token of this tab, else the remembered one.
export function storedToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "";
}

export function isRemembered() {
  return !!localStorage.getItem(KEY);
}

// saveToken keeps the token for this tab, and on this computer only when
// remember is true (the token is root-equivalent).
export function saveToken(tok, remember) {
  tok = String(tok || "").trim();
  if (tok) sessionStorage.setItem(KEY, tok); else sessionStorage.removeItem(KEY);
  if (remember && tok) localStorage.setItem(KEY, tok); else localStorage.removeItem(KEY);
}

export function explain(status, body) {
  const e = (body && body.error) || "";
  switch (status) {
    case 401: return "401 Unauthorized: the token is missing or wrong. Paste the exact token shown by the daemon (or in /etc/roy-procwatch/token) into the X-Auth-Token field.";
    case 403: return "403 Access denied: " + (e || "this action is not permitted.");
    case 404: return "404 Not found: " + (e || "no such process") + " (it may have exited).";
    case 409: return "409 Conflict: " + (e || "the PID is no longer the same process") + (body && body.unit ? " (unit " + body.unit + ")" : "");
    case 429: return "429 Too many failed attempts: wait a second.";
    default: return status + ": " + (e || "request failed");
  }
}

// api calls the daemon; it throws an Error with .status (0: unreachable)
// and .code (the API's snake_case code) on failure.
export async function api(path, opts) {
  opts = opts || {};
  const headers = { "X-Auth-Token": $("token").value.trim() };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method: opts.method || "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: "no-store",
    });
  } catch (e) {
    const err = new Error("Cannot reach the daemon: " + e.message);
    err.status = 0;
    throw err;
  }
  if (opts.raw && res.ok) return res;
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) {
    const err = new Error(explain(res.status, body));
    err.status = res.status;
    err.code = body && body.code;
    throw err;
  }
  return body;
}
