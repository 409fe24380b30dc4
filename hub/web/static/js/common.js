/**
 * Shared helpers for every tablehub page.
 *
 * - DOM building without HTML parsing: `el()` + `textContent` only, so hostile text from a
 *   diner (notes, names) always shows as text.
 * - `api()`: fetch with JSON bodies, a timeout, and one error type (`ApiError`) carrying the
 *   server's `{error, field, message}` (status 0 = the network failed).
 * - `LiveSocket`: a WebSocket that reconnects by itself with jittered exponential backoff and
 *   treats a silent connection (no message, not even a ping, for a while) as dead; it keeps the
 *   offset to the hub's clock and can hand snapshots to their own handler.
 * - `I18n`: language choice (remembered) and UI strings from i18n.js; `nameOf()` for the
 *   menu's name maps (falls back to English).
 * - Money: integer cents formatted with Intl.NumberFormat in the store currency.
 * - Staff pages (KDS, floor, admin): the not-paired panel, the header's connection state and
 *   offline banner, the lost-pairing probe, retried actions, toasts and error texts, and
 *   `AlertSound` (unlock by a tap, the "enable sound" button, short tone alerts).
 *
 * The CSP forbids inline scripts and style attributes: nothing here sets `style="…"` markup.
 */
import { LANGS, STRINGS } from './i18n.js';

// ---------------------------------------------------------------- DOM

/**
 * Build an element. `props`: `class` (string or array), `text`, `testid`, `dataset`, `on<event>`
 * listeners, `value` / `checked` / `disabled` / `hidden` as properties, anything else as an
 * attribute (`true` → empty attribute, `false`/`null`/`undefined` → skipped).
 */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  append(node, children);
  return node;
}

const DIRECT_PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'indeterminate']);

function setProps(node, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (key === 'style') throw new Error('inline style attributes are not allowed (CSP)');
    if (DIRECT_PROPS.has(key)) { node[key] = value; continue; }
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') {
      node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
    } else if (key === 'text') {
      node.textContent = String(value);
    } else if (key === 'testid') {
      node.dataset.testid = String(value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) node.dataset[k] = String(v);
    } else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Append children: nodes, strings/numbers (as text nodes), arrays (flattened); skips null/false. */
export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  return node;
}

/** Replace all children of `node`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export const $ = (sel, root = document) => root.querySelector(sel);

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  cart: ['M3 4h2l2.4 11.2a1 1 0 0 0 1 .8h8.9a1 1 0 0 0 1-.8L20 8H6.2', 'circle:9.5,20,1.4', 'circle:17,20,1.4'],
  receipt: ['M6 3h12v18l-3-2-3 2-3-2-3 2z', 'M9 8h6', 'M9 12h6', 'M9 16h3'],
  search: ['circle:11,11,6.5', 'M16 16l4.5 4.5'],
  filter: ['M4 6h16', 'M7 12h10', 'M10 18h4'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  plus: ['M12 5v14', 'M5 12h14'],
  minus: ['M5 12h14'],
  trash: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13', 'M10 11v6', 'M14 11v6'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  play: ['M8 5.5v13l10-6.5z'],
  wifiOff: ['M3 3l18 18', 'M8.5 16.5a5 5 0 0 1 7 0', 'M5 12.5a10 10 0 0 1 5-2.6', 'M14.5 10a10 10 0 0 1 4.5 2.5', 'M2 8.8a15 15 0 0 1 4.3-2.7', 'M11 5.1A15 15 0 0 1 22 8.8', 'circle:12,20,0.8'],
  sound: ['M4 9v6h4l5 4V5L8 9z', 'M16 9a4 4 0 0 1 0 6', 'M18.5 6.5a8 8 0 0 1 0 11'],
  settings: ['circle:12,12,3', 'M12 2v3', 'M12 19v3', 'M2 12h3', 'M19 12h3', 'M4.9 4.9l2.1 2.1', 'M17 17l2.1 2.1', 'M4.9 19.1L7 17', 'M17 7l2.1-2.1'],
  undo: ['M9 14L4 9l5-5', 'M4 9h11a5 5 0 0 1 0 10h-3'],
  history: ['M3 12a9 9 0 1 0 3-6.7', 'M3 4v5h5', 'M12 7v5l3 2'],
  ban: ['circle:12,12,8.5', 'M6 6l12 12'],
  clock: ['circle:12,12,8.5', 'M12 7.5V12l3 2'],
  flame: ['M12 3c1 3.5 5 5.5 5 10a5 5 0 0 1-10 0c0-2.5 1.5-4 2.5-5 .3 1.7 1 2.6 2 3 0-3 .2-5.5.5-8z'],
  alert: ['M12 3l10 18H2z', 'M12 10v5', 'circle:12,18,0.6'],
  globe: ['circle:12,12,9', 'M3 12h18', 'M12 3a14 14 0 0 1 0 18', 'M12 3a14 14 0 0 0 0 18'],
  list: ['M8 6h12', 'M8 12h12', 'M8 18h12', 'circle:4,6,0.6', 'circle:4,12,0.6', 'circle:4,18,0.6'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  printer: ['M6 9V3h12v6', 'M6 18H4v-7h16v7h-2', 'M7 14h10v7H7z'],
  refresh: ['M20 11a8 8 0 0 0-14.5-4.5L4 8', 'M4 3v5h5', 'M4 13a8 8 0 0 0 14.5 4.5L20 16', 'M20 21v-5h-5'],
  chevron: ['M9 6l6 6-6 6'],
  bell: ['M4 18h16', 'M5.5 18a6.5 6.5 0 0 1 13 0', 'M12 8.5V6', 'M10 6h4'],
  droplet: ['M12 3.5s6 6.4 6 10.9a6 6 0 0 1-12 0c0-4.5 6-10.9 6-10.9z'],
  scale: ['M4 8h16', 'M12 8V5', 'M9 5h6', 'M5 8l-1.5 12h17L19 8', 'circle:12,14.5,2.5'],
  monitor: ['M3 5h18v11H3z', 'M9 20h6', 'M12 16v4'],
  chip: ['M7 7h10v10H7z', 'M10 3v4', 'M14 3v4', 'M10 17v4', 'M14 17v4', 'M3 10h4', 'M3 14h4', 'M17 10h4', 'M17 14h4'],
  qr: ['M4 4h6v6H4z', 'M14 4h6v6h-6z', 'M4 14h6v6H4z', 'M14 14h2v2h-2z', 'M18 18h2v2h-2z', 'M14 18h2', 'M18 14h2'],
  more: ['circle:12,5,1', 'circle:12,12,1', 'circle:12,19,1'],
};

/** A small stroke icon as inline SVG (built with DOM calls, no markup parsing). */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name} ${cls}`.trim());
  for (const d of ICONS[name] || []) {
    let shape;
    if (d.startsWith('circle:')) {
      const [cx, cy, r] = d.slice(7).split(',');
      shape = document.createElementNS(SVG_NS, 'circle');
      shape.setAttribute('cx', cx); shape.setAttribute('cy', cy); shape.setAttribute('r', r);
    } else {
      shape = document.createElementNS(SVG_NS, 'path');
      shape.setAttribute('d', d);
    }
    svg.appendChild(shape);
  }
  return svg;
}

// ---------------------------------------------------------------- fetch

/** Any failed API call. `status` 0 means the request never got an answer (network, timeout). */
export class ApiError extends Error {
  constructor(status, body) {
    const b = body && typeof body === 'object' ? body : {};
    super(b.message || (status ? `HTTP ${status}` : 'network error'));
    this.name = 'ApiError';
    this.status = status;
    this.code = b.error || (status ? `http_${status}` : 'network');
    this.field = b.field ?? null;
    this.body = b; // the whole answer: some errors say more (`left` of a counted dish)
    this.retryAfter = null; // seconds, from a 429's Retry-After
  }
  get isNetwork() { return this.status === 0; }
}

/**
 * Call the hub's JSON API. `staff: true` adds `X-Requested-With: tablehub` (the session cookie
 * is HttpOnly; the page never sees a token); `headers` adds more (e.g. `If-Match`). Resolves
 * with the parsed body (`withStatus`: `{status, data}`), rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, staff = false, timeoutMs = 15000, withStatus = false, headers: extra = {} } = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (staff) headers['X-Requested-With'] = 'tablehub';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', signal: ctrl.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { error: 'network', message: String(err && err.message || err) });
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data || { message: res.statusText });
    err.retryAfter = Number(res.headers.get('Retry-After')) || null;
    throw err;
  }
  return withStatus ? { status: res.status, data } : data;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- WebSocket

/** `ws:`/`wss:` URL on this host for a path, matching the page's scheme. */
export function wsUrl(path) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

/**
 * A WebSocket that keeps itself connected. `onMessage(obj)` gets each JSON frame;
 * `onSnapshot(obj)`, when given, gets the `snapshot` frames instead (the hub sends one after
 * every connect: it replaces the page's state); `onState(state, info)` gets 'connecting' |
 * 'online' | 'offline' transitions (once each); `onRetry(failures)` is called after every failed
 * dial (1, 2, 3, … in a row), while the state stays 'offline'.
 * `serverOffset`: the hub's clock minus this one (ms), from the `server_ms` of the last snapshot
 * or ping (0 until one came), so `Date.now() + socket.serverOffset` is the hub's time.
 * Backoff: 0.5 s doubling to 15 s, with jitter; reset after a successful open. A socket that
 * stays silent for `staleMs` (the server pings every 20 s) is closed and redialled.
 */
export class LiveSocket {
  constructor(path, { onMessage, onSnapshot, onState, onRetry, minDelay = 500, maxDelay = 15000, staleMs = 50000 } = {}) {
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onSnapshot = onSnapshot || null;
    this.onState = onState || (() => {});
    this.onRetry = onRetry || (() => {});
    this.serverOffset = 0;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.staleMs = staleMs;
    this.ws = null;
    this.state = 'idle';
    this.failures = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.staleTimer = null;
    this.kick = () => { if (!this.stopped && this.state !== 'online') this.reconnectNow(); };
    this.onVisible = () => { if (document.visibilityState === 'visible') this.kick(); };
  }

  start() {
    if (!this.stopped) return this;
    this.stopped = false;
    window.addEventListener('online', this.kick);
    document.addEventListener('visibilitychange', this.onVisible);
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.kick);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    clearTimeout(this.staleTimer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    this.setState('idle');
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    if (this.ws) { const ws = this.ws; this.ws = null; try { ws.close(); } catch { /* closing anyway */ } }
    this.connect();
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state, { failures: this.failures });
  }

  connect() {
    if (this.stopped) return;
    if (this.state !== 'offline') this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.path));
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.failures = 0;
      this.armStale();
      this.setState('online');
    });
    ws.addEventListener('message', (ev) => {
      if (ws !== this.ws) return;
      this.armStale();
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg !== 'object') return;
      if ((msg.type === 'snapshot' || msg.type === 'ping') && typeof msg.server_ms === 'number') {
        this.serverOffset = msg.server_ms - Date.now();
      }
      if (msg.type === 'snapshot' && this.onSnapshot) this.onSnapshot(msg);
      else this.onMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearTimeout(this.staleTimer);
      this.scheduleRetry();
    });
    ws.addEventListener('error', () => { /* a close event follows */ });
  }

  armStale() {
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); this.scheduleRetry(); }
    }, this.staleMs);
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.failures += 1;
    this.setState('offline');
    this.onRetry(this.failures);
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.failures - 1, 10));
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}

// ---------------------------------------------------------------- storage

/** localStorage that never throws (private mode, quota); values are JSON. */
export const storage = {
  get(key, fallback = null) {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* not persisted */ }
  },
  remove(key) {
    try { localStorage.removeItem(key); } catch { /* nothing to do */ }
  },
};

// ---------------------------------------------------------------- i18n

/** The UI language for a browser language tag: zh-TW/HK/MO/Hant → zh-Hant, other zh → zh-Hans. */
export function languageFor(tag) {
  const t = String(tag || '').toLowerCase();
  if (!t.startsWith('zh')) return 'en';
  if (t.includes('hant') || /-(tw|hk|mo)\b/.test(t)) return 'zh-Hant';
  return 'zh-Hans';
}

export class I18n {
  constructor({ storageKey = 'tablehub.lang', available = LANGS } = {}) {
    this.storageKey = storageKey;
    this.available = available;
    this.listeners = [];
    const saved = storage.get(storageKey);
    this.lang = LANGS.includes(saved) ? saved : languageFor(navigator.language);
    this.applyDocumentLang();
  }

  /** A UI string with `{name}` placeholders; `{n: 1}` picks the `key_one` form when there is one. */
  t(key, vars) {
    const table = STRINGS[this.lang] || STRINGS.en;
    const one = vars && vars.n === 1 ? `${key}_one` : null;
    let s = (one && table[one]) ?? table[key];
    if (s === undefined) s = (one && STRINGS.en[one]) ?? STRINGS.en[key] ?? key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }

  /** The name map's text in the current language, falling back to English, then anything. */
  name(map) {
    if (map === null || map === undefined) return '';
    if (typeof map === 'string') return map;
    return map[this.lang] ?? map.en ?? Object.values(map)[0] ?? '';
  }

  setLang(lang) {
    if (!LANGS.includes(lang) || lang === this.lang) return;
    this.lang = lang;
    storage.set(this.storageKey, lang);
    this.applyDocumentLang();
    for (const fn of this.listeners) fn(lang);
  }

  onChange(fn) { this.listeners.push(fn); }

  applyDocumentLang() {
    document.documentElement.lang = this.lang;
    this.translateStatic(document);
  }

  /** Fill `data-i18n` (text), `data-i18n-placeholder`, `data-i18n-label` (aria-label) and
   *  `data-i18n-title` elements under `root`. */
  translateStatic(root) {
    for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = this.t(node.dataset.i18n);
    for (const node of root.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = this.t(node.dataset.i18nPlaceholder);
    for (const node of root.querySelectorAll('[data-i18n-label]')) node.setAttribute('aria-label', this.t(node.dataset.i18nLabel));
    for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = this.t(node.dataset.i18nTitle);
  }

  get locale() { return this.lang; }
}

/** The language names, each written in its own language (for switches). */
export const LANGUAGE_NAMES = { en: 'English', 'zh-Hans': '简体中文', 'zh-Hant': '繁體中文' };

// ---------------------------------------------------------------- money & time

const moneyFormats = new Map();

function moneyFormat(currency, lang, sign) {
  const key = `${currency}|${lang}|${sign}`;
  let nf = moneyFormats.get(key);
  if (!nf) {
    try {
      nf = new Intl.NumberFormat(lang, { style: 'currency', currency, signDisplay: sign });
    } catch {
      nf = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: sign });
    }
    moneyFormats.set(key, nf);
  }
  return nf;
}

/** Integer minor units (cents) as money in the store currency, e.g. 1250 → "$12.50". */
export function money(cents, currency, lang) {
  const nf = moneyFormat(currency || 'USD', lang || 'en', 'auto');
  const digits = nf.resolvedOptions().maximumFractionDigits;
  return nf.format((Number(cents) || 0) / 10 ** digits);
}

/** A price change with its sign: 100 → "+$1.00". */
export function moneyDelta(cents, currency, lang) {
  const nf = moneyFormat(currency || 'USD', lang || 'en', 'exceptZero');
  const digits = nf.resolvedOptions().maximumFractionDigits;
  return nf.format((Number(cents) || 0) / 10 ** digits);
}

/** Seconds as "m:ss" (or "h:mm:ss"). */
export function formatElapsed(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Local clock time of an ISO timestamp or epoch ms, e.g. "18:03". */
export function clockTime(value, lang) {
  const d = typeof value === 'number' ? new Date(value) : new Date(String(value || ''));
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(lang || undefined, { hour: '2-digit', minute: '2-digit' });
}

const gramFormats = new Map();

/** Grams with the language's digit grouping: 1234 → "1,234 g". */
export function grams(value, lang) {
  const key = lang || 'en';
  let nf = gramFormats.get(key);
  if (!nf) { nf = new Intl.NumberFormat(key, { maximumFractionDigits: 0 }); gramFormats.set(key, nf); }
  return `${nf.format(Number(value) || 0)} g`;
}

// ---------------------------------------------------------------- devices & printers

/** A printing failure cause (`paper_out`, `no_answer`, …) in words; unknown codes fall back to
 *  the server's message, then to the code made readable. */
export function causeText(i18n, code, message) {
  if (!code) return message || '';
  const key = `cause_${code}`;
  const s = i18n.t(key);
  return s === key ? (message || humanize(code)) : s;
}

/**
 * What is wrong with a device, from its presence and its agent's detail:
 * `{down, warn, reasons: [i18n keys]}`. A printer is down when its agent is offline, the
 * printer itself is off, out of paper or its cover is open; low paper is a warning.
 */
export function deviceProblems(device) {
  const d = (device && typeof device.detail === 'object' && device.detail) || {};
  const reasons = [];
  let down = false;
  let warn = false;
  if (device?.state && device.state !== 'online') { down = true; reasons.push('dev_agent_offline'); }
  if (d.online === false) { down = true; reasons.push('dev_printer_off'); }
  if (d.paper === 'out') { down = true; reasons.push('dev_paper_out'); }
  if (d.cover_open) { down = true; reasons.push('dev_cover_open'); }
  if (d.paper === 'low') { warn = true; reasons.push('dev_paper_low'); }
  return { down, warn, reasons };
}

/** "printer-grill-1" → "grill-1": the printer id a printer agent's device id stands for. */
export const printerIdOf = (deviceId) => String(deviceId || '').replace(/^printer-/, '');

/** Is this device a printer (by its kind, or by the `printer-` prefix of its id)? */
export const isPrinter = (device) => device?.kind === 'printer' || /^printer-/.test(String(device?.id || ''));

// ---------------------------------------------------------------- ids & text

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A random id from crypto.getRandomValues (works in non-secure contexts, unlike
 * crypto.randomUUID). 64 symbols: each byte maps without bias. 22 chars ≈ 132 bits.
 */
export function randomId(length = 22) {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += ID_ALPHABET[b & 63];
  return out;
}

/** Text folded for searching: NFKC, lower case, accents removed. */
export function fold(text) {
  return String(text || '').normalize('NFKD').replace(/\p{M}/gu, '').normalize('NFKC').toLowerCase();
}

// ---------------------------------------------------------------- staff pages

/** The URL of the pairing form, coming back to `next` (by default this page) afterwards. */
export function pairUrl(next = location.pathname + location.search) {
  // slashes stay readable (`?next=/kds/grill`); everything else is encoded
  return `/static/pair.html?next=${encodeURIComponent(next).replace(/%2F/gi, '/')}`;
}

/**
 * Replace `container` with a "This screen is not paired" panel and a link to pair it.
 * `forbidden`: the hub knows this device, but not for this page (a 403): the title says so.
 * `next`: where the pairing form comes back to (default: this page). `bodyClass`: a class the
 * page's layout wants on `<body>` from now on (e.g. `is-unpaired`).
 */
export function showNotPaired(container, i18n, { forbidden = false, next, bodyClass = null } = {}) {
  replaceChildren(container, el('section', { class: 'not-paired', role: 'alert', testid: 'not-paired' },
    el('div', { class: 'not-paired-icon' }, icon('link')),
    el('h1', { text: i18n.t(forbidden ? 'forbidden_title' : 'not_paired_title') }),
    el('p', { text: i18n.t('not_paired_text') }),
    el('a', { class: 'btn btn-primary btn-lg', href: pairUrl(next), text: i18n.t('not_paired_link') })));
  if (bodyClass) document.body.classList.add(bodyClass);
}

/**
 * A staff API call that is safe to repeat (idempotent, or carrying its own action id): GET
 * without a body, POST with one. A network failure is tried again after 0.6 s, 1.2 s, … up to
 * `attempts` tries in all, then thrown; any other failure goes to `onError(e)` first (e.g. the
 * not-paired panel for a 401) and is thrown at once.
 */
export async function staffRetry(path, body, { attempts = 3, onError = null } = {}) {
  let lastError = null;
  for (let i = 0; i < attempts; i += 1) {
    if (i) await sleep(600 * i);
    try {
      return await api(path, { method: body === undefined ? 'GET' : 'POST', body, staff: true });
    } catch (e) {
      lastError = e;
      if (!(e instanceof ApiError && e.isNetwork)) {
        if (onError) onError(e);
        throw e;
      }
    }
  }
  throw lastError;
}

/**
 * Show a LiveSocket state in a staff page's header: `#conn` gets `data-state` online|offline
 * and `#conn-text` its word (`onlineKey` while online, else "connecting…" or "offline").
 * With `banner`, also the `#offline-bar` ("offline, reconnecting…"; kept hidden while the first
 * connection is still being made, before `hadSnapshot`) and `body.is-offline`.
 * Returns false, showing nothing, when the page has no `#conn` (the not-paired panel took it).
 */
export function showConnState(state, i18n, { onlineKey = 'live', banner = true, hadSnapshot = false } = {}) {
  const online = state === 'online';
  const conn = $('#conn');
  if (!conn) return false;
  conn.dataset.state = online ? 'online' : 'offline';
  $('#conn-text').textContent = online ? i18n.t(onlineKey) : i18n.t(state === 'connecting' ? 'connecting' : 'offline');
  if (!banner) return true;
  const bar = $('#offline-bar');
  bar.hidden = online || (state === 'connecting' && !hadSnapshot);
  replaceChildren(bar, icon('wifiOff'), el('span', { text: i18n.t('offline_reconnecting') }));
  document.body.classList.toggle('is-offline', !online);
  return true;
}

/**
 * For a staff page's LiveSocket `onRetry`: a socket refused again and again may mean this
 * screen lost its pairing (a refused upgrade looks like a dead network), so after every third
 * failed dial in a row `check()` asks the API (and shows the not-paired panel on a 401/403).
 * One check at a time; showing its own failures is up to `check()`.
 */
export function pairingProbe(check) {
  let busy = false;
  return async (failures) => {
    if (failures % 3 !== 0 || busy) return;
    busy = true;
    try { await check(); } catch { /* shown by check() */ } finally { busy = false; }
  };
}

/**
 * The `toast(text, kind = 'info')` of a staff page: `text` in the `selector` element, its
 * `data-kind` ('info' | 'warn' | 'error') set, hidden again after `hideMs`; a newer toast
 * replaces the one showing.
 */
export function makeToast(selector = '#toast', hideMs = 3500) {
  let timer = null;
  return function toast(text, kind = 'info') {
    const node = $(selector);
    node.textContent = text;
    node.dataset.kind = kind;
    node.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => { node.hidden = true; }, hideMs);
  };
}

/** What a failed staff action says: "no connection" for a network failure, else "failed:" with
 *  the server's message (or `fallback`). */
export function actionErrorText(i18n, e, fallback = '') {
  return e?.isNetwork ? i18n.t('action_network') : i18n.t('action_failed', { message: e?.message || fallback });
}

/** Call `fn` every second, just after the wall clock's second turns (timers tick together). */
export function everySecond(fn) {
  setTimeout(function loop() { fn(); setTimeout(loop, 1000 - (Date.now() % 1000) + 5); }, 1000 - (Date.now() % 1000));
}

/**
 * Alert sounds for a staff screen. Browsers keep audio locked until a user gesture: `enable()`
 * makes (or resumes) the AudioContext; the "tap to enable sound" button (`button`) shows only
 * while sound is still locked. `play(tone)` plays an alert; each page has its own tones.
 */
export class AlertSound {
  constructor(i18n, { button = '#sound-btn' } = {}) {
    this.i18n = i18n;
    this.button = button;
    this.ctx = null;
    this.lastAt = 0; // when the last alert played (ms); 0 lets the next one play at once
    this.enable = this.enable.bind(this);
    this.renderButton = this.renderButton.bind(this);
  }

  /** Is sound unlocked? */
  get running() { return Boolean(this.ctx && this.ctx.state === 'running'); }

  /**
   * Where the browser lets pages play sound without a tap (the kiosk's Chromium runs with
   * --autoplay-policy=no-user-gesture-required), a new AudioContext starts running: sound is
   * on from the first alert and the button never shows. Elsewhere it starts suspended and
   * the first tap resumes it (enable()).
   */
  autostart() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC || this.ctx) return;
    if (navigator.getAutoplayPolicy && navigator.getAutoplayPolicy('audiocontext') === 'disallowed') return;
    try { this.ctx = new AC(); } catch { return; }
    this.ctx.addEventListener?.('statechange', this.renderButton);
    this.renderButton();
  }

  enable() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    if (!this.ctx) this.ctx = new AC();
    this.ctx.resume().then(this.renderButton, this.renderButton);
    this.renderButton();
  }

  renderButton() {
    const btn = $(this.button);
    if (!btn) return;
    btn.hidden = this.running;
    const label = this.i18n.t('tap_enable_sound');
    btn.title = label;
    replaceChildren(btn, icon('sound'), el('span', { class: 'kbtn-label', text: label }));
  }

  /**
   * The button enables sound, and so does any tap while sound is locked (any touch is a user
   * gesture). That listener is on the document, so it runs after the tap has done its job:
   * hiding the button earlier would shift the layout under the finger and swallow the first
   * tap (e.g. on Acknowledge).
   */
  wire() {
    this.autostart();
    $(this.button).addEventListener('click', this.enable);
    document.addEventListener('click', () => { if (!this.running) this.enable(); });
  }

  /**
   * Play `tone.notes`, each `[at, freq, type, peak]` (start in s, Hz, oscillator type, gain):
   * a rise to `peak` in `attack` s, a fade out by `decay` s, stopped at `length` s; then
   * `navigator.vibrate(tone.vibrate)` where there is one. Nothing plays while sound is locked
   * or within `gapMs` of the last alert (a burst of news makes one sound). True if it played.
   */
  play({ notes, attack, decay, length, gapMs = 0, vibrate = null }) {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running' || Date.now() - this.lastAt < gapMs) return false;
    this.lastAt = Date.now();
    const start = ctx.currentTime + 0.01;
    for (const [at, freq, type, peak] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + at);
      gain.gain.exponentialRampToValueAtTime(peak, start + at + attack);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + at + decay);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + at);
      osc.stop(start + at + length);
    }
    if (vibrate && navigator.vibrate) navigator.vibrate(vibrate);
    return true;
  }
}

/** A `next` path is only ever a local absolute path (no scheme, no `//host`). */
export function safeNext(value, fallback = '/admin') {
  const v = String(value || '');
  return /^\/(?![/\\])[^\s]*$/.test(v) ? v : fallback;
}

/** "tree_nuts" → "Tree nuts": a readable label for an id when no name map exists. */
export function humanize(id) {
  const s = String(id || '').replace(/[_-]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}

/**
 * The sold-out ("86") list shared by the KDS and admin pages: items grouped (by `groupBy(item)`
 * or by category), each with a toggle showing its state. `onToggle(item)` does the call.
 */
/** The warning level a count gets from the screens: the item's own, else a fifth of it. */
export function lowAt(it, count) {
  if (count === null) return null;
  return typeof it.low_at === 'number' ? it.low_at : Math.max(1, Math.ceil(count / 5));
}

/** A counted item's portions left (marked when running low), and, for those who may set it,
 * a box to count it: empty stops counting. */
function stockCells(it, i18n, onCount) {
  const counted = typeof it.stock_left === 'number';
  const left = counted ? el('span', {
    class: ['avail-left', it.stock_low && 'is-low'], testid: `left-${it.id}`,
    text: it.stock_low ? `${i18n.t('running_low')} · ${i18n.t('n_left', { n: it.stock_left })}` : i18n.t('n_left', { n: it.stock_left }),
  }) : null;
  if (!onCount) return [left];
  const box = el('input', {
    type: 'number', min: '0', max: '100000', inputmode: 'numeric', class: 'avail-count',
    testid: `count-${it.id}`, placeholder: i18n.t('stock_count'), 'aria-label': `${i18n.t('stock_count')}: ${i18n.name(it.name) || it.id}`,
    value: counted ? String(it.stock_left) : '',
  });
  box.addEventListener('change', () => {
    const raw = box.value.trim();
    onCount(it, raw === '' ? null : Number(raw));
  });
  return [left, box];
}

export function availabilityList(items, { i18n, groupBy = null, onToggle, onCount = null }) {
  const groups = new Map();
  for (const it of items) {
    const g = groupBy ? groupBy(it) : humanize(it.category);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(it);
  }
  if (!items.length) return el('p', { class: 'drawer-empty', text: i18n.t('no_items') });
  return el('div', { class: 'avail-groups', testid: 'availability-list' }, [...groups].map(([name, list]) => el('section', { class: 'avail-group' },
    el('h3', { class: 'avail-group-title', text: name }),
    el('ul', { class: 'avail-list' }, list.map((it) => el('li', {
      class: ['avail-row', !it.available && 'is-out'], testid: `avail-row-${it.id}`,
    },
    el('span', { class: 'avail-name', text: i18n.name(it.name) || it.id }),
    ...stockCells(it, i18n, onCount),
    el('button', {
      type: 'button',
      class: ['avail-toggle', it.available ? 'is-available' : 'is-sold-out'],
      testid: `avail-${it.id}`,
      dataset: { available: it.available ? 'true' : 'false' },
      'aria-pressed': it.available ? 'false' : 'true',
      title: it.available ? i18n.t('mark_sold_out') : i18n.t('mark_available'),
      onclick: () => onToggle(it),
    }, el('span', { class: 'avail-dot', 'aria-hidden': 'true' }), el('span', { text: it.available ? i18n.t('available') : i18n.t('sold_out') }))))))));
}
