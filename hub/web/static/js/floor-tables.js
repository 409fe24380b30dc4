/**
 * The floor view's tables and checks: every table with its open check, and for one table its
 * orders and lines, where a waiter voids (or, after cooking, comps with a manager PIN), changes
 * a line, moves the party, merges another table's check in, splits the check (by items, by seat,
 * evenly), prints bills, takes payments, and enters an order for guests without a phone.
 *
 * Every user action gets one action id (`randomId`) that is sent again on retry, so a retry
 * never does anything twice. The API's errors `{error, field}` are shown next to the field they
 * name. State is re-read from the API after each action and on live messages; every string is
 * set with textContent.
 */
import { $, ApiError, api, clockTime, el, fold, icon, money, moneyDelta, randomId, replaceChildren, sleep } from './common.js';
import { ItemPicker, MAX_QTY, isWeighed, optionNames, stepper } from './menu-picker.js';
import { digitsOnly, pinPad } from './pinpad.js';

const MAX_PIN = 8;
const MAX_PARTS = 20;
const MAX_UNITS_SHOWN = 12; // a line with more units is split as a whole
const POLL_MS = 15000;
const RETRY_DELAYS_MS = [0, 700, 1500];
/** Reasons offered when the store configured none: sent in English so reports group them. */
const DEFAULT_REASONS = [
  ['mistake', 'Entered by mistake'],
  ['guest', 'Guest changed their mind'],
  ['quality', 'Quality problem'],
  ['wait', 'Waited too long'],
];

let ctx = null; // {i18n, toast, onAuthError}
const t = (key, vars) => ctx.i18n.t(key, vars);

const S = {
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

const fmt = (cents) => money(cents, S.currency, ctx.i18n.lang);
const fmtDelta = (cents) => moneyDelta(cents, S.currency, ctx.i18n.lang);
const tableOf = (id) => S.tables.find((tb) => tb.id === id);
const tableName = (id) => tableOf(id)?.name || id || '';
const lineLeft = (l) => Math.max(0, (Number(l.qty) || 0) - (Number(l.void_qty) || 0));
const lineName = (l) => ctx.i18n.name(l.name) || l.item;

// ---------------------------------------------------------------- API

/** A staff POST carrying its own action id: network failures are tried again with the same body. */
async function post(path, body) {
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
function authError(e) {
  if (e?.status === 403 && e.field) return;
  ctx.onAuthError(e);
}

async function loadTables() {
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
  renderTables();
}

async function loadCheck(tableId) {
  const check = await api(`/api/v1/tables/${encodeURIComponent(tableId)}/check`, { staff: true, timeoutMs: 8000 });
  if (typeof check?.currency === 'string') S.currency = check.currency;
  return check;
}

async function loadMenu() {
  if (S.menu) return S.menu;
  const data = await api('/api/v1/items', { staff: true });
  const items = (data?.items || []).map((it) => ({ ...it, modifier_groups: it.modifier_groups || [], available: it.available !== false }));
  const seen = new Map();
  for (const it of items) if (!seen.has(it.category)) seen.set(it.category, { id: it.category, name: { en: humanCategory(it.category) } });
  S.menu = { items: new Map(items.map((it) => [it.id, it])), list: items, categories: [...seen.values()], labels: data?.labels || {} };
  return S.menu;
}

const humanCategory = (id) => String(id || '').replace(/[-_]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

// ---------------------------------------------------------------- the tables list

let pollTimer = null;
let refreshTimer = null;

/** Live news (an order, a table or a check changed): re-read soon, once for a burst. */
export function onLive(msg) {
  if (!['order', 'table', 'check', 'payment', 'ticket'].includes(msg?.type)) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 250);
}

async function refresh() {
  if (!S.visible && !S.view) return;
  await loadTables();
  if (S.check && S.view) await reloadCheck();
}

export function show(visible) {
  S.visible = visible;
  clearInterval(pollTimer);
  if (visible) {
    loadTables();
    pollTimer = setInterval(() => { if (document.visibilityState === 'visible') refresh(); }, POLL_MS);
  }
}

export function renderTables() {
  const list = $('#tables');
  if (!list) return;
  if (!S.loaded) {
    replaceChildren(list, el('li', { class: 'strip-empty', text: S.loadError ? t('tables_load_failed') : t('loading') }));
    return;
  }
  replaceChildren(list, S.tables.map((tb) => el('li', null, el('button', {
    type: 'button',
    class: ['table-card', tb.open || tb.check_id ? 'is-open' : 'is-free', Number(tb.due_cents) > 0 && 'is-due'],
    testid: `table-${tb.id}`,
    dataset: { open: tb.check_id ? 'true' : 'false' },
    onclick: () => openCheck(tb.id),
  },
  el('span', { class: 'table-card-name', text: tb.name || tb.id }),
  tb.check_id
    ? el('span', { class: 'table-card-total', testid: `table-total-${tb.id}`, text: fmt(tb.total_cents) })
    : el('span', { class: 'table-card-free', text: tb.open ? t('table_open_empty') : t('table_free') }),
  tb.check_id && Number(tb.due_cents) !== Number(tb.total_cents)
    ? el('span', { class: 'table-card-due', text: t('due_amount', { amount: fmt(tb.due_cents) }) }) : null,
  tb.orders ? el('span', { class: 'table-card-orders', text: t('orders_count', { n: tb.orders }) }) : null))));
}

// ---------------------------------------------------------------- the sheet (a stack of views)

function sheetNodes() {
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

function push(kind, data = {}) {
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
function swap(kind, data = {}) {
  S.view = { kind, errors: {}, ...data };
  $('#ft-sheet').dataset.kind = kind;
  renderView();
}

function back() {
  if (S.busy) return;
  if (!S.stack.length) { closeAll(); return; }
  S.view = S.stack.pop();
  $('#ft-sheet').dataset.kind = S.view.kind;
  renderView();
}

function closeAll() {
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

const VIEWS = {};

export function renderView() {
  if (!S.view) return;
  sheetNodes();
  $('#ft-back').hidden = S.stack.length === 0;
  const body = $('#ft-body');
  const scroll = body.scrollTop;
  VIEWS[S.view.kind](S.view);
  body.scrollTop = scroll;
}

function setBusy(on) {
  S.busy = on;
  renderView();
}

/** The API's error for a field, shown next to it. */
function fieldError(view, field) {
  const msg = view.errors?.[field];
  return el('p', { class: 'form-error ft-error', role: 'alert', testid: `error-${field}`, text: msg || '', hidden: !msg });
}

/** Put a failed action's error on its view: by field when the API names one, else as a banner. */
function showFailure(view, e, known) {
  view.errors = {};
  const field = e?.field && known.includes(e.field) ? e.field : '_';
  view.errors[field] = e?.isNetwork ? t('action_network') : (e?.message || t('action_failed', { message: '' }));
}

function primaryButton(text, { testid, onclick, disabled = false, danger = false, amount = null }) {
  return el('button', {
    type: 'button', class: ['btn btn-lg btn-block', danger ? 'btn-danger' : 'btn-primary', amount && 'btn-split', S.busy && 'is-busy'],
    testid, disabled: disabled || S.busy, 'aria-busy': S.busy ? 'true' : 'false', onclick,
  }, S.busy ? [el('span', { class: 'spinner spinner-light' }), el('span', { text: t('sending') })]
    : [el('span', { text }), amount ? el('span', { class: 'btn-amount', text: amount }) : null]);
}

function setFoot(...nodes) { replaceChildren($('#ft-foot'), nodes); }

// ---------------------------------------------------------------- the check

async function openCheck(tableId) {
  push('check', { tableId, loading: true });
  await reloadCheck();
}

async function reloadCheck() {
  const view = S.stack.find((v) => v.kind === 'check') || (S.view?.kind === 'check' ? S.view : null);
  if (!view) return;
  try {
    S.check = await loadCheck(view.tableId);
    view.loading = false;
    view.loadError = null;
  } catch (e) {
    authError(e);
    view.loadError = e;
  }
  if (S.view) renderView();
}

VIEWS.check = (view) => {
  const c = S.check && S.check.table?.id === view.tableId ? S.check : null;
  $('#ft-title').textContent = c?.table?.name || tableName(view.tableId);
  if (!c) {
    replaceChildren($('#ft-body'), el('p', { class: 'ft-empty', text: view.loadError ? t('check_load_failed') : t('loading') }));
    setFoot();
    return;
  }
  const orders = c.orders || [];
  const paidUp = orders.length > 0 && Number(c.due_cents) <= 0;
  replaceChildren($('#ft-body'),
    el('div', { class: 'ft-summary', testid: 'check-summary' },
      summaryCell(t('total'), fmt(c.total_cents), 'check-total'),
      summaryCell(t('paid'), fmt(c.paid_cents), 'check-paid'),
      summaryCell(t('due'), fmt(c.due_cents), 'check-due', Number(c.due_cents) > 0)),
    el('div', { class: 'ft-actions' },
      actionButton('plus', t('staff_order'), 'staff-order', () => openStaffOrder(view.tableId)),
      actionButton('chevron', t('move_table'), 'move-table', () => push('move', { tableId: view.tableId }), !orders.length),
      actionButton('link', t('merge_check'), 'merge-check', () => push('merge', { tableId: view.tableId })),
      actionButton('list', t('split_check'), 'split-check', () => push('split', { tableId: view.tableId, mode: 'even', n: 2 }), !orders.length),
      actionButton('printer', t('print_bill'), 'print-bill', () => printBill(view.tableId, null), !orders.length)),
    paidUp ? el('p', { class: 'notice notice-ok', testid: 'check-paid-up', text: t('check_paid_up') }) : null,
    (c.parts || []).length ? partsBlock(c, view) : null,
    orders.length
      ? el('div', { class: 'ft-orders' }, orders.map((o) => orderBlock(o)))
      : el('p', { class: 'ft-empty', testid: 'check-empty', text: t('check_empty') }),
    (c.payments || []).length ? paymentsBlock(c) : null);
  setFoot(Number(c.due_cents) > 0 && !(c.parts || []).length
    ? primaryButton(t('take_payment'), { testid: 'pay-check', amount: fmt(c.due_cents), onclick: () => openPay(view.tableId, null, c.due_cents) })
    : null);
};

const summaryCell = (label, value, testid, hot = false) => el('div', { class: ['ft-sum-cell', hot && 'is-hot'] },
  el('span', { class: 'ft-sum-label', text: label }),
  el('strong', { class: 'ft-sum-value', testid, text: value }));

const actionButton = (ic, text, testid, onclick, disabled = false) => el('button', {
  type: 'button', class: 'ft-action', testid, onclick, disabled,
}, icon(ic), el('span', { text }));

function orderBlock(o) {
  const live = (o.lines || []).some((l) => lineLeft(l) > 0);
  return el('article', { class: 'ft-order', testid: `check-order-${o.order_id}`, dataset: { status: o.status } },
    el('header', { class: 'ft-order-head' },
      el('div', null,
        el('div', { class: 'ft-order-number', text: t('order_number', { number: o.number ?? o.order_id }) }),
        el('div', { class: 'ft-order-meta', text: [
          t(`status_${o.status}`) === `status_${o.status}` ? o.status : t(`status_${o.status}`),
          clockTime(o.created_at, ctx.i18n.lang),
          o.entered_by ? t('entered_by', { who: o.entered_by }) : null,
        ].filter(Boolean).join(' · ') })),
      live ? el('button', {
        type: 'button', class: 'btn btn-text btn-danger-text ft-void-order', testid: `void-order-${o.order_id}`,
        onclick: () => push('void', { order: o, lines: (o.lines || []).map((l, n) => n).filter((n) => lineLeft(o.lines[n]) > 0), qty: null }),
      }, icon('ban'), el('span', { text: t('void_order') })) : null),
    el('ul', { class: 'ft-lines' }, (o.lines || []).map((l, n) => lineRow(o, l, n))),
    el('footer', { class: 'ft-order-foot' }, el('span', { text: t('total') }), el('strong', { text: fmt(o.total_cents) })));
}

function lineRow(o, l, n) {
  const left = lineLeft(l);
  const voided = Number(l.void_qty) || 0;
  const comp = (l.voids || []).some((v) => v.comp);
  const mods = (l.modifiers || []).map((m) => ctx.i18n.name(m.name) || m.id);
  return el('li', {
    class: ['ft-line', left === 0 && 'is-void', (l.changes || []).length && 'is-changed'],
    testid: `check-line-${o.order_id}-${n}`,
    dataset: { voidQty: voided, qty: l.qty },
  },
  el('div', { class: 'ft-line-main' },
    el('div', { class: 'ft-line-top' },
      el('span', { class: 'ft-line-qty', text: `${left}×` }),
      el('span', { class: 'ft-line-name', text: lineName(l) }),
      el('span', { class: 'ft-line-price', testid: `line-cents-${o.order_id}-${n}`, text: fmt(l.line_cents) })),
    mods.length ? el('div', { class: 'ft-line-sub', text: mods.join(' · ') }) : null,
    l.note ? el('div', { class: 'ft-line-sub ft-line-note', text: l.note }) : null,
    l.seat ? el('div', { class: 'ft-line-sub', text: t('seat_n', { n: l.seat }) }) : null,
    voided ? el('div', { class: 'ft-line-void', testid: `line-void-${o.order_id}-${n}` },
      el('span', { class: 'ft-tag ft-tag-void', text: comp ? t('comp_tag') : t('void_tag') }),
      el('span', { text: (l.voids || []).map((v) => `${v.qty}× ${v.reason}${v.by ? ` (${v.by})` : ''}`).join('; ') || String(voided) })) : null,
    (l.changes || []).length ? el('div', { class: 'ft-line-sub' }, el('span', { class: 'ft-tag ft-tag-changed', text: t('changed_tag') })) : null),
  left > 0 ? el('div', { class: 'ft-line-actions' },
    el('button', {
      type: 'button', class: 'btn btn-secondary ft-line-btn', testid: `change-line-${o.order_id}-${n}`,
      onclick: () => openChange(o, n),
    }, el('span', { text: t('change') })),
    el('button', {
      type: 'button', class: 'btn btn-secondary ft-line-btn ft-line-void-btn', testid: `void-line-${o.order_id}-${n}`,
      onclick: () => push('void', { order: o, lines: [n], qty: left }),
    }, el('span', { text: t('void') }))) : null);
}

function partsBlock(c, view) {
  return el('section', { class: 'ft-parts', testid: 'check-parts' },
    el('h3', { class: 'ft-block-title', text: t('parts') }),
    c.parts.map((p) => el('div', {
      class: ['ft-part', Number(p.due_cents) <= 0 && 'is-paid'], testid: `part-${p.part}`, dataset: { due: p.due_cents },
    },
    el('div', { class: 'ft-part-main' },
      el('strong', { text: p.label || t('part_n', { n: p.part }) }),
      el('span', { class: 'ft-part-sub', text: `${fmt(p.total_cents)} · ${Number(p.due_cents) <= 0 ? t('paid') : t('due_amount', { amount: fmt(p.due_cents) })}` })),
    el('div', { class: 'ft-part-actions' },
      el('button', { type: 'button', class: 'btn btn-secondary ft-line-btn', testid: `bill-part-${p.part}`, 'aria-label': t('print_bill'), onclick: () => printBill(view.tableId, p.part) }, icon('printer')),
      Number(p.due_cents) > 0 ? el('button', {
        type: 'button', class: 'btn btn-primary ft-line-btn', testid: `pay-part-${p.part}`,
        onclick: () => openPay(view.tableId, p.part, p.due_cents),
      }, el('span', { text: t('pay') })) : el('span', { class: 'ft-tag ft-tag-paid', text: t('paid') })))));
}

function paymentsBlock(c) {
  return el('section', { class: 'ft-payments', testid: 'check-payments' },
    el('h3', { class: 'ft-block-title', text: t('payments') }),
    el('ul', null, c.payments.map((p) => el('li', { class: 'ft-payment' },
      el('span', { text: [t(`method_${p.method}`), p.part ? t('part_n', { n: p.part }) : null, clockTime(p.at, ctx.i18n.lang), p.by].filter(Boolean).join(' · ') }),
      el('strong', { text: p.tip_cents ? `${fmt(p.amount_cents)} + ${fmt(p.tip_cents)}` : fmt(p.amount_cents) })))));
}

// ---------------------------------------------------------------- void / comp

function reasonList() {
  if (S.reasons.length) return S.reasons.map((r) => [r, r, r]);
  return DEFAULT_REASONS.map(([key, en]) => [key, en, t(`reason_${key}`)]);
}

VIEWS.void = (view) => {
  const { order } = view;
  const whole = view.qty === null;
  const line = whole ? null : order.lines[view.lines[0]];
  $('#ft-title').textContent = whole ? t('void_order_title', { number: order.number ?? order.order_id }) : t('void_line_title', { name: lineName(line) });
  const reasons = reasonList();
  const other = el('input', {
    class: 'input', type: 'text', maxlength: '120', testid: 'void-other', value: view.other || '',
    placeholder: t('reason_other_placeholder'), 'aria-label': t('reason_other'),
    oninput: (ev) => { view.other = ev.target.value; view.reason = null; markReasons(); },
  });
  const markReasons = () => {
    for (const b of $('#ft-body').querySelectorAll('.ft-reason')) {
      b.classList.toggle('is-on', b.dataset.reason === view.reason);
      b.setAttribute('aria-pressed', b.dataset.reason === view.reason ? 'true' : 'false');
    }
    updateVoidButton(view);
  };
  replaceChildren($('#ft-body'),
    el('p', { class: 'ft-hint', text: t('void_hint') }),
    whole ? el('ul', { class: 'ft-lines ft-lines-compact' }, view.lines.map((n) => el('li', { class: 'ft-line-sub', text: `${lineLeft(order.lines[n])}× ${lineName(order.lines[n])}` })))
      : el('div', { class: 'ft-field' },
        el('span', { class: 'field-label', text: t('void_qty') }),
        stepper(view.qty, { t, max: lineLeft(line), testid: 'void-qty', disabled: S.busy, onChange: (q) => { view.qty = q; renderView(); } }),
        fieldError(view, 'qty')),
    el('div', { class: 'ft-field' },
      el('span', { class: 'field-label', text: t('reason') }),
      el('div', { class: 'ft-reasons' }, reasons.map(([key, value, text]) => el('button', {
        type: 'button', class: ['ft-reason', view.reason === value && 'is-on'], testid: `void-reason-${key}`,
        dataset: { reason: value }, 'aria-pressed': view.reason === value ? 'true' : 'false',
        onclick: () => { view.reason = value; view.other = ''; other.value = ''; markReasons(); },
      }, el('span', { text })))),
      other,
      fieldError(view, 'reason')),
    view.needPin ? pinBlock(view) : null,
    fieldError(view, '_'));
  setFoot(el('button', {
    type: 'button', class: 'btn btn-lg btn-block btn-danger', id: 'void-confirm', testid: 'void-confirm', onclick: () => confirmVoid(view),
  }));
  updateVoidButton(view);
};

const voidReason = (view) => (view.reason || String(view.other || '').trim()).slice(0, 120);

function updateVoidButton(view) {
  const btn = $('#void-confirm');
  if (!btn) return;
  const n = view.qty === null ? view.lines.reduce((s, i) => s + lineLeft(view.order.lines[i]), 0) : view.qty;
  btn.disabled = S.busy || !voidReason(view) || (view.needPin && digitsOnly(view.pin, MAX_PIN).length < 4);
  replaceChildren(btn, S.busy ? [el('span', { class: 'spinner spinner-light' }), el('span', { text: t('sending') })]
    : el('span', { text: view.needPin ? t('comp_confirm', { n }) : t('void_confirm', { n }) }));
}

function pinBlock(view) {
  const input = el('input', {
    class: 'input pin-field', type: 'password', inputmode: 'numeric', maxlength: String(MAX_PIN), autocomplete: 'off',
    testid: 'manager-pin', 'aria-label': t('manager_pin'), value: view.pin || '',
    oninput: (ev) => { ev.target.value = digitsOnly(ev.target.value, MAX_PIN); view.pin = ev.target.value; updateVoidButton(view); },
  });
  return el('div', { class: 'ft-field ft-pin' },
    el('p', { class: 'notice notice-warn', testid: 'comp-notice', text: t('comp_needs_pin') }),
    el('span', { class: 'field-label', text: t('manager_pin') }),
    input,
    fieldError(view, 'pin'),
    pinPad(input, { t, testid: 'manager-pin-key', onChange: (v) => { view.pin = v; updateVoidButton(view); } }));
}

/** Void (or comp) each chosen line; a line already done in this action is not sent again. */
async function confirmVoid(view) {
  const reason = voidReason(view);
  if (!reason || S.busy) return;
  view.ids = view.ids || {};
  view.done = view.done || new Set();
  setBusy(true);
  let order = null;
  try {
    for (const n of view.lines) {
      if (view.done.has(n)) continue;
      view.ids[n] = view.ids[n] || randomId(22);
      const body = { reason, id: view.ids[n] };
      if (view.qty !== null) body.qty = view.qty;
      if (view.needPin) body.pin = digitsOnly(view.pin, MAX_PIN);
      order = await post(`/api/v1/orders/${view.order.order_id}/lines/${n}/void`, body);
      view.done.add(n);
    }
  } catch (e) {
    S.busy = false;
    if (e?.status === 403 && e.field === 'pin') {
      const asked = view.needPin;
      view.needPin = true;
      view.errors = asked ? { pin: e.message || t('pin_wrong') } : {};
      if (!asked) view.pin = '';
    } else {
      showFailure(view, e, ['qty', 'reason', 'pin']);
    }
    renderView();
    return;
  }
  S.busy = false;
  const then = view.then;
  ctx.toast(view.needPin ? t('comped_toast') : t('voided_toast'));
  back();
  if (then) {
    try { await then(order); } catch (e) { ctx.toast(e?.isNetwork ? t('action_network') : t('action_failed', { message: e?.message || '' }), 'error'); }
  }
  await reloadCheck();
  loadTables();
}

// ---------------------------------------------------------------- change a line

async function openChange(order, n) {
  let menu;
  try { menu = await loadMenu(); } catch (e) { authError(e); ctx.toast(t('menu_load_failed'), 'error'); return; }
  const line = order.lines[n];
  const item = menu.items.get(line.item);
  if (!item) { ctx.toast(t('item_gone'), 'error'); return; }
  const picker = new ItemPicker(item, pickerCtx(), {
    idPrefix: 'change',
    draft: { qty: lineLeft(line), modifiers: (line.modifiers || []).map((m) => m.id), note: line.note || '' },
  });
  push('change', { order, n, picker, seat: line.seat ?? null });
}

function pickerCtx() {
  return {
    i18n: ctx.i18n, fmt, fmtDelta,
    label: (kind, key) => ctx.i18n.name(S.menu?.labels?.[kind]?.[key]) || key,
    priceText: (item) => (isWeighed(item) ? t('price_per_weight', { price: fmt(item.price_cents), n: item.price_per_grams }) : fmt(item.price_cents)),
  };
}

VIEWS.change = (view) => {
  const { order, n, picker } = view;
  $('#ft-title').textContent = t('change_line_title', { name: lineName(order.lines[n]) });
  replaceChildren($('#ft-body'),
    view.cooked ? el('div', { class: 'notice notice-warn ft-cooked', testid: 'change-cooked' },
      el('p', { text: t('change_after_cooking') }),
      el('button', { type: 'button', class: 'btn btn-secondary', testid: 'void-and-reorder', onclick: () => voidAndReorder(view) }, el('span', { text: t('void_and_reorder') }))) : null,
    picker.body({ hero: false }),
    fieldError(view, 'qty'), fieldError(view, 'modifiers'), fieldError(view, 'note'), fieldError(view, '_'));
  setFoot(el('div', { class: 'item-foot-row' },
    picker.qtyNode(),
    el('button', {
      type: 'button', class: ['btn btn-primary btn-lg btn-grow', S.busy && 'is-busy'], testid: 'change-confirm', disabled: S.busy || view.cooked,
      onclick: () => confirmChange(view),
    }, el('span', { text: S.busy ? t('sending') : t('save_change') }))));
  picker.update();
};

async function confirmChange(view) {
  const { order, n, picker } = view;
  if (S.busy || picker.validate()) return;
  view.id = view.id || randomId(22);
  const line = order.lines[n];
  const body = { id: view.id };
  const mods = picker.modifiers();
  if (picker.draft.qty !== lineLeft(line)) body.qty = picker.draft.qty + (Number(line.void_qty) || 0);
  const before = (line.modifiers || []).map((m) => m.id);
  if (mods.length !== before.length || mods.some((m, i) => m !== before[i])) body.modifiers = mods;
  if (picker.note() !== (line.note || '')) body.note = picker.note();
  if (Object.keys(body).length === 1) { back(); return; }
  setBusy(true);
  try {
    await post(`/api/v1/orders/${order.order_id}/lines/${n}/change`, body);
  } catch (e) {
    S.busy = false;
    if (e?.status === 409 && e.field === 'line') { view.cooked = true; view.errors = {}; } else showFailure(view, e, ['qty', 'modifiers', 'note']);
    renderView();
    return;
  }
  S.busy = false;
  ctx.toast(t('changed_toast'));
  back();
  await reloadCheck();
  loadTables();
}

/** After cooking a change is a void of the old line plus a new line with the changes. */
function voidAndReorder(view) {
  const { order, n, picker } = view;
  const newLine = { item: picker.item.id, qty: picker.draft.qty, modifiers: picker.modifiers(), note: picker.note() };
  if (view.seat) newLine.seat = view.seat;
  const key = randomId(24);
  swap('void', {
    order, lines: [n], qty: lineLeft(order.lines[n]),
    then: () => sendStaffOrder(order.table?.id || S.check?.table?.id, [newLine], key),
  });
}

// ---------------------------------------------------------------- move / merge

VIEWS.move = (view) => {
  $('#ft-title').textContent = t('move_title', { table: tableName(view.tableId) });
  const free = S.tables.filter((tb) => tb.id !== view.tableId && !tb.check_id);
  tablePicker(view, free, t('move_pick'), t('no_free_tables'), 'move-to', (tb) => t('move_confirm', { from: tableName(view.tableId), to: tb.name }),
    (tb) => post(`/api/v1/tables/${encodeURIComponent(view.tableId)}/move`, { to: tb.id, id: view.id }), 'to');
};

VIEWS.merge = (view) => {
  $('#ft-title').textContent = t('merge_title', { table: tableName(view.tableId) });
  const open = S.tables.filter((tb) => tb.id !== view.tableId && tb.check_id);
  tablePicker(view, open, t('merge_pick'), t('no_open_tables'), 'merge-from', (tb) => t('merge_confirm', { from: tb.name, to: tableName(view.tableId) }),
    (tb) => post(`/api/v1/tables/${encodeURIComponent(view.tableId)}/merge`, { from: tb.id, id: view.id }), 'from');
};

/** Pick a table, confirm, act; `send(tb)` makes the call. */
function tablePicker(view, tables, hint, none, prefix, confirmText, send, field) {
  view.id = view.id || randomId(22);
  replaceChildren($('#ft-body'),
    el('p', { class: 'ft-hint', text: hint }),
    tables.length ? el('div', { class: 'ft-table-grid' }, tables.map((tb) => el('button', {
      type: 'button', class: ['table-card', view.pick === tb.id && 'is-picked', tb.check_id ? 'is-open' : 'is-free'],
      testid: `${prefix}-${tb.id}`, 'aria-pressed': view.pick === tb.id ? 'true' : 'false',
      onclick: () => { view.pick = tb.id; view.errors = {}; renderView(); },
    }, el('span', { class: 'table-card-name', text: tb.name }),
    tb.check_id ? el('span', { class: 'table-card-total', text: fmt(tb.total_cents) }) : null))) : el('p', { class: 'ft-empty', text: none }),
    fieldError(view, field), fieldError(view, '_'));
  const picked = tables.find((tb) => tb.id === view.pick);
  setFoot(picked ? el('p', { class: 'ft-confirm-text', testid: 'confirm-text', text: confirmText(picked) }) : null,
    primaryButton(t('confirm'), {
      testid: 'confirm-table', disabled: !picked,
      onclick: async () => {
        setBusy(true);
        try {
          const check = await send(picked);
          S.busy = false;
          const target = field === 'to' ? picked.id : view.tableId;
          ctx.toast(field === 'to' ? t('moved_toast', { to: picked.name }) : t('merged_toast', { from: picked.name }));
          S.stack = S.stack.filter((v) => v.kind !== 'check');
          closeAll();
          await loadTables();
          await openCheck(target);
          if (check?.table?.id === target) { S.check = check; renderView(); }
        } catch (e) {
          S.busy = false;
          showFailure(view, e, [field]);
          renderView();
        }
      },
    }));
}

// ---------------------------------------------------------------- split

VIEWS.split = (view) => {
  view.id = view.id || randomId(22);
  const c = S.check;
  $('#ft-title').textContent = t('split_title');
  const modes = [['even', t('split_even')], ['seats', t('split_seats')], ['items', t('split_items')]];
  const hasSeats = (c?.orders || []).some((o) => (o.lines || []).some((l) => l.seat));
  replaceChildren($('#ft-body'),
    el('div', { class: 'ft-segments', role: 'group' }, modes.map(([mode, text]) => el('button', {
      type: 'button', class: ['ft-segment', view.mode === mode && 'is-on'], testid: `split-mode-${mode}`,
      'aria-pressed': view.mode === mode ? 'true' : 'false',
      onclick: () => { view.mode = mode; view.errors = {}; view.id = randomId(22); renderView(); },
    }, el('span', { text })))),
    view.mode === 'even' ? el('div', { class: 'ft-field' },
      el('span', { class: 'field-label', text: t('split_n') }),
      stepper(view.n, { t, min: 2, max: MAX_PARTS, testid: 'split-n', onChange: (q) => { view.n = q; view.id = randomId(22); renderView(); } }),
      el('p', { class: 'ft-hint', testid: 'split-each', text: t('split_each', { amount: fmt(Math.ceil((Number(c?.due_cents ?? c?.total_cents) || 0) / view.n)) }) }),
      fieldError(view, 'n')) : null,
    view.mode === 'seats' ? el('p', { class: hasSeats ? 'ft-hint' : 'notice notice-warn', text: hasSeats ? t('split_seats_hint') : t('split_no_seats') }) : null,
    view.mode === 'items' ? itemsSplit(view, c) : null,
    fieldError(view, 'parts'), fieldError(view, 'mode'), fieldError(view, '_'));
  setFoot(primaryButton(t('split_confirm'), {
    testid: 'split-confirm', disabled: view.mode === 'seats' && !hasSeats, onclick: () => confirmSplit(view),
  }));
};

/** By items: every unit of every line gets a part (1..parts). */
function itemsSplit(view, c) {
  view.parts = view.parts || 2;
  view.assign = view.assign || {};
  const rows = [];
  for (const o of c?.orders || []) {
    (o.lines || []).forEach((l, n) => {
      const left = lineLeft(l);
      const units = left > MAX_UNITS_SHOWN ? 1 : left;
      for (let u = 0; u < units; u += 1) {
        const key = `${o.order_id}:${n}:${u}`;
        const part = view.assign[key] || 1;
        rows.push(el('li', { class: 'ft-split-row', testid: `split-unit-${o.order_id}-${n}-${u}` },
          el('span', { class: 'ft-split-name', text: units === left ? `1× ${lineName(l)}` : `${left}× ${lineName(l)}` }),
          el('span', { class: 'ft-split-parts' }, Array.from({ length: view.parts }, (_, i) => el('button', {
            type: 'button', class: ['ft-part-pick', part === i + 1 && 'is-on'], testid: `split-unit-${o.order_id}-${n}-${u}-part-${i + 1}`,
            'aria-pressed': part === i + 1 ? 'true' : 'false', text: String(i + 1),
            onclick: () => { view.assign[key] = i + 1; view.id = randomId(22); renderView(); },
          })))));
      }
    });
  }
  return el('div', { class: 'ft-field' },
    el('span', { class: 'field-label', text: t('split_parts') }),
    stepper(view.parts, { t, min: 2, max: 8, testid: 'split-parts', onChange: (q) => { view.parts = q; view.id = randomId(22); renderView(); } }),
    el('ul', { class: 'ft-split-list' }, rows));
}

function itemsParts(view, c) {
  const parts = Array.from({ length: view.parts }, () => new Map());
  for (const o of c?.orders || []) {
    (o.lines || []).forEach((l, n) => {
      const left = lineLeft(l);
      if (!left) return;
      const units = left > MAX_UNITS_SHOWN ? 1 : left;
      for (let u = 0; u < units; u += 1) {
        const part = parts[(view.assign[`${o.order_id}:${n}:${u}`] || 1) - 1];
        const key = `${o.order_id}:${n}`;
        const qty = units === left ? 1 : left;
        const have = part.get(key);
        part.set(key, { order_id: o.order_id, line: n, qty: (have?.qty || 0) + qty });
      }
    });
  }
  return parts.map((m) => [...m.values()]).filter((p) => p.length);
}

async function confirmSplit(view) {
  const body = { mode: view.mode, id: view.id };
  if (view.mode === 'even') body.n = view.n;
  if (view.mode === 'items') body.parts = itemsParts(view, S.check);
  setBusy(true);
  try {
    const check = await post(`/api/v1/tables/${encodeURIComponent(S.check.table.id)}/split`, body);
    S.busy = false;
    if (check?.table) S.check = check;
    ctx.toast(t('split_toast', { n: (check?.parts || []).length }));
    back();
    await reloadCheck();
  } catch (e) {
    S.busy = false;
    showFailure(view, e, ['n', 'parts', 'mode']);
    renderView();
  }
}

// ---------------------------------------------------------------- payments & bills

const METHODS = ['cash', 'card', 'other'];

function openPay(tableId, part, due) {
  push('pay', { tableId, part, method: 'card', amount: centsText(due), tip: '', due });
}

function currencyDigits() {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: S.currency || 'USD' }).resolvedOptions().maximumFractionDigits;
  } catch { return 2; }
}

const centsText = (cents) => ((Number(cents) || 0) / 10 ** currencyDigits()).toFixed(currencyDigits());

/** "12.5" → 1250 (for a two-digit currency); null when it is not an amount. */
function toCents(text) {
  const s = String(text || '').trim().replace(',', '.');
  if (!s) return 0;
  if (!/^\d+(\.\d*)?$/.test(s)) return null;
  return Math.round(Number(s) * 10 ** currencyDigits());
}

VIEWS.pay = (view) => {
  view.id = view.id || randomId(22);
  $('#ft-title').textContent = view.part ? t('pay_part_title', { n: view.part }) : t('pay_title');
  const amountInput = el('input', {
    class: 'input ft-money', type: 'text', inputmode: 'decimal', testid: 'pay-amount', value: view.amount, 'aria-label': t('amount'),
    oninput: (ev) => { view.amount = ev.target.value; view.id = randomId(22); },
  });
  const tipInput = el('input', {
    class: 'input ft-money', type: 'text', inputmode: 'decimal', testid: 'pay-tip', value: view.tip, placeholder: '0', 'aria-label': t('tip'),
    oninput: (ev) => { view.tip = ev.target.value; view.id = randomId(22); },
  });
  replaceChildren($('#ft-body'),
    el('p', { class: 'ft-due', text: t('due_amount', { amount: fmt(view.due) }) }),
    el('div', { class: 'ft-field' },
      el('span', { class: 'field-label', text: t('method') }),
      el('div', { class: 'ft-segments', role: 'group' }, METHODS.map((m) => el('button', {
        type: 'button', class: ['ft-segment', view.method === m && 'is-on'], testid: `pay-method-${m}`,
        'aria-pressed': view.method === m ? 'true' : 'false',
        onclick: () => { view.method = m; view.id = randomId(22); renderView(); },
      }, el('span', { text: t(`method_${m}`) })))),
      fieldError(view, 'method')),
    el('label', { class: 'ft-field' }, el('span', { class: 'field-label', text: t('amount') }), amountInput, fieldError(view, 'amount_cents')),
    el('label', { class: 'ft-field' }, el('span', { class: 'field-label', text: t('tip') }), tipInput, fieldError(view, 'tip_cents')),
    fieldError(view, 'part'), fieldError(view, '_'));
  setFoot(primaryButton(t('record_payment'), { testid: 'pay-confirm', onclick: () => confirmPay(view) }));
};

async function confirmPay(view) {
  const amount = toCents(view.amount);
  const tip = toCents(view.tip);
  view.errors = {};
  if (amount === null || amount <= 0) view.errors.amount_cents = t('amount_invalid');
  if (tip === null) view.errors.tip_cents = t('amount_invalid');
  if (Object.keys(view.errors).length) { renderView(); return; }
  const body = { method: view.method, amount_cents: amount, id: view.id };
  if (tip) body.tip_cents = tip;
  if (view.part) body.part = view.part;
  setBusy(true);
  try {
    const res = await post(`/api/v1/tables/${encodeURIComponent(view.tableId)}/payments`, body);
    S.busy = false;
    if (res?.check?.table) S.check = res.check;
    const closed = res?.check && Number(res.check.due_cents) <= 0;
    ctx.toast(closed ? t('check_closed_toast') : t('payment_toast', { amount: fmt(amount) }));
    back();
    await reloadCheck();
    loadTables();
  } catch (e) {
    S.busy = false;
    showFailure(view, e, ['method', 'amount_cents', 'tip_cents', 'part']);
    renderView();
  }
}

async function printBill(tableId, part) {
  const body = part ? { part } : {};
  try {
    await post(`/api/v1/tables/${encodeURIComponent(tableId)}/bills`, body);
    ctx.toast(part ? t('bill_part_printing', { n: part }) : t('bill_printing'));
  } catch (e) {
    ctx.toast(e?.isNetwork ? t('action_network') : t('action_failed', { message: e?.message || '' }), 'error');
  }
}

// ---------------------------------------------------------------- staff orders

async function openStaffOrder(tableId) {
  try { await loadMenu(); } catch (e) { authError(e); ctx.toast(t('menu_load_failed'), 'error'); return; }
  push('staff', { tableId, search: '', cart: [], key: null });
}

VIEWS.staff = (view) => {
  $('#ft-title').textContent = t('staff_order_title', { table: tableName(view.tableId) });
  const q = fold(view.search).trim();
  const items = S.menu.list.filter((it) => !q || fold([ctx.i18n.name(it.name), it.name?.en, it.id].join(' ')).includes(q));
  const search = el('input', {
    class: 'input', type: 'search', testid: 'staff-search', value: view.search, placeholder: t('search_placeholder'), 'aria-label': t('search_placeholder'),
    oninput: (ev) => { view.search = ev.target.value; renderStaffItems(view, ev.target); },
  });
  replaceChildren($('#ft-body'),
    view.cart.length ? el('section', { class: 'ft-staff-cart', testid: 'staff-cart' },
      el('h3', { class: 'ft-block-title', text: t('staff_cart') }),
      el('ul', { class: 'ft-lines' }, view.cart.map((l, i) => staffCartLine(view, l, i)))) : null,
    fieldError(view, 'table'), fieldError(view, '_'),
    search,
    el('div', { id: 'staff-items' }));
  renderStaffItems(view, null, items);
  const total = view.cart.reduce((s, l) => s + l.cents, 0);
  setFoot(primaryButton(t('send_order'), {
    testid: 'staff-send', disabled: !view.cart.length, amount: view.cart.length ? fmt(total) : null,
    onclick: () => confirmStaffOrder(view),
  }));
};

function renderStaffItems(view, focus, items = null) {
  const q = fold(view.search).trim();
  const list = items || S.menu.list.filter((it) => !q || fold([ctx.i18n.name(it.name), it.name?.en, it.id].join(' ')).includes(q));
  replaceChildren($('#staff-items'), S.menu.categories.map((cat) => {
    const mine = list.filter((it) => it.category === cat.id);
    if (!mine.length) return null;
    return el('section', { class: 'ft-menu-section' },
      el('h3', { class: 'ft-block-title', text: ctx.i18n.name(cat.name) }),
      el('div', { class: 'ft-menu-items' }, mine.map((it) => el('button', {
        type: 'button', class: ['ft-menu-item', !it.available && 'is-sold-out'], testid: `staff-item-${it.id}`, disabled: !it.available,
        onclick: () => push('staffItem', { parent: view, picker: new ItemPicker(it, pickerCtx(), { idPrefix: 'staff' }), seat: '' }),
      }, el('span', { class: 'ft-menu-name', text: ctx.i18n.name(it.name) }),
      el('span', { class: 'ft-menu-price', text: it.available ? pickerCtx().priceText(it) : t('sold_out') })))));
  }));
  if (focus) focus.focus();
}

function staffCartLine(view, l, i) {
  const item = S.menu.items.get(l.item);
  const mods = item ? optionNames(item, l.modifiers, ctx.i18n) : [];
  return el('li', { class: ['ft-line', view.errors[`lines[${i}]`] && 'has-error'], testid: `staff-line-${i}` },
    el('div', { class: 'ft-line-main' },
      el('div', { class: 'ft-line-top' },
        el('span', { class: 'ft-line-qty', text: `${l.qty}×` }),
        el('span', { class: 'ft-line-name', text: item ? ctx.i18n.name(item.name) : l.item }),
        el('span', { class: 'ft-line-price', text: fmt(l.cents) })),
      mods.length ? el('div', { class: 'ft-line-sub', text: mods.join(' · ') }) : null,
      l.note ? el('div', { class: 'ft-line-sub ft-line-note', text: l.note }) : null,
      l.seat ? el('div', { class: 'ft-line-sub', text: t('seat_n', { n: l.seat }) }) : null,
      fieldError(view, `lines[${i}]`)),
    el('div', { class: 'ft-line-actions' }, el('button', {
      type: 'button', class: 'btn btn-text btn-danger-text', testid: `staff-remove-${i}`, 'aria-label': t('remove'),
      onclick: () => { view.cart.splice(i, 1); view.key = null; view.errors = {}; renderView(); },
    }, icon('trash'))));
}

VIEWS.staffItem = (view) => {
  const { picker } = view;
  $('#ft-title').textContent = ctx.i18n.name(picker.item.name);
  const seat = el('input', {
    class: 'input ft-seat', type: 'text', inputmode: 'numeric', maxlength: '2', testid: 'staff-seat', value: view.seat,
    placeholder: t('seat_none'), 'aria-label': t('seat'),
    oninput: (ev) => { ev.target.value = digitsOnly(ev.target.value, 2); view.seat = ev.target.value; },
  });
  replaceChildren($('#ft-body'), picker.body({
    hero: false,
    extra: el('label', { class: 'ft-field ft-seat-field' }, el('span', { class: 'field-label', text: t('seat_optional') }), seat),
  }));
  setFoot(el('div', { class: 'item-foot-row' },
    picker.qtyNode(),
    el('button', {
      type: 'button', class: 'btn btn-primary btn-lg btn-grow', testid: 'staff-add', onclick: () => {
        if (picker.validate()) return;
        const line = { item: picker.item.id, qty: picker.draft.qty, modifiers: picker.modifiers(), note: picker.note(), cents: picker.total() };
        if (Number(view.seat) > 0) line.seat = Number(view.seat);
        view.parent.cart.push(line);
        view.parent.key = null;
        view.parent.errors = {};
        back();
      },
    }, el('span', { text: t('add_to_order') }))));
  picker.update();
};

async function confirmStaffOrder(view) {
  if (!view.cart.length || S.busy) return;
  view.key = view.key || randomId(24);
  setBusy(true);
  try {
    const order = await sendStaffOrder(view.tableId, view.cart, view.key);
    S.busy = false;
    ctx.toast(t('staff_order_sent', { number: order?.number ?? order?.order_id ?? '' }));
    back();
    await reloadCheck();
    loadTables();
  } catch (e) {
    S.busy = false;
    showFailure(view, e, ['table', ...view.cart.map((_, i) => `lines[${i}]`)]);
    const m = /^lines\[(\d+)\]/.exec(e?.field || '');
    if (m) view.errors = { [`lines[${m[1]}]`]: e.message };
    renderView();
  }
}

function sendStaffOrder(tableId, lines, key) {
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

// ---------------------------------------------------------------- start

/** `opts`: {i18n, toast(text, kind), onAuthError(e)}. */
export function mountTables(opts) {
  ctx = opts;
  ctx.i18n.onChange(() => { renderTables(); renderView(); });
  renderTables();
}
