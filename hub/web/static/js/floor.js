/**
 * The floor view at /floor (waiters' phones, a tablet at the host stand): open table calls from
 * /ws/floor, newest urgent first, with acknowledge / done; device presence and live scale
 * weights. A new call chimes (once sound is unlocked by a tap).
 *
 * State comes from the socket: a snapshot replaces everything (after every reconnect), `call`,
 * `device` and `weight` messages change one thing. Every string is set with textContent.
 */
import {
  $, AlertSound, ApiError, I18n, LANGUAGE_NAMES, LiveSocket, actionErrorText, api, clockTime,
  deviceProblems, el, everySecond, formatElapsed, grams, icon, isPrinter, makeToast, pairingProbe,
  replaceChildren, showConnState, showNotPaired, staffRetry,
} from './common.js';
import * as book from './floor-book.js';
import * as tables from './floor-tables.js';
import { LANGS } from './i18n.js';

const KIND_ICONS = { waiter: 'bell', bill: 'receipt', water: 'droplet' };
const FRESH_MS = 8000;

const i18n = new I18n({ storageKey: 'tablehub.staff.lang' });
const t = (key, vars) => i18n.t(key, vars);

const S = {
  calls: new Map(),     // active calls (open, acked) by id
  devices: new Map(),
  weights: new Map(),   // scale id -> {grams, stable}
  tables: new Map(),    // table id -> name
  escalateAfter: 120,
  hadSnapshot: false,
  fresh: new Map(),     // call id -> fresh until (ms)
  busy: new Set(),
  escalationChimed: new Set(),
  connState: 'connecting',
  paired: true,
};
let socket = null;
const sound = new AlertSound(i18n);
const toast = makeToast();

const now = () => Date.now() + (socket ? socket.serverOffset : 0);
const tableName = (id) => S.tables.get(id) || id || '';
const kindLabel = (kind) => t(`call_kind_${kind}`) === `call_kind_${kind}` ? String(kind || '') : t(`call_kind_${kind}`);
const elapsedS = (call) => (now() - (Number(call.opened_ms) || Date.parse(call.opened_at) || now())) / 1000;
/** Escalated: the hub says so, or an open call is older than the store's limit. */
const isEscalated = (call) => Boolean(call.escalated) || (call.state === 'open' && elapsedS(call) >= S.escalateAfter);
const urgency = (call) => {
  if (call.state === 'open') return isEscalated(call) ? 0 : 1;
  return 2;
};
/** Most urgent first, then the longest waiting: a call open 1:50 comes before one 7 s old. */
const sortedCalls = () => [...S.calls.values()].sort((a, b) => urgency(a) - urgency(b)
  || (Number(a.opened_ms) || 0) - (Number(b.opened_ms) || 0) || a.id - b.id);

function notPaired(forbidden = false) {
  if (!S.paired) return;
  S.paired = false;
  socket?.stop();
  // this page lives at /floor, whatever path it was opened by
  showNotPaired($('#app'), i18n, { forbidden, next: '/floor', bodyClass: 'is-unpaired' });
}

/** 401 → not paired; 403 `forbidden` → paired, but not for the floor. */
function onAuthError(e) {
  if (e instanceof ApiError && e.status === 401) notPaired();
  else if (e instanceof ApiError && e.status === 403 && e.code === 'forbidden') notPaired(true);
}

/** A staff call; 401 → not paired, network failures retried (ack and close are idempotent enough:
 *  a repeat answers 409, which the live update already explains). */
const staffCall = (path, body) => staffRetry(path, body, { onError: onAuthError });

// ---------------------------------------------------------------- sound

/** A soft three-note chime for a new call, and a sharper double tone for an escalation. */
const CHIME = {
  notes: [[0, 784, 'sine', 0.3], [0.14, 988, 'sine', 0.3], [0.28, 1319, 'sine', 0.3]],
  attack: 0.015, decay: 0.45, length: 0.5, gapMs: 700, vibrate: [120, 60, 120],
};
const URGENT_CHIME = {
  notes: [[0, 1046, 'square', 0.12], [0.16, 1046, 'square', 0.12], [0.32, 1397, 'square', 0.12]],
  attack: 0.015, decay: 0.13, length: 0.5, gapMs: 700, vibrate: [200, 80, 200, 80, 200],
};
const chime = (urgent = false) => sound.play(urgent ? URGENT_CHIME : CHIME);

/** One urgent chime per call when it escalates (seen by this page or told by the hub). */
function escalationAlarm(call) {
  if (S.escalationChimed.has(call.id)) return;
  S.escalationChimed.add(call.id);
  if (S.escalationChimed.size > 200) S.escalationChimed = new Set([...S.escalationChimed].slice(-100));
  chime(true);
}

// ---------------------------------------------------------------- state

function markFresh(id) {
  const t0 = Date.now();
  for (const [key, until] of S.fresh) if (until < t0) S.fresh.delete(key);
  S.fresh.set(id, t0 + FRESH_MS);
}

function onSnapshot(msg) {
  if (Array.isArray(msg.tables)) S.tables = new Map(msg.tables.map((tb) => [tb.id, tb.name]));
  if (Number(msg.escalate_after_s) > 0) S.escalateAfter = Number(msg.escalate_after_s);
  const before = new Set(S.calls.keys());
  const calls = (msg.calls || []).filter((c) => c.state !== 'closed');
  S.calls = new Map(calls.map((c) => [c.id, c]));
  S.devices = new Map((msg.devices || []).map((d) => [d.id, d]));
  S.weights = new Map(Object.entries(msg.weights || {}).map(([k, v]) => [k, { grams: v.grams, stable: Boolean(v.stable) }]));
  if (S.hadSnapshot) {
    const added = calls.filter((c) => !before.has(c.id) && c.state === 'open');
    for (const c of added) markFresh(c.id);
    if (added.length) chime(added.some((c) => c.escalated));
  }
  S.hadSnapshot = true;
  renderAll();
}

function onCall(call) {
  const prev = S.calls.get(call.id);
  if (call.state === 'closed') {
    S.calls.delete(call.id);
  } else {
    S.calls.set(call.id, call);
    if (!prev && call.state === 'open') { markFresh(call.id); chime(call.escalated); }
    else if (prev && call.escalated && !prev.escalated && call.state === 'open') escalationAlarm(call);
  }
  renderCalls();
}

function onMessage(msg) {
  tables.onLive(msg);
  book.onLive(msg);
  if (msg.type === 'call' && msg.call) onCall(msg.call);
  else if (msg.type === 'device' && msg.device) {
    if (msg.device.state === 'forgotten') S.devices.delete(msg.device.id);
    else S.devices.set(msg.device.id, msg.device);
    renderDevices();
  }
  else if (msg.type === 'weight' && msg.scale) {
    S.weights.set(msg.scale, { grams: msg.grams, stable: Boolean(msg.stable) });
    updateWeight(msg.scale);
  }
}

const renderConn = () => showConnState(S.connState, i18n, { onlineKey: 'live', hadSnapshot: S.hadSnapshot });

const probeOnFailures = pairingProbe(probe);
function onConnState(state) {
  S.connState = state;
  renderConn();
}

async function probe() {
  try {
    await api('/api/v1/calls', { staff: true, timeoutMs: 8000 });
    return true;
  } catch (e) {
    if (e.status === 401) { notPaired(); return false; }
    if (e.status === 403) { notPaired(true); return false; }
    return true; // offline: the socket keeps trying
  }
}

// ---------------------------------------------------------------- actions

async function act(call, how) {
  const key = `${how}:${call.id}`;
  if (S.busy.has(key)) return;
  S.busy.add(key);
  renderCalls();
  try {
    const res = await staffCall(`/api/v1/calls/${encodeURIComponent(call.id)}/${how}`, {});
    if (res && res.id !== undefined) onCall(res);
    if (how === 'close') toast(t('call_done_toast', { table: tableName(call.table) }));
  } catch (e) {
    if (e?.status === 401 || (e?.status === 403 && e.code === 'forbidden')) return;
    if (e?.code === 'conflict') toast(t('call_conflict'), 'warn');
    else if (e?.code === 'not_found') { S.calls.delete(call.id); toast(t('call_conflict'), 'warn'); }
    else toast(actionErrorText(i18n, e), 'error');
  } finally {
    S.busy.delete(key);
    renderCalls();
  }
}

// ---------------------------------------------------------------- rendering: calls

const cardCache = new Map();

function renderAll() {
  renderHeader();
  renderCalls();
  renderDevices();
}

function renderHeader() {
  document.title = `${t('floor')} · tablehub`;
  replaceChildren($('#lang-icon'), icon('globe'));
  $('#escalate-hint').textContent = t('escalate_hint', { min: formatElapsed(S.escalateAfter) });
  sound.renderButton();
}

function renderCount() {
  const open = [...S.calls.values()].filter((c) => c.state === 'open').length;
  const node = $('#call-count');
  node.textContent = S.hadSnapshot ? t('calls_waiting', { n: open }) : '';
  node.classList.toggle('is-hot', open > 0);
  document.title = open ? `(${open}) ${t('floor')} · tablehub` : `${t('floor')} · tablehub`;
}

function renderCalls() {
  const list = $('#calls');
  if (!list) return;
  const calls = sortedCalls();
  const cards = calls.map(callCard);
  if (!cards.length) {
    cards.push(el('li', { class: 'calls-empty', testid: 'calls-empty' },
      el('span', { class: 'calls-empty-icon' }, icon('check')),
      el('p', { class: 'calls-empty-title', text: S.hadSnapshot ? t('no_calls') : t('loading') }),
      S.hadSnapshot ? el('p', { class: 'calls-empty-text', text: t('no_calls_text') }) : null));
  }
  const same = cards.length === list.children.length && cards.every((c, i) => c === list.children[i]);
  if (!same) replaceChildren(list, cards);
  if (cardCache.size > cards.length + 50) {
    const live = new Set(cards);
    for (const [key, hit] of cardCache) if (!live.has(hit.node)) cardCache.delete(key);
  }
  renderCount();
  tick();
}

function callCard(call) {
  const esc = isEscalated(call);
  const sig = JSON.stringify([i18n.lang, call, esc, tableName(call.table), S.busy.has(`ack:${call.id}`), S.busy.has(`close:${call.id}`)]);
  const hit = cardCache.get(call.id);
  if (hit && hit.sig === sig) return hit.node;
  const node = buildCall(call, esc);
  cardCache.set(call.id, { sig, node });
  return node;
}

function buildCall(call, esc) {
  const acked = call.state === 'acked';
  const acking = S.busy.has(`ack:${call.id}`);
  const closing = S.busy.has(`close:${call.id}`);
  const fresh = (S.fresh.get(call.id) || 0) > Date.now();
  const source = String(call.source || '').startsWith('button') ? t('call_from_button') : t('call_from_phone');
  return el('li', {
    class: ['call', `kind-${call.kind}`, `state-${call.state}`, esc && 'is-escalated', fresh && 'is-fresh'],
    testid: `call-${call.id}`,
    dataset: { state: call.state, escalated: esc ? 'true' : 'false', opened: Number(call.opened_ms) || Date.parse(call.opened_at) || now(), id: call.id },
  },
  el('div', { class: 'call-top' },
    el('span', { class: 'call-icon', 'aria-hidden': 'true' }, icon(KIND_ICONS[call.kind] || 'bell')),
    el('div', { class: 'call-main' },
      el('div', { class: 'call-table', text: tableName(call.table) }),
      el('div', { class: 'call-kind' },
        el('span', { class: 'call-kind-label', text: kindLabel(call.kind) }),
        el('span', { class: 'call-state-tag', text: acked ? t('call_acked') : t('call_new') }))),
    el('div', { class: 'call-time' },
      el('span', { class: 'call-elapsed', testid: `waited-${call.id}` }),
      el('span', { class: 'call-meta', text: `${source} · ${clockTime(Number(call.opened_ms) || call.opened_at, i18n.lang)}` }))),
  esc ? el('div', { class: 'call-escalated', testid: `escalated-${call.id}` },
    icon('alert'), el('span', { text: t('escalated') })) : null,
  el('div', { class: 'call-actions' },
    el('button', {
      type: 'button', class: ['fbtn', acked ? 'fbtn-done' : 'fbtn-primary'], testid: `ack-${call.id}`,
      disabled: acked || acking || closing, 'aria-pressed': acked ? 'true' : 'false',
      onclick: () => act(call, 'ack'),
    }, icon(acked ? 'check' : 'bell'), el('span', { text: acked ? t('call_acked') : (acking ? t('sending') : t('acknowledge')) })),
    el('button', {
      type: 'button', class: ['fbtn', acked ? 'fbtn-primary fbtn-ok' : 'fbtn-secondary'], testid: `close-${call.id}`,
      disabled: closing,
      onclick: () => act(call, 'close'),
    }, icon('check'), el('span', { text: closing ? t('sending') : t('call_done') }))));
}

// ---------------------------------------------------------------- rendering: devices & weights

const sinceText = (iso) => {
  const time = clockTime(iso, i18n.lang);
  return time ? t('since', { time }) : '';
};

function deviceKindLabel(d) {
  if (isPrinter(d)) return t('kind_printer');
  const key = `kind_${d.kind}`;
  const s = t(key);
  return s === key ? (d.kind || '') : s;
}

function deviceIcon(d) {
  if (isPrinter(d)) return 'printer';
  if (d.kind === 'scale') return 'scale';
  if (d.kind === 'screen' || d.kind === 'kds') return 'monitor';
  if (['button', 'buttons', 'call_button'].includes(d.kind) || /button/.test(String(d.id))) return 'bell';
  return 'chip';
}

function deviceChip(d) {
  const p = deviceProblems(d);
  const online = d.state === 'online';
  const status = !online
    ? [t('offline'), sinceText(d.changed_at)].filter(Boolean).join(' · ')
    : (p.reasons.length ? p.reasons.map((r) => t(r)).join(' · ') : t('online'));
  return el('li', {
    class: ['chip-dev', !online ? 'is-offline' : (p.down ? 'is-down' : (p.warn ? 'is-warn' : 'is-ok'))],
    testid: `device-${d.id}`,
    dataset: { state: d.state || 'unknown', kind: d.kind || '' },
    title: d.seen_at ? t('last_seen', { time: clockTime(d.seen_at, i18n.lang) }) : null,
  },
  el('span', { class: 'chip-dev-icon' }, icon(deviceIcon(d))),
  el('span', { class: 'chip-dev-main' },
    el('span', { class: 'chip-dev-name', text: d.id }),
    el('span', { class: 'chip-dev-status', text: status })),
  el('span', { class: 'chip-dev-dot', 'aria-hidden': 'true' }));
}

function weightChip(scale) {
  const w = S.weights.get(scale);
  const device = S.devices.get(`scale-${scale}`);
  if (device && device.state !== 'online') return deviceChip(device); // its last weight is stale
  return el('li', {
    class: ['chip-dev chip-weight', w.stable ? 'is-stable' : 'is-settling'],
    testid: `weight-${scale}`,
    dataset: { stable: w.stable ? 'true' : 'false', grams: w.grams },
  },
  el('span', { class: 'chip-dev-icon' }, icon('scale')),
  el('span', { class: 'chip-dev-main' },
    el('span', { class: 'chip-dev-name', text: t('scale_name', { id: scale }) }),
    el('span', { class: 'chip-weight-value' },
      el('strong', { class: 'weight-grams', text: grams(w.grams, i18n.lang) }),
      el('span', { class: 'weight-stable', text: w.stable ? `✓ ${t('stable')}` : t('settling') }))));
}

function updateWeight(scale) {
  const strip = $('#device-strip');
  const old = strip && [...strip.children].find((n) => n.dataset.testid === `weight-${scale}`);
  if (old) old.replaceWith(weightChip(scale));
  else renderDevices();
}

function renderDevices() {
  const strip = $('#device-strip');
  if (!strip) return;
  // what needs someone first: offline and failing devices, then the live weights, then the rest
  const rank = (d) => (d.state !== 'online' ? 0 : deviceProblems(d).down ? 1 : deviceProblems(d).warn ? 3 : 4);
  // a scale with a live weight is one card (its weight), not also a `scale-<id>` device card
  const weighed = new Set([...S.weights.keys()].map((id) => `scale-${id}`));
  const devices = [...S.devices.values()].filter((d) => !weighed.has(d.id))
    .sort((a, b) => rank(a) - rank(b) || String(a.id).localeCompare(String(b.id)));
  const chips = [
    ...devices.filter((d) => rank(d) < 2).map(deviceChip),
    ...[...S.weights.keys()].sort().map(weightChip),
    ...devices.filter((d) => rank(d) >= 2).map(deviceChip),
  ];
  replaceChildren(strip, chips.length ? chips : el('li', { class: 'strip-empty', text: S.hadSnapshot ? t('no_devices') : t('loading') }));
  const down = devices.filter((d) => d.state !== 'online' || deviceProblems(d).down).length;
  $('#devices-title').textContent = down ? `${t('devices')} · ${t('n_down', { n: down })}` : t('devices');
  $('#devices-title').classList.toggle('is-bad', down > 0);
}

// ---------------------------------------------------------------- timers

function tick() {
  const list = $('#calls');
  if (!list) return;
  let resort = false;
  for (const node of list.children) {
    if (!node.dataset.id) continue;
    const call = S.calls.get(Number(node.dataset.id));
    if (!call) continue;
    const seconds = elapsedS(call);
    const elapsed = node.querySelector('.call-elapsed');
    if (elapsed) elapsed.textContent = formatElapsed(seconds);
    const esc = isEscalated(call);
    if ((node.dataset.escalated === 'true') !== esc) resort = true;
    if (node.classList.contains('is-fresh') && !((S.fresh.get(call.id) || 0) > Date.now())) node.classList.remove('is-fresh');
  }
  if (resort) {
    for (const c of S.calls.values()) if (c.state === 'open' && isEscalated(c)) escalationAlarm(c);
    renderCalls();
  }
}

// ---------------------------------------------------------------- start

/** The tabs: table calls, tables with their checks (`#tables`), the host stand's book
 * (`#book`). */
function showTab(name) {
  const views = { calls: '#calls-view', tables: '#tables-view', book: '#book-view' };
  for (const [tab, view] of Object.entries(views)) {
    const on = tab === name;
    $(view).hidden = !on;
    $(`#tab-${tab}`).classList.toggle('is-on', on);
    $(`#tab-${tab}`).setAttribute('aria-selected', on ? 'true' : 'false');
  }
  document.body.classList.toggle('is-tables', name === 'tables');
  history.replaceState(null, '', name === 'calls' ? location.pathname + location.search : `#${name}`);
  tables.show(name === 'tables');
  book.show(name === 'book');
}

function wire() {
  tables.mountTables({ i18n, toast, onAuthError });
  book.mountBook({ i18n, toast, onAuthError });
  $('#tab-calls').addEventListener('click', () => showTab('calls'));
  $('#tab-tables').addEventListener('click', () => showTab('tables'));
  $('#tab-book').addEventListener('click', () => showTab('book'));
  const sel = $('#floor-lang');
  for (const code of LANGS) sel.append(el('option', { value: code, text: LANGUAGE_NAMES[code], selected: code === i18n.lang }));
  sel.addEventListener('change', () => i18n.setLang(sel.value));
  i18n.onChange(() => { cardCache.clear(); renderAll(); renderConn(); });
  sound.wire();
  renderAll();
  renderConn();
  everySecond(tick);
}

async function start() {
  wire();
  if (!(await probe())) return;
  if (location.hash === '#tables') showTab('tables');
  if (location.hash === '#book') showTab('book');
  socket = new LiveSocket('/ws/floor', { onSnapshot, onMessage, onState: onConnState, onRetry: probeOnFailures }).start();
}

start();
