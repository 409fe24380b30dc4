/**
 * The diner's page at /t/<table token>: the menu with search and filters, the item sheet
 * (modifiers, quantity, note), the cart, placing an order exactly once, and the table's orders
 * with their live status from /ws/table. A store may make staff open a table before it orders
 * (the page says so and keeps the menu browsable) and ask for the table's PIN with the first
 * order; the PIN is kept for this browser session only (sessionStorage).
 *
 * All text from the menu or the server is set with textContent (see common.js `el`).
 */
import {
  $, ApiError, I18n, LANGUAGE_NAMES, LiveSocket, api, clockTime, el, fold, grams, icon, money,
  moneyDelta, randomId, replaceChildren, sleep, storage,
} from './common.js';
import { LANGS } from './i18n.js';
import { digitsOnly, pinPad, waitText } from './pinpad.js';
import { Waits } from './diner-wait.js';
import {
  ItemPicker, MAX_NOTE, MAX_QTY, badges as itemBadges, isWeighed, optionNames as namesOf, photo, stepper as qtyStepper, unitCents,
} from './menu-picker.js';

const MAX_LINES = 50;
const STEPS = ['received', 'preparing', 'ready', 'served'];
const RETRY_DELAYS_MS = [0, 800, 1600, 3200];
const LOW_STOCK_SHOWN = 5; // a counted dish shows "3 left" from this many down
const CALL_KINDS = [['waiter', 'bell'], ['bill', 'receipt'], ['water', 'droplet']];

const token = (() => {
  const m = location.pathname.match(/^\/t\/([^/?#]+)/);
  try { return m ? decodeURIComponent(m[1]) : ''; } catch { return ''; }
})();
const CART_KEY = `tablehub.cart.${token}`;
const PIN_KEY = `tablehub.pin.${token}`;
const MAX_PIN = 8;

const i18n = new I18n({ storageKey: 'tablehub.lang' });
const t = (key, vars) => i18n.t(key, vars);

/** The page's whole state; every render reads from here. */
const S = {
  menu: null,
  items: new Map(),
  search: '',
  hide: new Set(storage.get('tablehub.filter.allergens', [])),
  only: new Set(storage.get('tablehub.filter.dietary', [])),
  cart: loadCart(),
  orders: new Map(),
  sending: false,
  lineErrors: new Map(),
  sheet: null,
  activeCategory: null,
  sections: new Map(),
  calls: new Map(),        // this table's active calls (open, acked) by kind
  callBusy: new Set(),     // kinds being sent
  table: null,             // {id, name, open, requires_pin} from the menu document
  pin: loadPin(),          // the table PIN that worked (or was typed) in this session
  pinLockedUntil: 0,       // ms: the hub refuses PINs for this table until then
  allTogether: false,      // the cart's "bring everything together" choice
  socket: null,
};

const waits = new Waits({
  i18n,
  token,
  now: () => Date.now() + (S.socket ? S.socket.serverOffset : 0),
  changed: (what) => {
    if (what === 'menu') { renderHeader(); renderMenu(); if (S.sheet?.kind === 'cart') renderCartSheet(); else if (S.sheet?.kind === 'item') updateItemSheet(); }
    else if (S.sheet?.kind === 'orders') renderOrdersSheet();
  },
});
const orderable = (item) => item.available && !waits.isPaused(item);

const fmt = (cents) => money(cents, S.menu?.store?.currency, i18n.lang);
const fmtDelta = (cents) => moneyDelta(cents, S.menu?.store?.currency, i18n.lang);
const label = (kind, key) => i18n.name(S.menu?.labels?.[kind]?.[key]) || key;
const numberFmt = (n) => new Intl.NumberFormat(i18n.lang).format(Number(n) || 0);
const priceText = (item) => (isWeighed(item)
  ? t('price_per_weight', { price: fmt(item.price_cents), n: numberFmt(item.price_per_grams) })
  : fmt(item.price_cents));
/** A weighed order line: `per_grams` set; `grams` once staff weighed it. */
const lineWeighed = (l) => l && l.per_grams !== undefined && l.per_grams !== null;
/** Units still on the check: voided or comped units are not. */
const lineLeft = (l) => Math.max(0, (Number(l.qty) || 0) - (Number(l.void_qty) || 0));
const lineGone = (l) => Number(l.void_qty) > 0 && lineLeft(l) === 0;
const voidText = (l) => {
  const comp = (l.voids || []).length > 0 && (l.voids || []).every((v) => v.comp);
  const key = comp ? 'line_comped' : 'line_voided';
  return lineGone(l) ? t(key) : t(`${key}_n`, { n: Number(l.void_qty) });
};
const linePending = (l) => lineWeighed(l) && !(Number(l.grams) > 0);

// ---------------------------------------------------------------- cart storage

function loadCart() {
  const saved = storage.get(CART_KEY);
  const lines = Array.isArray(saved?.lines) ? saved.lines.filter((l) => l && typeof l.item === 'string') : [];
  return {
    lines: lines.map((l) => ({
      uid: typeof l.uid === 'string' ? l.uid : randomId(10),
      item: l.item,
      qty: Math.min(MAX_QTY, Math.max(1, Number(l.qty) || 1)),
      modifiers: Array.isArray(l.modifiers) ? l.modifiers.map(String) : [],
      note: typeof l.note === 'string' ? l.note.slice(0, MAX_NOTE) : '',
    })),
    key: typeof saved?.key === 'string' ? saved.key : null,
  };
}

function saveCart() { storage.set(CART_KEY, S.cart); }

// ---------------------------------------------------------------- table PIN (this session only)

function loadPin() {
  try { return sessionStorage.getItem(PIN_KEY) || ''; } catch { return ''; }
}

function savePin(pin) {
  S.pin = pin;
  try {
    if (pin) sessionStorage.setItem(PIN_KEY, pin); else sessionStorage.removeItem(PIN_KEY);
  } catch { /* kept in memory only */ }
}

const tableClosed = () => S.table?.open === false;
const needsPin = () => Boolean(S.table?.requires_pin) && !S.pin;

/** The cart's content changed: a new submission will need a new idempotency key. */
function cartChanged() {
  S.cart.key = null;
  S.lineErrors.clear();
  saveCart();
  renderMenu();
  renderBottomBar();
  if (S.sheet?.kind === 'cart') renderCartSheet();
}

/** Drop cart lines the menu no longer knows (item gone, option gone). */
function pruneCart() {
  const before = S.cart.lines.length;
  S.cart.lines = S.cart.lines.filter((line) => {
    const item = S.items.get(line.item);
    if (!item) return false;
    const opts = new Set(item.modifier_groups.flatMap((g) => g.options.map((o) => o.id)));
    return line.modifiers.every((m) => opts.has(m));
  });
  if (S.cart.lines.length !== before) S.cart.key = null;
  saveCart();
}

/** What a cart line costs now: a line sold by weight counts only its options until weighed
 *  (the hub prices it the same way). */
function lineCents(item, line) {
  if (!isWeighed(item)) return unitCents(item, line.modifiers) * line.qty;
  return (unitCents(item, line.modifiers) - item.price_cents) * line.qty;
}

const optionNames = (item, ids) => namesOf(item, ids, i18n);

const cartCount = () => S.cart.lines.reduce((n, l) => n + l.qty, 0);
const cartTotal = () => S.cart.lines.reduce((sum, l) => {
  const item = S.items.get(l.item);
  return item ? sum + lineCents(item, l) : sum;
}, 0);
const cartHasWeighed = () => S.cart.lines.some((l) => isWeighed(S.items.get(l.item)));
/** Sold out, or paused while its station is over its load limit: the hub would refuse it. */
const cartHasSoldOut = () => S.cart.lines.some((l) => { const it = S.items.get(l.item); return !it || !orderable(it); });

// ---------------------------------------------------------------- banners & toast

let toastTimer = null;
function toast(text) {
  const node = $('#toast');
  node.textContent = text;
  node.hidden = false;
  node.classList.remove('is-leaving');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.classList.add('is-leaving');
    toastTimer = setTimeout(() => { node.hidden = true; }, 250);
  }, 2600);
}

let errorTimer = null;
/** The red banner; `autoHideMs` for news (an item sold out), none for failures to act on. */
function showError(text, autoHideMs = 0) {
  $('#error-banner-text').textContent = text;
  $('#error-banner').hidden = false;
  clearTimeout(errorTimer);
  if (autoHideMs) errorTimer = setTimeout(hideError, autoHideMs);
}

function hideError() { clearTimeout(errorTimer); $('#error-banner').hidden = true; }

let connTimer = null;
function onConnState(state) {
  const banner = $('#conn-banner');
  clearTimeout(connTimer);
  if (state === 'online') {
    banner.hidden = true;
    document.body.classList.remove('is-offline');
    return;
  }
  connTimer = setTimeout(() => {
    replaceChildren(banner, icon('wifiOff'), el('span', { text: t('offline_reconnecting') }));
    banner.hidden = false;
    document.body.classList.add('is-offline');
  }, 1500);
}

// ---------------------------------------------------------------- header, language, chips

function renderHeader() {
  const store = i18n.name(S.menu?.store?.name) || '';
  const table = i18n.name(S.menu?.table?.name) || '';
  $('#store-name').textContent = store;
  $('#table-name').textContent = table;
  replaceChildren($('#wait-now'), waits.pill());
  document.title = [table, store].filter(Boolean).join(' · ') || t('menu');
}

function renderLangSwitch() {
  replaceChildren($('#lang-switch'), LANGS.map((code) => el('button', {
    type: 'button',
    class: ['lang-btn', code === i18n.lang && 'is-active'],
    lang: code,
    testid: `lang-${code}`,
    'aria-pressed': code === i18n.lang ? 'true' : 'false',
    text: LANGUAGE_NAMES[code],
    onclick: () => i18n.setLang(code),
  })));
}

function renderChips(categories) {
  const nav = $('#category-chips');
  replaceChildren(nav, categories.map((c) => el('button', {
    type: 'button',
    class: ['chip', c.id === S.activeCategory && 'is-active'],
    dataset: { category: c.id },
    testid: `category-${c.id}`,
    text: i18n.name(c.name),
    onclick: () => scrollToCategory(c.id),
  })));
  nav.hidden = categories.length < 2;
  measureToolbar();
}

function measureToolbar() {
  const h = $('#toolbar').getBoundingClientRect().height;
  document.documentElement.style.setProperty('--toolbar-h', `${Math.round(h)}px`);
}

function scrollToCategory(id) {
  const section = S.sections.get(id);
  if (!section) return;
  const top = section.getBoundingClientRect().top + window.scrollY - $('#toolbar').offsetHeight - 6;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  window.scrollTo({ top: Math.max(0, top), behavior: smooth ? 'smooth' : 'auto' });
  setActiveCategory(id);
}

function setActiveCategory(id) {
  if (S.activeCategory === id) return;
  S.activeCategory = id;
  for (const chip of $('#category-chips').children) {
    const on = chip.dataset.category === id;
    chip.classList.toggle('is-active', on);
    if (on) {
      const nav = $('#category-chips');
      const left = chip.offsetLeft - (nav.clientWidth - chip.offsetWidth) / 2;
      nav.scrollTo({ left: Math.max(0, left), behavior: 'smooth' });
    }
  }
}

let spyQueued = false;
function onScroll() {
  if (spyQueued) return;
  spyQueued = true;
  requestAnimationFrame(() => {
    spyQueued = false;
    const line = $('#toolbar').getBoundingClientRect().bottom + 12;
    let current = null;
    for (const [id, node] of S.sections) {
      if (node.getBoundingClientRect().top <= line) current = id;
    }
    if (!current && S.sections.size) current = S.sections.keys().next().value;
    if (current) setActiveCategory(current);
  });
}

// ---------------------------------------------------------------- menu

function matches(item) {
  if (S.hide.size && (item.allergens || []).some((a) => S.hide.has(a))) return false;
  if (S.only.size && ![...S.only].every((d) => (item.dietary || []).includes(d))) return false;
  const q = fold(S.search).trim();
  if (!q) return true;
  const hay = fold([i18n.name(item.name), item.name?.en, i18n.name(item.description), item.description?.en].join('\n'));
  return q.split(/\s+/).every((word) => hay.includes(word));
}

function orderedCategories() {
  const cats = [...(S.menu.categories || [])];
  const known = new Set(cats.map((c) => c.id));
  if (S.menu.items.some((i) => !known.has(i.category))) cats.push({ id: '__other', name: { en: t('other') } });
  return cats;
}

function renderMenu() {
  if (!S.menu) return;
  const main = $('#menu');
  const inCart = new Map();
  for (const l of S.cart.lines) inCart.set(l.item, (inCart.get(l.item) || 0) + l.qty);
  const known = new Set((S.menu.categories || []).map((c) => c.id));
  const shown = [];
  S.sections = new Map();
  const sections = [];
  for (const cat of orderedCategories()) {
    const items = S.menu.items.filter((it) => (cat.id === '__other' ? !known.has(it.category) : it.category === cat.id) && matches(it));
    if (!items.length) continue;
    const section = el('section', { class: 'd-section', dataset: { category: cat.id } },
      el('h2', { class: 'd-section-title', text: i18n.name(cat.name) }),
      el('div', { class: 'd-items' }, items.map((it) => itemCard(it, inCart.get(it.id) || 0))));
    S.sections.set(cat.id, section);
    sections.push(section);
    shown.push(cat);
  }
  if (!sections.length) {
    sections.push(el('div', { class: 'empty-state' },
      el('p', { class: 'empty-title', text: t('no_matches') }),
      el('button', { type: 'button', class: 'btn btn-secondary', text: t('clear_filters'), onclick: clearFilters })));
  }
  replaceChildren(main, sections);
  main.setAttribute('aria-busy', 'false');
  if (!shown.some((c) => c.id === S.activeCategory)) S.activeCategory = shown[0]?.id ?? null;
  renderChips(shown);
}

function itemCard(item, qtyInCart) {
  const soldOut = !item.available;
  const paused = waits.isPaused(item);
  const name = i18n.name(item.name);
  const desc = i18n.name(item.description);
  const open = () => openItem(item.id);
  return el('article', {
    class: ['item-card', soldOut && 'is-sold-out', paused && 'is-paused', qtyInCart && 'is-in-cart'],
    testid: `item-${item.id}`,
    dataset: { available: soldOut ? 'false' : 'true', paused: paused ? 'true' : null },
    role: 'button',
    tabindex: '0',
    'aria-label': soldOut ? `${name}, ${t('sold_out')}` : `${name}, ${priceText(item)}`,
    onclick: open,
    onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } },
  },
  el('div', { class: 'item-body' },
    el('h3', { class: 'item-name', text: name }),
    desc && el('p', { class: 'item-desc', text: desc }),
    badges(item),
    el('div', { class: 'item-foot' },
      el('span', { class: ['item-price', isWeighed(item) && 'is-by-weight'], testid: `price-${item.id}`, text: priceText(item) }),
      soldOut ? el('span', { class: 'sold-out-tag', text: t('sold_out') })
        : typeof item.stock_left === 'number' && item.stock_left <= LOW_STOCK_SHOWN
          ? el('span', { class: 'stock-left-tag', testid: `left-${item.id}`, text: t('n_left', { n: item.stock_left }) })
          : waits.itemTag(item))),
  el('div', { class: 'item-media' },
    photo(item),
    soldOut || paused ? null : el('span', { class: ['item-add', qtyInCart && 'has-qty'], 'aria-hidden': 'true' },
      qtyInCart ? String(qtyInCart) : icon('plus'))));
}

const badges = (item, long = false) => itemBadges(item, { t, label }, long);

function clearFilters() {
  S.search = '';
  $('#search').value = '';
  S.hide.clear();
  S.only.clear();
  saveFilters();
  renderMenu();
  renderFilterButton();
  if (S.sheet?.kind === 'filters') renderFiltersSheet();
}

function saveFilters() {
  storage.set('tablehub.filter.allergens', [...S.hide]);
  storage.set('tablehub.filter.dietary', [...S.only]);
}

function renderFilterButton() {
  const n = S.hide.size + S.only.size;
  const badge = $('#filter-count');
  badge.textContent = String(n);
  badge.hidden = n === 0;
  $('#filter-button').classList.toggle('is-active', n > 0);
}

// ---------------------------------------------------------------- sheets

let sheetClearTimer = null;
let sheetOpener = null;

function openSheet(kind, data = {}) {
  clearTimeout(sheetClearTimer);
  const wasOpen = Boolean(S.sheet);
  S.sheet = { kind, ...data };
  if (!wasOpen) sheetOpener = document.activeElement;
  const sheet = $('#sheet');
  sheet.dataset.kind = kind;
  renderSheet();
  $('#sheet-body').scrollTop = 0;
  $('#sheet-layer').classList.add('is-open');
  $('#sheet-layer').setAttribute('aria-hidden', 'false');
  document.body.classList.add('has-sheet');
  sheet.focus({ preventScroll: true });
}

function closeSheet() {
  if (!S.sheet) return;
  S.sheet = null;
  $('#sheet-layer').classList.remove('is-open');
  $('#sheet-layer').setAttribute('aria-hidden', 'true');
  document.body.classList.remove('has-sheet');
  clearTimeout(sheetClearTimer);
  sheetClearTimer = setTimeout(() => {
    if (S.sheet) return;
    replaceChildren($('#sheet-body'));
    replaceChildren($('#sheet-foot'));
    $('#sheet-title').textContent = '';
  }, 260);
  if (sheetOpener && document.contains(sheetOpener)) sheetOpener.focus({ preventScroll: true });
  sheetOpener = null;
}

function renderSheet() {
  if (!S.sheet) return;
  const body = $('#sheet-body');
  const scroll = body.scrollTop;
  ({ item: renderItemSheet, cart: renderCartSheet, orders: renderOrdersSheet, filters: renderFiltersSheet, pin: renderPinSheet })[S.sheet.kind]();
  body.scrollTop = scroll;
}

const stepper = (qty, opts) => qtyStepper(qty, { t, ...opts });

// ---------------------------------------------------------------- item sheet

function openItem(id) {
  const item = S.items.get(id);
  if (!item) return;
  const picker = new ItemPicker(item, { i18n, fmt, fmtDelta, label, priceText }, { onChange: updateAddButton });
  openSheet('item', { itemId: id, picker });
}

function renderItemSheet() {
  const { itemId, picker } = S.sheet;
  const item = S.items.get(itemId);
  $('#sheet-title').textContent = i18n.name(item.name);
  replaceChildren($('#sheet-body'), waits.itemNotice(item), picker.body());
  replaceChildren($('#sheet-foot'),
    el('div', { class: 'item-foot-row' },
      picker.qtyNode(),
      el('button', {
        type: 'button', class: 'btn btn-primary btn-lg btn-grow', id: 'add-to-cart', testid: 'add-to-cart',
        onclick: addToCart,
      })));
  picker.update();
}

function updateItemSheet() {
  if (S.sheet?.kind === 'item') S.sheet.picker.update();
}

/** The "Add" button under the picker: the price of what is chosen, or "sold out". */
function updateAddButton(picker) {
  const btn = $('#add-to-cart');
  if (!btn) return;
  const { item } = picker;
  btn.disabled = !orderable(item);
  replaceChildren(btn, orderable(item)
    ? [el('span', { text: t('add_to_cart') }), isWeighed(item) ? null : el('span', { class: 'btn-amount', text: fmt(picker.total()) })]
    : [el('span', { text: item.available ? t('paused_tag') : t('sold_out') })]);
}

function addToCart() {
  const { itemId, picker } = S.sheet;
  const item = S.items.get(itemId);
  if (!orderable(item)) return;
  if (picker.validate()) return;
  const modifiers = picker.modifiers();
  const note = picker.note();
  const qty = picker.draft.qty;
  const same = S.cart.lines.find((l) => l.item === item.id && l.note === note
    && l.modifiers.length === modifiers.length && l.modifiers.every((m, i) => m === modifiers[i]));
  if (same) {
    same.qty = Math.min(MAX_QTY, same.qty + qty);
  } else {
    if (S.cart.lines.length >= MAX_LINES) { showError(t('cart_full', { n: MAX_LINES })); return; }
    S.cart.lines.push({ uid: randomId(10), item: item.id, qty, modifiers, note });
  }
  closeSheet();
  cartChanged();
  toast(t('added_to_cart', { name: i18n.name(item.name) }));
  const cartBtn = $('#cart-button');
  cartBtn.classList.remove('is-bumped');
  void cartBtn.offsetWidth;
  cartBtn.classList.add('is-bumped');
}

// ---------------------------------------------------------------- cart sheet

function renderCartSheet() {
  $('#sheet-title').textContent = t('your_cart');
  const lines = S.cart.lines;
  const body = lines.length
    ? el('ul', { class: 'cart-lines' }, lines.map(cartLine))
    : el('div', { class: 'empty-state' },
      el('div', { class: 'empty-icon' }, icon('cart')),
      el('p', { class: 'empty-title', text: t('cart_empty') }),
      el('p', { class: 'empty-text', text: t('cart_empty_text') }));
  replaceChildren($('#sheet-body'), body);
  const soldOut = cartHasSoldOut();
  const closed = tableClosed();
  const btn = el('button', {
    type: 'button', class: ['btn btn-primary btn-lg btn-block', !S.sending && 'btn-split', S.sending && 'is-busy'], testid: 'place-order',
    disabled: S.sending || !lines.length || soldOut || closed, 'aria-busy': S.sending ? 'true' : 'false',
    onclick: placeOrder,
  }, S.sending
    ? [el('span', { class: 'spinner spinner-light' }), el('span', { text: t('sending') })]
    : [el('span', { text: t('place_order') }), el('span', { class: 'btn-amount', text: fmt(cartTotal()) })]);
  const cartItems = lines.map((l) => S.items.get(l.item)).filter(Boolean);
  replaceChildren($('#sheet-foot'), lines.length ? [
    waits.cartBlock(cartItems, S.allTogether, (on) => { S.allTogether = on; renderCartSheet(); }),
    el('div', { class: 'total-row' }, el('span', { text: t('total') }), el('strong', { testid: 'cart-total', text: fmt(cartTotal()) })),
    soldOut ? el('p', { class: 'foot-hint foot-hint-danger', text: t('remove_sold_out') }) : null,
    closed ? el('p', { class: 'foot-hint foot-hint-danger', testid: 'table-closed-hint', text: t('table_closed_hint') }) : null,
    btn,
    el('p', { class: 'foot-hint', text: cartHasWeighed() ? `${t('weighed_total_hint')} ${t('pay_hint')}` : t('pay_hint') }),
  ] : [el('button', { type: 'button', class: 'btn btn-secondary btn-lg btn-block', text: t('browse_menu'), onclick: closeSheet })]);
}

function cartLine(line, index) {
  const item = S.items.get(line.item);
  const soldOut = !item.available;
  const paused = waits.isPaused(item);
  const err = S.lineErrors.get(line.uid);
  const mods = optionNames(item, line.modifiers);
  const setQty = (q) => { line.qty = q; cartChanged(); };
  return el('li', {
    class: ['cart-line', soldOut && 'is-sold-out', err && 'has-error'],
    testid: `cart-line-${index}`,
    dataset: { item: line.item },
  },
  el('div', { class: 'cart-line-top' },
    el('div', { class: 'cart-line-name', text: i18n.name(item.name) }),
    isWeighed(item)
      ? el('div', { class: 'cart-line-price is-pending', testid: `line-price-${index}`, text: t('priced_when_weighed') })
      : el('div', { class: 'cart-line-price', testid: `line-price-${index}`, text: fmt(unitCents(item, line.modifiers) * line.qty) })),
  isWeighed(item) ? el('div', { class: 'cart-line-rate', text: priceText(item) }) : null,
  mods.length ? el('div', { class: 'cart-line-mods', text: mods.join(' · ') }) : null,
  line.note ? el('div', { class: 'cart-line-note', text: line.note }) : null,
  soldOut ? el('div', { class: 'line-msg line-msg-danger', text: t('line_sold_out') }) : null,
  !soldOut && paused ? el('div', { class: 'line-msg line-msg-danger', testid: `line-paused-${index}`, text: waits.pausedText(item) }) : null,
  err ? el('div', { class: 'line-msg line-msg-danger', role: 'alert', testid: `line-error-${index}`, text: err }) : null,
  el('div', { class: 'cart-line-actions' },
    stepper(line.qty, { onChange: setQty, disabled: S.sending || soldOut, testid: `line-qty-${index}` }),
    el('button', {
      type: 'button', class: 'btn btn-text btn-danger-text', disabled: S.sending, testid: `remove-line-${index}`,
      onclick: () => { S.cart.lines.splice(S.cart.lines.indexOf(line), 1); cartChanged(); },
    }, icon('trash'), el('span', { text: t('remove') }))));
}

/**
 * Send the cart once. One idempotency key per submission, kept with the cart (and saved) until
 * the cart changes or the order is accepted, so retries, double taps and even a reload after a
 * lost answer all replay the same order instead of creating a second one.
 */
async function placeOrder() {
  if (S.sending || !S.cart.lines.length || cartHasSoldOut()) return;
  if (tableClosed()) { renderSheetIfCart(); return; }
  if (needsPin()) { openSheet('pin'); return; }
  S.sending = true;
  hideError();
  S.lineErrors.clear();
  if (!S.cart.key) { S.cart.key = randomId(24); saveCart(); }
  const sent = S.cart.lines.slice();
  const body = {
    table: token,
    idempotency_key: S.cart.key,
    lines: sent.map((l) => ({ item: l.item, qty: l.qty, modifiers: l.modifiers, note: l.note })),
  };
  if (S.allTogether && waits.heldCourses(sent.map((l) => S.items.get(l.item)).filter(Boolean)).length > 1) body.all_together = true;
  if (S.table?.requires_pin) body.pin = S.pin;
  renderSheetIfCart();
  renderBottomBar();
  let order = null;
  let error = null;
  for (const delay of RETRY_DELAYS_MS) {
    if (delay) await sleep(delay);
    try {
      order = await api('/api/v1/orders', { method: 'POST', body });
      error = null;
      break;
    } catch (e) {
      error = e instanceof ApiError ? e : new ApiError(0, { message: String(e) });
      if (!(error.isNetwork || [502, 503, 504].includes(error.status))) break;
    }
  }
  S.sending = false;
  if (order) {
    if (body.pin) savePin(body.pin);
    S.cart = { lines: [], key: null };
    S.allTogether = false;
    saveCart();
    upsertOrder(order, true);
    waits.load(order.order_id).then(() => waits.changed('orders'));
    renderMenu();
    renderBottomBar();
    openSheet('orders', { justPlaced: order.order_id });
    toast(t('order_placed', { number: order.number ?? order.order_id }));
    return;
  }
  orderFailed(error, sent);
}

function orderFailed(error, sent) {
  if (!error.isNetwork && error.status < 500) {
    // The hub answered: no order was made with this key, so the next attempt gets a new one.
    S.cart.key = null;
    saveCart();
  }
  if (tableRefused(error)) return;
  if (S.sheet?.kind === 'pin') openSheet('cart'); // what went wrong is shown on the cart
  const m = /^lines\[(\d+)\]/.exec(error.field || '');
  const line = m ? sent[Number(m[1])] : null;
  const short = error.code === 'not_enough_left' && typeof error.body?.left === 'number';
  if (short && line) {
    // a counted dish: say how many remain; none left is a sell-out like any other
    const item = S.items.get(line.item);
    if (item) item.stock_left = error.body.left;
    if (item && error.body.left === 0) setAvailable(item.id, false, { quiet: true });
  } else if (error.code === 'sold_out' && line) {
    const item = S.items.get(line.item);
    if (item) setAvailable(item.id, false, { quiet: true });
    // sold out, or paused while its station is over its load: the menu says which
    reloadMenu();
  }
  if (line && S.cart.lines.includes(line)) {
    S.lineErrors.set(line.uid, short && error.body.left > 0 ? t('only_left', { n: error.body.left }) : error.message);
    showError(t('order_line_problem'));
  } else if (error.isNetwork) {
    showError(t('order_network_error'));
  } else if (error.code === 'bad_table_token') {
    showError(t('bad_table_text'));
  } else if (error.status === 503 || error.code === 'unavailable') {
    showError(t('order_unavailable'));
  } else {
    showError(t('order_failed', { message: error.message }));
  }
  renderBottomBar();
  renderSheetIfCart();
  const first = $('#sheet-body .has-error');
  first?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function renderSheetIfCart() {
  if (S.sheet?.kind === 'cart') renderCartSheet();
  else if (S.sheet?.kind === 'pin') renderPinSheet();
}

// ---------------------------------------------------------------- closed table, table PIN

/** The hub refused the order because of the table (closed) or its PIN: say so; true if so. */
function tableRefused(error) {
  if (error.code === 'table_closed') {
    savePin('');
    if (S.table) S.table.open = false;
    renderTableState();
    if (S.sheet?.kind === 'pin') closeSheet();
    renderSheetIfCart();
    showError(t('table_closed_now'));
    renderBottomBar();
    return true;
  }
  if (error.field !== 'pin') return false;
  savePin('');
  if (error.status === 429) {
    S.pinLockedUntil = Date.now() + 1000 * (error.retryAfter || 120);
    openSheet('pin', { error: lockedText() });
    schedulePinUnlock();
  } else {
    // the hub's own words in English; the page's language otherwise
    openSheet('pin', { error: i18n.lang === 'en' && error.message ? sentence(error.message) : t('pin_wrong') });
  }
  renderBottomBar();
  return true;
}

const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
const pinLocked = () => Date.now() < S.pinLockedUntil;
const lockedText = () => t('pin_locked', { time: waitText(t, (S.pinLockedUntil - Date.now()) / 1000) });

let unlockTimer = null;
function schedulePinUnlock() {
  clearTimeout(unlockTimer);
  unlockTimer = setTimeout(() => {
    if (pinLocked()) { schedulePinUnlock(); return; }
    if (S.sheet?.kind === 'pin') { S.sheet.error = ''; renderPinSheet(); }
  }, Math.min(30000, Math.max(250, S.pinLockedUntil - Date.now())));
}

/** The "ask staff to open this table" panel; the menu stays browsable. */
function renderTableState() {
  const closed = tableClosed();
  $('#table-closed').hidden = !closed;
  document.body.classList.toggle('is-table-closed', closed);
}

async function checkTableAgain() {
  const btn = $('#table-check-again');
  btn.disabled = true;
  const wasClosed = tableClosed();
  await reloadMenu();
  btn.disabled = false;
  if (wasClosed && !tableClosed()) toast(t('table_opened_toast'));
}

function renderPinSheet() {
  $('#sheet-title').textContent = t('pin_title');
  const locked = pinLocked();
  const error = locked ? lockedText() : S.sheet.error || '';
  const input = el('input', {
    class: 'input pin-field', id: 'pin-input', type: 'text', inputmode: 'numeric', pattern: '[0-9]*',
    maxlength: String(MAX_PIN), autocomplete: 'off', 'aria-label': t('pin_label'), testid: 'pin-input',
    value: S.sheet.typed || '', disabled: S.sending || locked,
    oninput: (ev) => { ev.target.value = digitsOnly(ev.target.value, MAX_PIN); pinTyped(ev.target.value); },
    onkeydown: (ev) => { if (ev.key === 'Enter') submitPin(); },
  });
  replaceChildren($('#sheet-body'), el('div', { class: 'pin-block' },
    el('p', { class: 'pin-intro', text: t('pin_intro') }),
    input,
    el('p', { class: 'form-error pin-error', id: 'pin-error', role: 'alert', testid: 'pin-error', text: error, hidden: !error }),
    pinPad(input, { t, testid: 'pin-key', onChange: pinTyped })));
  replaceChildren($('#sheet-foot'), el('button', {
    type: 'button', class: ['btn btn-primary btn-lg btn-block', S.sending && 'is-busy'], testid: 'pin-submit',
    disabled: S.sending || locked, 'aria-busy': S.sending ? 'true' : 'false', onclick: submitPin,
  }, S.sending
    ? [el('span', { class: 'spinner spinner-light' }), el('span', { text: t('sending') })]
    : [el('span', { text: t('pin_submit') }), el('span', { class: 'btn-amount', text: fmt(cartTotal()) })]));
  if (!S.sending && !locked) requestAnimationFrame(() => input.focus({ preventScroll: true }));
}

function pinTyped(value) {
  if (S.sheet?.kind !== 'pin') return;
  S.sheet.typed = value;
  if (S.sheet.error) {
    S.sheet.error = '';
    const err = $('#pin-error');
    if (err) { err.hidden = true; err.textContent = ''; }
  }
}

function submitPin() {
  if (S.sheet?.kind !== 'pin' || S.sending || pinLocked()) return;
  const pin = digitsOnly(S.sheet.typed, MAX_PIN);
  if (pin.length < 4) {
    S.sheet.error = t('pin_short');
    renderPinSheet();
    return;
  }
  S.pin = pin; // remembered once the hub accepts an order with it
  S.sheet.typed = '';
  placeOrder();
}

// ---------------------------------------------------------------- orders

const rank = (status) => STEPS.indexOf(status);

/** Add or replace an order; the answer to our own POST never moves a status backwards. */
function upsertOrder(order, fromPost = false) {
  const prev = S.orders.get(order.order_id);
  if (fromPost && prev && rank(prev.status) > rank(order.status)) order = { ...order, status: prev.status };
  S.orders.set(order.order_id, order);
  return prev;
}

const sortedOrders = () => [...S.orders.values()].sort((a, b) => (b.round ?? 0) - (a.round ?? 0)
  || String(b.created_at).localeCompare(String(a.created_at)) || b.order_id - a.order_id);

function renderOrdersSheet() {
  $('#sheet-title').textContent = t('your_orders');
  const orders = sortedOrders();
  const total = orders.reduce((s, o) => s + (o.total_cents || 0), 0);
  const pending = orders.some((o) => (o.lines || []).some(linePending));
  replaceChildren($('#sheet-body'), orders.length ? [
    el('div', { class: 'check-summary' },
      el('div', null,
        el('div', { class: 'check-label', text: t('check_total') }),
        el('div', { class: 'check-sub', text: t('orders_count', { n: orders.length }) }),
        pending ? el('div', { class: 'check-sub check-pending', text: t('plus_weighed') }) : null),
      el('div', { class: 'check-total', testid: 'check-total', text: fmt(total) })),
    el('div', { class: 'order-list' }, orders.map(orderCard)),
  ] : el('div', { class: 'empty-state' },
    el('div', { class: 'empty-icon' }, icon('receipt')),
    el('p', { class: 'empty-title', text: t('no_orders') }),
    el('p', { class: 'empty-text', text: t('no_orders_text') })));
  replaceChildren($('#sheet-foot'),
    el('button', { type: 'button', class: 'btn btn-secondary btn-lg btn-block', text: t('order_more'), onclick: closeSheet }));
}

function orderCard(o) {
  const step = Math.max(0, rank(o.status));
  const fresh = S.sheet?.justPlaced === o.order_id;
  return el('article', {
    class: ['order-card', `status-${o.status}`, fresh && 'is-fresh'],
    testid: `order-${o.order_id}`,
    dataset: { status: o.status },
  },
  el('header', { class: 'order-head' },
    el('div', null,
      el('div', { class: 'order-number', text: t('order_number', { number: o.number ?? o.order_id }) }),
      el('div', { class: 'order-meta', text: [
        o.round ? t('round_n', { n: o.round }) : '', clockTime(o.created_at, i18n.lang), o.entered_by ? t('entered_by', { who: o.entered_by }) : '',
      ].filter(Boolean).join(' · ') })),
    el('span', { class: `status-pill status-${o.status}`, testid: `status-pill-${o.order_id}`, text: t(`status_${o.status}`) })),
  el('ol', { class: 'progress', 'aria-label': t(`status_${o.status}`) }, STEPS.map((s, i) => el('li', {
    class: ['progress-step', i < step && 'is-done', i === step && 'is-current'],
  }, el('span', { class: 'progress-dot' }, i < step ? icon('check') : null), el('span', { class: 'progress-label', text: t(`status_${s}`) })))),
  waits.orderBlock(o),
  el('ul', { class: 'order-lines' }, (o.lines || []).map((l, idx) => el('li', {
    class: ['order-line', lineGone(l) && 'is-void'], testid: `order-line-${o.order_id}-${idx}`,
  },
    el('span', { class: 'order-line-qty', text: `${lineGone(l) ? l.qty : lineLeft(l)}×` }),
    el('div', { class: 'order-line-main' },
      el('div', { class: 'order-line-name', text: i18n.name(l.name) || l.item }),
      Number(l.void_qty) > 0 ? el('div', { class: 'order-line-void', testid: `order-line-void-${o.order_id}-${idx}`, text: voidText(l) }) : null,
      (l.modifiers || []).length ? el('div', { class: 'order-line-mods', text: l.modifiers.map((m) => i18n.name(m.name) || m.id).join(' · ') }) : null,
      l.note ? el('div', { class: 'order-line-note', text: l.note }) : null,
      lineWeighed(l) ? orderLinePrice(o, l, idx) : null),
    lineWeighed(l) ? null : orderLinePrice(o, l, idx)))),
  el('footer', { class: 'order-foot' },
    el('span', { text: t('total') }),
    el('span', { class: 'order-foot-total' },
      (o.lines || []).some(linePending) ? el('span', { class: 'order-foot-pending', text: t('plus_weighed') }) : null,
      el('strong', { text: fmt(o.total_cents) }))));
}

/** A line's price; a line sold by weight shows "priced when weighed", then "1,234 g — $148.08". */
function orderLinePrice(o, l, idx) {
  if (!lineWeighed(l)) return el('span', { class: 'order-line-price', text: fmt(l.line_cents) });
  const weighed = !linePending(l);
  return el('div', {
    class: ['order-line-weight', weighed ? 'is-weighed' : 'is-pending'],
    testid: `weighed-${o.order_id}-${idx}`,
    dataset: { grams: weighed ? l.grams : '' },
  }, icon('scale'), el('span', {
    text: weighed ? t('weighed_price', { weight: grams(l.grams, i18n.lang), price: fmt(l.line_cents) }) : t('priced_when_weighed'),
  }));
}

// ---------------------------------------------------------------- bottom bar

function renderBottomBar() {
  const n = cartCount();
  const cart = $('#cart-button');
  cart.classList.toggle('is-empty', n === 0);
  replaceChildren(cart,
    el('span', { class: 'cart-count', testid: 'cart-count', text: String(n) }),
    el('span', { class: 'cart-label', text: n ? t('view_cart') : (S.orders.size ? t('cart_short') : t('cart_empty')) }),
    n ? el('span', { class: 'cart-total', text: fmt(cartTotal()) }) : null);
  cart.setAttribute('aria-label', `${t('view_cart')}: ${t('items_count', { n })}`);
  const ordersBtn = $('#orders-button');
  const orders = sortedOrders();
  ordersBtn.hidden = orders.length === 0;
  ordersBtn.classList.toggle('is-compact', n > 0);
  if (orders.length) {
    const active = orders.find((o) => o.status !== 'served') || orders[0];
    ordersBtn.setAttribute('aria-label', `${t('your_orders')}: ${t(`status_${active.status}`)}`);
    replaceChildren(ordersBtn,
      icon('receipt'),
      el('span', { class: 'orders-btn-text', title: t('your_orders') },
        el('span', { class: 'orders-btn-label', text: t('your_orders') }),
        el('span', { class: `orders-btn-status status-text-${active.status}`, text: t(`status_${active.status}`) })));
  }
  document.body.classList.toggle('has-orders', orders.length > 0);
}

// ---------------------------------------------------------------- filters sheet

function renderFiltersSheet() {
  $('#sheet-title').textContent = t('filters');
  const labels = S.menu?.labels || {};
  const toggle = (set, key) => () => {
    if (set.has(key)) set.delete(key); else set.add(key);
    saveFilters();
    renderMenu();
    renderFilterButton();
    renderFiltersSheet();
  };
  const group = (title, hint, kind, set, cls) => {
    const keys = Object.keys(labels[kind] || {});
    if (!keys.length) return null;
    return el('section', { class: 'filter-group' },
      el('h3', { class: 'filter-title', text: title }),
      el('p', { class: 'filter-hint', text: hint }),
      el('div', { class: 'filter-chips' }, keys.map((k) => el('button', {
        type: 'button',
        class: ['filter-chip', cls, set.has(k) && 'is-on'],
        'aria-pressed': set.has(k) ? 'true' : 'false',
        testid: `filter-${kind}-${k}`,
        onclick: toggle(set, k),
      }, set.has(k) ? icon('check') : null, el('span', { text: label(kind, k) })))));
  };
  replaceChildren($('#sheet-body'),
    group(t('filter_allergens'), t('filter_allergens_hint'), 'allergens', S.hide, 'filter-chip-allergen'),
    group(t('filter_dietary'), t('filter_dietary_hint'), 'dietary', S.only, 'filter-chip-diet'),
    el('p', { class: 'foot-hint', text: t('allergen_disclaimer') }));
  const visible = S.menu ? S.menu.items.filter(matches).length : 0;
  replaceChildren($('#sheet-foot'), el('div', { class: 'item-foot-row' },
    el('button', { type: 'button', class: 'btn btn-secondary btn-lg', text: t('clear'), onclick: clearFilters }),
    el('button', { type: 'button', class: 'btn btn-primary btn-lg btn-grow', text: t('show_n_dishes', { n: visible }), onclick: closeSheet })));
}

// ---------------------------------------------------------------- calling staff

/** The "Call staff" buttons and, under them, what became of each request. */
function renderCalls() {
  const box = $('#call-staff');
  if (!box) return;
  box.hidden = !S.menu;
  replaceChildren($('#call-buttons'), CALL_KINDS.map(([kind, ic]) => {
    const call = S.calls.get(kind);
    const busy = S.callBusy.has(kind);
    return el('button', {
      type: 'button',
      class: ['call-btn', `call-btn-${kind}`, call && 'is-active', call?.state === 'acked' && 'is-acked', busy && 'is-busy'],
      testid: `call-${kind}`,
      'aria-pressed': call ? 'true' : 'false',
      disabled: busy,
      onclick: () => callStaff(kind),
    },
    busy ? el('span', { class: 'spinner spinner-small' }) : icon(ic),
    el('span', { text: t(`call_kind_${kind}`) }));
  }));
  const active = CALL_KINDS.map(([kind, ic]) => [S.calls.get(kind), ic]).filter(([c]) => c);
  replaceChildren($('#call-states'), active.map(([c, ic]) => el('li', {
    class: ['call-state', `call-state-${c.state}`],
    testid: `call-state-${c.kind}`,
    dataset: { state: c.state },
  },
  el('span', { class: 'call-state-icon' }, c.state === 'acked' ? icon('check') : icon(ic)),
  el('span', { class: 'call-state-text' },
    el('strong', { text: t(`call_kind_${c.kind}`) }),
    el('span', { text: c.state === 'acked' ? t('call_on_the_way') : t('call_sent') })),
  c.state === 'open' ? el('span', { class: 'call-state-pulse', 'aria-hidden': 'true' }) : null)));
  $('#call-states').hidden = active.length === 0;
}

/** A call of this table changed (snapshot, live message or our own POST's answer). */
function upsertCall(call, { live = false } = {}) {
  if (!call || !call.kind) return;
  const prev = S.calls.get(call.kind);
  if (prev && prev.id !== call.id && call.state === 'closed') return; // an older call of that kind
  if (call.state === 'closed') S.calls.delete(call.kind);
  else S.calls.set(call.kind, call);
  if (live && call.state === 'acked' && prev?.state === 'open') {
    toast(t('call_on_the_way'));
    if (navigator.vibrate) navigator.vibrate([80, 60, 80]);
  }
}

async function callStaff(kind) {
  if (S.callBusy.has(kind)) return;
  S.callBusy.add(kind);
  renderCalls();
  try {
    const { status, data: call } = await api('/api/v1/calls', { method: 'POST', body: { table: token, kind }, withStatus: true });
    upsertCall(call);
    hideError();
    // 201: a new call; 200: one of this kind was open already (staff know)
    toast(status === 201 ? t('call_sent_toast', { kind: t(`call_kind_${kind}`) }) : t('call_already'));
  } catch (e) {
    if (e.status === 429) showError(e.message || t('call_too_many'));
    else if (e.code === 'bad_table_token') showError(t('bad_table_text'));
    else if (e.isNetwork) showError(t('call_network_error'));
    else showError(t('call_failed', { message: e.message }));
  } finally {
    S.callBusy.delete(kind);
    renderCalls();
  }
}

// ---------------------------------------------------------------- live updates

function setAvailable(id, available, { quiet = false } = {}) {
  const item = S.items.get(id);
  if (!item || item.available === available) return;
  item.available = available;
  const name = i18n.name(item.name);
  if (!available && !quiet) {
    const inCart = S.cart.lines.some((l) => l.item === id);
    if (S.sheet?.kind === 'item' && S.sheet.itemId === id) {
      closeSheet();
      showError(t('item_sold_out_now', { name }), 8000);
    } else if (inCart) {
      showError(t('cart_item_sold_out', { name }), 8000);
    }
  }
  renderMenu();
  renderBottomBar();
  if (S.sheet?.kind === 'cart') renderCartSheet();
  else if (S.sheet?.kind === 'item' && S.sheet.itemId === id) updateItemSheet();
}

function applySoldOut(ids) {
  const out = new Set(ids);
  for (const item of S.items.values()) setAvailable(item.id, !out.has(item.id));
}

function onMessage(msg) {
  if (msg.type === 'wait') { waits.onWait(msg); return; }
  if (msg.type === 'eta') { waits.onEta(msg); return; }
  if (msg.type === 'snapshot') {
    S.orders = new Map();
    for (const o of msg.orders || []) S.orders.set(o.order_id, o);
    if (Array.isArray(msg.sold_out)) applySoldOut(msg.sold_out);
    if (Array.isArray(msg.calls)) {
      S.calls = new Map();
      for (const c of [...msg.calls].sort((a, b) => (a.opened_ms || 0) - (b.opened_ms || 0))) upsertCall(c);
      renderCalls();
    }
    ordersChanged();
  } else if (msg.type === 'call' && msg.call) {
    upsertCall(msg.call, { live: true });
    renderCalls();
  } else if (msg.type === 'order' && msg.order && S.table?.id && msg.order.table?.id && msg.order.table.id !== S.table.id) {
    // an order that moved to another table is no longer this table's
    S.orders.delete(msg.order.order_id);
    ordersChanged();
  } else if (msg.type === 'order' && msg.order) {
    const prev = upsertOrder(msg.order);
    if (msg.order.status === 'ready' && prev?.status !== 'ready') {
      toast(t('order_ready_toast', { number: msg.order.number ?? msg.order.order_id }));
      if (navigator.vibrate) navigator.vibrate([120, 80, 120]);
    }
    ordersChanged();
  } else if (msg.type === 'availability') {
    setAvailable(msg.item, Boolean(msg.available));
  } else if (msg.type === 'menu') {
    reloadMenu();
  } else if (/^check\b/.test(msg.type) || msg.type === 'payment') {
    // the check moved, merged, split or was paid: what this table owes is re-read
    refreshCheck(msg);
  } else if (msg.type === 'table') {
    refreshCheck(msg);
    // opened or closed by staff: a new party, a new PIN; the menu says whether it may order
    savePin('');
    const wasClosed = tableClosed();
    reloadMenu().then(() => { if (wasClosed && !tableClosed()) toast(t('table_opened_toast')); });
  }
}

/** Re-read this table's open check; a check that moved to another table leaves this phone
 *  with a notice naming where it went (never a stale check). */
async function refreshCheck(msg) {
  let check;
  try {
    check = await api(`/api/v1/check?table=${encodeURIComponent(token)}`);
  } catch { return; }
  const had = S.orders.size;
  S.orders = new Map((check?.orders || []).map((o) => [o.order_id, o]));
  const here = S.table?.id;
  const to = msg?.table;
  if (had && !S.orders.size && msg?.from_table?.id === here && to?.id && to.id !== here) {
    S.movedTo = i18n.name(to.name) || to.id;
    showMoved();
  }
  ordersChanged();
}

function showMoved() {
  const box = $('#check-moved');
  if (!box) return;
  box.hidden = !S.movedTo;
  $('#check-moved-text').textContent = S.movedTo ? t('check_moved_text', { table: S.movedTo }) : '';
}

/** The hub's menu changed (not in api.md v1; sent by the hub as `{"type": "menu"}`): re-read it. */
async function reloadMenu() {
  try {
    const menu = await api(`/api/v1/menu?table=${encodeURIComponent(token)}`);
    setMenu(menu);
  } catch { /* keep the menu we have */ }
}

let waitsTimer = null;
function ordersChanged() {
  if (S.orders.size && S.movedTo) { S.movedTo = null; showMoved(); }
  clearTimeout(waitsTimer); // the ETAs and courses of the orders, once for a burst of news
  waitsTimer = setTimeout(() => waits.refresh([...S.orders.values()]), 300);
  renderBottomBar();
  if (S.sheet?.kind === 'orders') renderOrdersSheet();
}

// ---------------------------------------------------------------- start

function renderAll() {
  renderHeader();
  renderTableState();
  renderLangSwitch();
  renderCalls();
  renderMenu();
  renderFilterButton();
  renderBottomBar();
  if (S.sheet) renderSheet();
}

function showFatal(title, text, retry) {
  document.body.classList.add('is-fatal');
  replaceChildren($('#menu'), el('section', { class: 'fatal', role: 'alert', testid: 'fatal' },
    el('div', { class: 'fatal-icon' }, icon('alert')),
    el('h2', { text: title }),
    el('p', { text }),
    retry ? el('button', { type: 'button', class: 'btn btn-primary btn-lg', text: t('try_again'), onclick: retry }) : null));
  $('#menu').setAttribute('aria-busy', 'false');
}

async function loadMenu() {
  if (!token) { showFatal(t('bad_table_title'), t('bad_table_text')); return; }
  let menu;
  try {
    menu = await api(`/api/v1/menu?table=${encodeURIComponent(token)}`);
  } catch (e) {
    if (e.code === 'bad_table_token' || e.status === 403 || e.status === 404) {
      showFatal(t('bad_table_title'), t('bad_table_text'));
    } else {
      showFatal(t('load_failed_title'), t('load_failed_text'), () => {
        document.body.classList.remove('is-fatal');
        replaceChildren($('#menu'), el('div', { class: 'd-loading' }, el('span', { class: 'spinner' })));
        loadMenu();
      });
    }
    return;
  }
  document.body.classList.remove('is-fatal');
  setMenu(menu);
  S.socket = new LiveSocket(`/ws/table?table=${encodeURIComponent(token)}`, { onMessage, onState: onConnState }).start();
  waits.start(() => [...S.orders.values()]);
}

function setMenu(menu) {
  for (const it of menu.items || []) {
    it.modifier_groups = it.modifier_groups || [];
    it.available = it.available !== false;
  }
  menu.items = menu.items || [];
  S.menu = menu;
  waits.fromMenu(menu);
  S.table = menu.table && typeof menu.table === 'object' ? menu.table : null;
  S.items = new Map(menu.items.map((it) => [it.id, it]));
  for (const key of [...S.hide]) if (!menu.labels?.allergens?.[key]) S.hide.delete(key);
  for (const key of [...S.only]) if (!menu.labels?.dietary?.[key]) S.only.delete(key);
  pruneCart();
  if (S.sheet?.kind === 'item' && !S.items.has(S.sheet.itemId)) closeSheet();
  renderAll();
}

function wire() {
  $('#search-icon').append(icon('search'));
  $('#filter-icon').append(icon('filter'));
  $('#sheet-close').append(icon('close'));
  $('#error-banner-close').textContent = '';
  $('#error-banner-close').append(icon('close'));
  $('#error-banner-close').addEventListener('click', hideError);
  $('#sheet-close').addEventListener('click', closeSheet);
  $('#sheet-backdrop').addEventListener('click', closeSheet);
  $('#cart-button').addEventListener('click', () => openSheet('cart'));
  $('#table-closed-icon').append(icon('alert'));
  $('#table-check-again').addEventListener('click', checkTableAgain);
  $('#check-moved-close').addEventListener('click', () => { S.movedTo = null; showMoved(); });
  $('#orders-button').addEventListener('click', () => openSheet('orders'));
  $('#filter-button').addEventListener('click', () => openSheet('filters'));
  let searchTimer = null;
  $('#search').addEventListener('input', (ev) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      S.search = ev.target.value;
      renderMenu();
      window.scrollTo({ top: Math.min(window.scrollY, $('#toolbar').offsetTop) });
    }, 120);
  });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && S.sheet) closeSheet(); });
  window.addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('resize', measureToolbar);
  i18n.onChange(renderAll);
  renderLangSwitch();
  renderBottomBar();
}

wire();
loadMenu();
