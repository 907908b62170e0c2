// The page's only way to the service: every call adds the bearer token, counts towards the
// busy state (body[data-busy]) and turns a problem+json answer into words for #toast.
import { t } from './i18n.js';

const TOKEN_KEY = 'safegrid.token';
let token = sessionStorage.getItem(TOKEN_KEY) || '';
let inflight = 0;

export function getToken() {
  return token;
}

export function setToken(tok) {
  token = tok || '';
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function busy(delta) {
  inflight = Math.max(0, inflight + delta);
  document.body.dataset.busy = inflight > 0 ? '1' : '0';
}

// api fetches a same-origin path with the token and returns the Response as it is.
export async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  if (token && !headers.has('Authorization')) headers.set('Authorization', 'Bearer ' + token);
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Blob) && !(body instanceof FormData)) {
    body = JSON.stringify(body);
    headers.set('Content-Type', 'application/json');
  }
  busy(1);
  try {
    return await fetch(path, { ...opts, headers, body });
  } finally {
    busy(-1);
  }
}

// ApiError is a refused call, with the server's problem details.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

// problemText puts a problem+json answer in words: title, detail and each refused field.
export function problemText(status, p) {
  if (!p || typeof p !== 'object') return `${t('server_error')} (${status})`;
  let s = p.title || `${t('server_error')} (${status})`;
  if (p.detail) s += ': ' + p.detail;
  if (Array.isArray(p.errors) && p.errors.length) {
    // Each refused field once; the detail often names the first already.
    const more = p.errors.map((e) => (e.field ? `${e.field}: ${e.reason}` : e.reason)).filter((x) => !s.includes(x));
    if (more.length) s += ' — ' + more.join('; ');
  }
  return s;
}

async function readProblem(resp) {
  const text = await resp.text();
  try {
    return JSON.parse(text);
  } catch {
    return { title: `${resp.status} ${resp.statusText}`, detail: text.slice(0, 300) };
  }
}

// call is api() for callers that want the body: JSON (or the Response with raw), or an
// ApiError shown in #toast (unless quiet). The page stays busy until the body is read, so
// that whoever waits for it to settle (the browser tests) sees what the answer drew.
export async function call(path, opts = {}) {
  busy(1);
  try {
    return await callOnce(path, opts);
  } finally {
    busy(-1);
  }
}

async function callOnce(path, opts) {
  let resp;
  try {
    resp = await api(path, opts);
  } catch (err) {
    const e = new ApiError(0, { title: t('network_error'), detail: String(err.message || err) });
    if (!opts.quiet) toast(e.message, 'error');
    throw e;
  }
  if (!resp.ok) {
    const e = new ApiError(resp.status, await readProblem(resp));
    if (resp.status === 401 && onUnauthorized && !opts.noLogout) onUnauthorized();
    if (!opts.quiet) toast(e.message, 'error');
    throw e;
  }
  if (opts.raw) return resp;
  if (resp.status === 204) return null;
  return resp.json();
}

let onUnauthorized = null;
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

let toastTimer = 0;
// toast shows a message: an error stays until dismissed or replaced, others fade.
export function toast(msg, kind = 'info') {
  const el = document.getElementById('toast');
  clearTimeout(toastTimer);
  el.textContent = msg;
  el.dataset.kind = kind;
  el.hidden = false;
  if (kind !== 'error') {
    toastTimer = setTimeout(clearToast, 4000);
  }
}

export function clearToast() {
  const el = document.getElementById('toast');
  el.hidden = true;
  el.textContent = '';
  el.dataset.kind = '';
}

// qs builds a query string from an object, skipping empty values; arrays repeat the key.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

// escapeHTML makes server text safe to put in markup.
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// download fetches path (an export) and saves its body under the server's file name
// (Content-Disposition) or fallback. It returns the Response, or null after showing a
// refusal in #toast.
export async function download(path, fallback) {
  let resp;
  try {
    resp = await api(path);
  } catch (err) {
    toast(`${t('network_error')}: ${err.message}`, 'error');
    return null;
  }
  if (!resp.ok) {
    toast(new ApiError(resp.status, await readProblem(resp)).message, 'error');
    return null;
  }
  busy(1);
  try {
    const blob = await resp.blob();
    const m = /filename="?([^";]+)"?/.exec(resp.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = m ? m[1] : fallback;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } finally {
    busy(-1);
  }
  return resp;
}
