/**
 * The check sheet's table and money views: move the party to a free table, merge another
 * table's check in, split the check (evenly into N, by seat, by items), record payments
 * (cash, card, other; amount and tip) against the check or a part, and print bills.
 */
import { $, api, el, money, randomId, replaceChildren } from './common.js';
import { stepper } from './menu-picker.js';
import {
  back, closeAll, ctx, fieldError, fmt, lineLeft, lineName, loadTables, MAX_PARTS, MAX_UNITS_SHOWN, openCheck, post, primaryButton, push, reloadCheck, renderView, S, setBusy, setFoot, showFailure, t, tableName, VIEWS,
} from './floor-sheet.js';

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

export function openPay(tableId, part, due) {
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
    const closed = Boolean(res?.check?.closed);
    ctx.toast(closed ? t('check_closed_toast') : t('payment_toast', { amount: fmt(amount) }));
    back();
    // paid in full: the table's next check starts empty; this sheet keeps showing the paid one
    const checkView = S.view?.kind === 'check' ? S.view : null;
    if (closed && checkView) { checkView.closed = res.check; renderView(); } else await reloadCheck();
    loadTables();
  } catch (e) {
    S.busy = false;
    showFailure(view, e, ['method', 'amount_cents', 'tip_cents', 'part']);
    renderView();
  }
}

export async function printBill(tableId, part) {
  const body = part ? { part } : {};
  try {
    await post(`/api/v1/tables/${encodeURIComponent(tableId)}/bills`, body);
    ctx.toast(part ? t('bill_part_printing', { n: part }) : t('bill_printing'));
  } catch (e) {
    ctx.toast(e?.isNetwork ? t('action_network') : t('action_failed', { message: e?.message || '' }), 'error');
  }
}

