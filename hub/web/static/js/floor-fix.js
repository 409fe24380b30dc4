/**
 * Corrections on the floor's check sheet: void a line, part of it or a whole order with a
 * reason (the store's list or free text); a line the kitchen made is a comp, for which the hub
 * asks a manager PIN (a 403 naming `pin`); change a line not yet bumped (quantity, options,
 * note) with the diners' item picker, or, once bumped (a 409 naming `line`), void it and
 * order the changed line anew.
 */
import { $, api, el, randomId, replaceChildren } from './common.js';
import { ItemPicker, stepper } from './menu-picker.js';
import { digitsOnly, pinPad } from './pinpad.js';
import {
  authError, back, ctx, DEFAULT_REASONS, fieldError, lineLeft, lineName, loadMenu, loadTables, MAX_PIN, pickerCtx, post, push, reloadCheck, renderView, S, sendStaffOrder, setBusy, setFoot, showFailure, swap, t, VIEWS,
} from './floor-sheet.js';

// ---------------------------------------------------------------- void / comp

function reasonList() {
  if (S.reasons.length) return S.reasons.map((r) => [r, r, r]);
  // the store's list, when the hub sends one; else these
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
      el('div', { class: 'ft-reasons' }, reasons.map(([, value, text], i) => el('button', {
        type: 'button', class: ['ft-reason', view.reason === value && 'is-on'], testid: `void-reason-${i}`,
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

/** Void (or comp) the line, or the whole order in one call; one action id for the sheet, sent
 *  again if the manager PIN is asked for or the network fails. */
async function confirmVoid(view) {
  const reason = voidReason(view);
  if (!reason || S.busy) return;
  view.id = view.id || randomId(22);
  setBusy(true);
  let order = null;
  try {
    const body = { reason, id: view.id };
    if (view.needPin) body.pin = digitsOnly(view.pin, MAX_PIN);
    if (view.qty === null) {
      order = await post(`/api/v1/orders/${view.order.order_id}/void`, body);
    } else {
      body.qty = view.qty;
      order = await post(`/api/v1/orders/${view.order.order_id}/lines/${view.lines[0]}/void`, body);
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

export async function openChange(order, n) {
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

