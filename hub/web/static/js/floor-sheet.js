/**
 * The floor view's check sheet and what its views share: the page context, the tables and the
 * open check (state `S`), the staff API calls (each user action carries one action id, sent
 * again on retry, so a retry never does anything twice), the sheet's stack of views, and how an
 * API error `{error, field}` is shown next to the field it names.
 */
import { $, api, ApiError, el, icon, money, moneyDelta, replaceChildren, sleep } from './common.js';
import { isWeighed, MAX_QTY } from './menu-picker.js';

export const MAX_PIN = 8;
export const MAX_PARTS = 20;
export const MAX_UNITS_SHOWN = 12; // a line with more units is split as a whole
export const POLL_MS = 15000;
export const RETRY_DELAYS_MS = [0, 700, 1500];
/** Reasons offered when the store configured none: sent in English so reports group them. */
export const DEFAULT_REASONS = [
  ['mistake', 'Entered by mistake'],
  ['guest', 'Guest changed their mind'],
  ['quality', 'Quality problem'],
  ['wait', 'Waited too long'],
];

export let ctx = null; // {i18n, toast, onAuthError}
export const t = (key, vars) => ctx.i18n.t(key, vars);

export const S = {
  tables: [],
  reasons: [],
  currency: null,
  loaded: false,
  visible: false,
  menu: null,                 // {items, categories, labels} for staff orders
  view: null,                 // the sheet's view stack (top is shown)
  stack: [],
  check: null,                // the open table's check
  busy: false,
};

export const fmt = (cents) => money(cents, S.currency, ctx.i18n.lang);
export const fmtDelta = (cents) => moneyDelta(cents, S.currency, ctx.i18n.lang);
export const tableOf = (id) => S.tables.find((tb) => tb.id === id);
export const tableName = (id) => tableOf(id)?.name || id || '';
export const lineLeft = (l) => Math.max(0, (Number(l.qty) || 0) - (Number(l.void_qty) || 0));
export const lineName = (l) => ctx.i18n.name(l.name) || l.item;

// ---------------------------------------------------------------- API

/** A staff POST carrying its own action id: network failures are tried again with the same body. */
export async function post(path, body) {
  let last = null;
  for (const delay of RETRY_DELAYS_MS) {
    if (delay) await sleep(delay);
    try {
      return await api(path, { method: 'POST', body, staff: true });
    } catch (e) {
      last = e instanceof ApiError ? e : new ApiError(0, { message: String(e) });
      if (!(last.isNetwork || [502, 503, 504].includes(last.status))) break;
    }
  }
  authError(last);
  throw last;
}

/** A 401, or a 403 that names no field, is about this screen's pairing; a 403 naming a field
 *  (the manager PIN) is the action's own refusal and stays on the sheet. */
export function authError(e) {
  if (e?.status === 403 && e.field) return;
  ctx.onAuthError(e);
}

export async function loadTables() {
  try {
    const data = await api('/api/v1/floor/tables', { staff: true, timeoutMs: 8000 });
    S.tables = Array.isArray(data?.tables) ? data.tables : [];
    if (typeof data?.currency === 'string') S.currency = data.currency;
    if (Array.isArray(data?.void_reasons)) S.reasons = data.void_reasons.map(String).filter(Boolean);
    S.loaded = true;
  } catch (e) {
    authError(e);
    if (!S.loaded) S.loadError = true;
  }
  hooks.tablesChanged();
}

export async function loadCheck(tableId) {
  const check = await api(`/api/v1/tables/${encodeURIComponent(tableId)}/check`, { staff: true, timeoutMs: 8000 });
  if (typeof check?.currency === 'string') S.currency = check.currency;
  return check;
}

export async function loadMenu() {
  if (S.menu) return S.menu;
  const data = await api('/api/v1/items', { staff: true });
  const items = (data?.items || []).map((it) => ({ ...it, modifier_groups: it.modifier_groups || [], available: it.available !== false }));
  const seen = new Map();
  for (const it of items) if (!seen.has(it.category)) seen.set(it.category, { id: it.category, name: { en: humanCategory(it.category) } });
  S.menu = { items: new Map(items.map((it) => [it.id, it])), list: items, categories: [...seen.values()], labels: data?.labels || {} };
  return S.menu;
}

export const humanCategory = (id) => String(id || '').replace(/[-_]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

// ---------------------------------------------------------------- the sheet (a stack of views)

export function sheetNodes() {
  let layer = $('#ft-layer');
  if (layer) return layer;
  layer = el('div', { class: 'sheet-layer ft-layer', id: 'ft-layer', 'aria-hidden': 'true' },
    el('div', { class: 'sheet-backdrop', onclick: closeAll }),
    el('section', { class: 'sheet ft-sheet', id: 'ft-sheet', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'ft-title', tabindex: '-1' },
      el('header', { class: 'sheet-head' },
        el('button', { type: 'button', class: 'icon-btn ft-back', id: 'ft-back', testid: 'sheet-back', 'aria-label': t('back'), onclick: back }, icon('undo')),
        el('h2', { class: 'sheet-title', id: 'ft-title' }),
        el('button', { type: 'button', class: 'icon-btn sheet-close', testid: 'sheet-close', 'aria-label': t('close'), onclick: closeAll }, icon('close'))),
      el('div', { class: 'sheet-body', id: 'ft-body' }),
      el('footer', { class: 'sheet-foot', id: 'ft-foot' })));
  document.body.append(layer);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && S.view) back(); });
  return layer;
}

export function push(kind, data = {}) {
  if (S.view) S.stack.push(S.view);
  S.view = { kind, errors: {}, ...data };
  renderView();
  const layer = sheetNodes();
  layer.classList.add('is-open');
  layer.setAttribute('aria-hidden', 'false');
  document.body.classList.add('has-sheet');
  $('#ft-sheet').dataset.kind = kind;
  $('#ft-body').scrollTop = 0;
}

/** Replace the top view (same place in the stack). */
export function swap(kind, data = {}) {
  S.view = { kind, errors: {}, ...data };
  $('#ft-sheet').dataset.kind = kind;
  renderView();
}

export function back() {
  if (S.busy) return;
  if (!S.stack.length) { closeAll(); return; }
  S.view = S.stack.pop();
  $('#ft-sheet').dataset.kind = S.view.kind;
  renderView();
}

export function closeAll() {
  if (S.busy) return;
  S.view = null;
  S.stack = [];
  S.check = null;
  const layer = $('#ft-layer');
  if (!layer) return;
  layer.classList.remove('is-open');
  layer.setAttribute('aria-hidden', 'true');
  document.body.classList.remove('has-sheet');
  replaceChildren($('#ft-body'));
  replaceChildren($('#ft-foot'));
}

export const VIEWS = {};

export function renderView() {
  if (!S.view) return;
  sheetNodes();
  $('#ft-back').hidden = S.stack.length === 0;
  const body = $('#ft-body');
  const scroll = body.scrollTop;
  VIEWS[S.view.kind](S.view);
  body.scrollTop = scroll;
}

export function setBusy(on) {
  S.busy = on;
  renderView();
}

/** The API's error for a field, shown next to it. */
export function fieldError(view, field) {
  const msg = view.errors?.[field];
  return el('p', { class: 'form-error ft-error', role: 'alert', testid: `error-${field}`, text: msg || '', hidden: !msg });
}

/** Put a failed action's error on its view: by field when the API names one, else as a banner. */
export function showFailure(view, e, known) {
  view.errors = {};
  const field = e?.field && known.includes(e.field) ? e.field : '_';
  view.errors[field] = e?.isNetwork ? t('action_network') : (e?.message || t('action_failed', { message: '' }));
}

export function primaryButton(text, { testid, onclick, disabled = false, danger = false, amount = null }) {
  return el('button', {
    type: 'button', class: ['btn btn-lg btn-block', danger ? 'btn-danger' : 'btn-primary', amount && 'btn-split', S.busy && 'is-busy'],
    testid, disabled: disabled || S.busy, 'aria-busy': S.busy ? 'true' : 'false', onclick,
  }, S.busy ? [el('span', { class: 'spinner spinner-light' }), el('span', { text: t('sending') })]
    : [el('span', { text }), amount ? el('span', { class: 'btn-amount', text: amount }) : null]);
}

export function setFoot(...nodes) { replaceChildren($('#ft-foot'), nodes); }

// ---------------------------------------------------------------- shared by the views

export async function openCheck(tableId) {
  push('check', { tableId, loading: true });
  await reloadCheck();
}

export async function reloadCheck() {
  const view = S.stack.find((v) => v.kind === 'check') || (S.view?.kind === 'check' ? S.view : null);
  if (!view) return;
  try {
    S.check = await loadCheck(view.tableId);
    if (view.closed && (S.check?.orders || []).length) view.closed = null; // a new party ordered
    view.loading = false;
    view.loadError = null;
  } catch (e) {
    authError(e);
    view.loadError = e;
  }
  if (S.view) renderView();
}

export function pickerCtx() {
  return {
    i18n: ctx.i18n, fmt, fmtDelta,
    label: (kind, key) => ctx.i18n.name(S.menu?.labels?.[kind]?.[key]) || key,
    priceText: (item) => (isWeighed(item) ? t('price_per_weight', { price: fmt(item.price_cents), n: item.price_per_grams }) : fmt(item.price_cents)),
  };
}

export function sendStaffOrder(tableId, lines, key) {
  return post('/api/v1/staff/orders', {
    table: tableId,
    idempotency_key: key,
    lines: lines.map((l) => {
      const out = { item: l.item, qty: Math.min(MAX_QTY, l.qty), modifiers: l.modifiers, note: l.note || '' };
      if (l.seat) out.seat = l.seat;
      return out;
    }),
  });
}

/** Hooks the tables list sets (the sheet's module does not import it). */
export const hooks = { tablesChanged: () => {} };

/** `opts`: {i18n, toast(text, kind), onAuthError(e)}. */
export function setContext(opts) { ctx = opts; }
