/**
 * Orders taken by staff on the floor's check sheet, for guests without a phone: the menu with a
 * search, the diners' item picker with an optional seat number, and one idempotency key per
 * order so a retry never sends it twice.
 */
import { $, el, fold, icon, randomId, replaceChildren } from './common.js';
import { ItemPicker, optionNames } from './menu-picker.js';
import { digitsOnly } from './pinpad.js';
import {
  authError, back, ctx, fieldError, fmt, loadMenu, loadTables, pickerCtx, primaryButton, push, reloadCheck, renderView, S, sendStaffOrder, setBusy, setFoot, showFailure, t, tableName, VIEWS,
} from './floor-sheet.js';

// ---------------------------------------------------------------- staff orders

export async function openStaffOrder(tableId) {
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


