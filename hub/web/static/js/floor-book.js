/**
 * The floor view's Book tab, for the host stand: the day's reservations on a timeline of
 * tables (two bookings overlapping on one table show red before the party arrives), a form to
 * book (a double booking is refused with the clash named, and "Book anyway" books it with the
 * warning), seat / cancel / no-show, and the waitlist of walk-ins with the quoted wait, the QR
 * code of the guest's own page, "table ready" and seat. Phones come masked from the hub.
 * Every string is set with textContent.
 */
import { $, ApiError, el, randomId, replaceChildren, staffRetry } from './common.js';
import { BOOK_STRINGS } from './floor-book-strings.js';
import { STRINGS } from './i18n.js';

for (const [lang, strings] of Object.entries(BOOK_STRINGS)) Object.assign(STRINGS[lang], strings);

const HOUR_MS = 3600 * 1000;
const FIRST_HOUR = 11; // the timeline shows 11:00 to midnight, wider when bookings need it

const B = {
  visible: false,
  day: localDay(new Date()),
  book: null,     // GET /api/v1/reservations
  wait: null,     // GET /api/v1/waitlist
  clash: null,    // {body, message}: the booking refused as a double booking
  items: null,    // the menu's dishes without a required choice, for pre-orders
  dishes: [],     // the pre-order being taken: [{item, qty}]
  lastWalkIn: null,
  ctx: null,
  editing: null,  // the booking the form is editing, or null for a new one
};
let reloadTimer = null;

const t = (key, vars) => B.ctx.i18n.t(key, vars);

function localDay(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function call(path, body) {
  try {
    return await staffRetry(path, body);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) B.ctx.onAuthError(e);
    throw e;
  }
}

async function load() {
  await loadItems();
  try {
    [B.book, B.wait] = await Promise.all([
      call(`/api/v1/reservations?date=${encodeURIComponent(B.day)}`),
      call('/api/v1/waitlist'),
    ]);
  } catch (e) {
    B.ctx.toast(e.message || String(e), 'error');
  }
  render();
}

// ---------------------------------------------------------------- booking

function formBody() {
  const f = $('#book-form');
  const body = {
    id: B.editing?.id || `res-${randomId(16)}`,
    name: f.elements.name.value,
    party: Number(f.elements.party.value),
    at: `${B.day}T${f.elements.time.value}`,
    phone: f.elements.phone.value || null,
    notes: f.elements.notes.value,
    table: f.elements.table.value || null,
    dishes: B.dishes.map((d) => ({ item: d.item, qty: d.qty })),
  };
  return body;
}

async function submitBooking(body) {
  try {
    const made = await call('/api/v1/reservations', body);
    B.clash = null;
    stopEditing();
    B.ctx.toast(t('book_saved', { name: made.reservation.name }));
  } catch (e) {
    if (e instanceof ApiError && e.code === 'double_booked') {
      B.clash = { body, message: e.message };
    } else {
      B.ctx.toast(e.message || String(e), 'error');
    }
  }
  await load();
}

async function act(path, body, done) {
  try {
    const res = await call(path, { id: `act-${randomId(16)}`, ...body });
    if (done) B.ctx.toast(done(res));
  } catch (e) {
    B.ctx.toast(e.message || String(e), 'error');
  }
  await load();
}

function tableSelect(testid, value, { any = false } = {}) {
  const tables = B.book?.tables || [];
  return el('select', { testid, class: 'book-select', name: 'table' },
    any ? el('option', { value: '', text: t('book_any_table') }) : null,
    tables.map((tb) => el('option', { value: tb.table, text: tb.name || tb.table, selected: tb.table === value })));
}

/** Edit a booking: the form takes its details (the phone stays blank: the hub keeps the one
 * it has unless a new one is typed) and saving sends the booking's own id. */
function startEditing(r) {
  const f = $('#book-form');
  B.editing = r;
  f.elements.name.value = r.name;
  f.elements.party.value = String(r.party);
  f.elements.time.value = r.at.slice(11, 16);
  f.elements.table.value = r.table || '';
  f.elements.phone.value = '';
  f.elements.phone.placeholder = r.phone ? t('book_phone_kept', { phone: r.phone }) : '';
  f.elements.notes.value = r.notes || '';
  B.dishes = (r.dishes || []).map((d) => ({ item: d.item, qty: d.qty }));
  renderDishes();
  markEditing();
  f.scrollIntoView({ block: 'start' });
  f.elements.name.focus();
}

function stopEditing() {
  B.editing = null;
  B.dishes = [];
  const f = $('#book-form');
  f.reset();
  f.elements.phone.placeholder = '';
  renderDishes();
  markEditing();
}

function markEditing() {
  const editing = Boolean(B.editing);
  $('#book-form-title').textContent = editing ? t('book_edit_title', { name: B.editing.name }) : t('book_new');
  $('#book-save').textContent = editing ? t('book_save_edit') : t('book_save');
  $('#book-edit-cancel').hidden = !editing;
}

/** The booking form: built once and kept, so news arriving while the host types loses
 * nothing. */
function buildForm() {
  const form = el('form', { id: 'book-form', class: 'book-form', testid: 'book-form' },
    el('h3', { id: 'book-form-title', class: 'floor-section-title', text: t('book_new') }),
    el('label', null, el('span', { text: t('book_name') }), el('input', { name: 'name', required: true, maxlength: '80', testid: 'book-name', autocomplete: 'off' })),
    el('label', null, el('span', { text: t('book_party') }), el('input', { name: 'party', type: 'number', min: '1', max: '40', value: '2', testid: 'book-party' })),
    el('label', null, el('span', { text: t('book_time') }), el('input', { name: 'time', type: 'time', value: '19:00', required: true, testid: 'book-time' })),
    el('label', null, el('span', { text: t('book_table') }), tableSelect('book-table', '', { any: true })),
    el('label', null, el('span', { text: t('book_phone') }), el('input', { name: 'phone', type: 'tel', maxlength: '32', testid: 'book-phone', autocomplete: 'off' })),
    el('label', null, el('span', { text: t('book_notes') }), el('input', { name: 'notes', maxlength: '500', testid: 'book-notes' })),
    dishPicker(),
    el('div', { class: 'book-actions' },
      el('button', { type: 'submit', id: 'book-save', class: 'btn btn-primary', testid: 'book-save', text: t('book_save') }),
      el('button', { type: 'button', id: 'book-edit-cancel', class: 'btn', testid: 'book-edit-cancel', hidden: true, text: t('book_edit_cancel'), onclick: stopEditing })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submitBooking(formBody()); });
  return form;
}

function renderClash() {
  return B.clash ? el('div', { class: 'book-clash', role: 'alert', testid: 'book-clash' },
    el('p', { text: t('book_clash', { text: B.clash.message }) }),
    el('button', {
      type: 'button', class: 'btn btn-danger', testid: 'book-anyway', text: t('book_anyway'),
      onclick: () => submitBooking({ ...B.clash.body, override: true }),
    })) : null;
}

/** Dishes ordered ahead: a dish and how many, added to the booking's list. */
function dishPicker() {
  const items = B.items || [];
  const sel = el('select', { class: 'book-select', testid: 'book-dish' },
    items.map((it) => el('option', { value: it.id, text: B.ctx.i18n.name(it.name) || it.id })));
  const qty = el('input', { type: 'number', min: '1', max: '99', value: '1', class: 'book-qty', testid: 'book-dish-qty', 'aria-label': t('book_party') });
  const add = el('button', {
    type: 'button', class: 'btn', testid: 'book-dish-add', text: '+',
    onclick: () => {
      const n = Math.max(1, Math.min(99, Number(qty.value) || 1));
      const found = B.dishes.find((d) => d.item === sel.value);
      if (found) found.qty += n; else B.dishes.push({ item: sel.value, qty: n });
      renderDishes();
    },
  });
  return el('div', { class: 'book-dishes' },
    el('span', { class: 'book-dishes-title', text: t('book_dishes') }),
    el('div', { class: 'book-actions' }, sel, qty, add),
    el('ul', { id: 'book-dish-list', class: 'book-dish-list', testid: 'book-dish-list' }, dishItems()));
}

const dishName = (id) => B.ctx.i18n.name((B.items || []).find((it) => it.id === id)?.name) || id;

function dishItems() {
  return B.dishes.map((d, i) => el('li', null, `${d.qty}× ${dishName(d.item)} `,
    el('button', { type: 'button', class: 'btn-link', text: '×', 'aria-label': 'remove', onclick: () => { B.dishes.splice(i, 1); renderDishes(); } })));
}

function renderDishes() {
  const list = $('#book-dish-list');
  if (list) replaceChildren(list, dishItems());
}

async function loadItems() {
  if (B.items) return;
  try {
    const data = await call('/api/v1/items');
    B.items = (data?.items || []).filter((it) => it.available !== false
      && !(it.modifier_groups || []).some((g) => g.min > 0) && it.price_per_grams === undefined);
  } catch {
    B.items = [];
  }
}

// ---------------------------------------------------------------- the timeline

function renderTimeline() {
  const book = B.book;
  if (!book) return null;
  const slots = book.tables.flatMap((tb) => tb.slots);
  let from = book.day_start_ms + FIRST_HOUR * HOUR_MS;
  let to = book.day_end_ms;
  for (const s of slots) { from = Math.min(from, s.start_ms); to = Math.max(to, s.end_ms); }
  const span = Math.max(HOUR_MS, to - from);
  const pct = (ms) => `${((ms - from) / span) * 100}%`;
  const hours = [];
  for (let h = Math.ceil(from / HOUR_MS) * HOUR_MS; h < to; h += 2 * HOUR_MS) hours.push(h);
  const ruler = el('div', { class: 'tl-track tl-ruler' }, hours.map((h) => {
    const mark = el('span', { class: 'tl-hour', text: new Date(h).toTimeString().slice(0, 5) });
    mark.style.left = pct(h);
    return mark;
  }));
  return el('section', { class: 'book-timeline', testid: 'book-timeline' },
    el('h3', { class: 'floor-section-title', text: t('book_timeline') }),
    el('div', { class: 'tl-row' }, el('span', { class: 'tl-name' }), ruler),
    book.tables.map((tb) => el('div', { class: 'tl-row', testid: `tl-${tb.table}` },
      el('span', { class: 'tl-name', text: tb.name || tb.table }),
      el('div', { class: 'tl-track' }, tb.slots.map((s) => {
        const bar = el('span', {
          class: ['tl-slot', s.clash && 'is-clash'], testid: `slot-${s.id}`,
          dataset: { clash: s.clash ? 'true' : 'false' }, text: s.name, title: s.name,
        });
        bar.style.left = pct(s.start_ms);
        bar.style.width = `${((s.end_ms - s.start_ms) / span) * 100}%`;
        return bar;
      })))));
}

// ---------------------------------------------------------------- the day's list

function reservationRow(r) {
  const booked = r.status === 'booked';
  const seatSel = booked ? tableSelect(`seat-table-${r.id}`, r.table) : null;
  return el('li', { class: ['book-row', `is-${r.status}`, r.conflict && 'has-conflict'], testid: `res-${r.id}`, dataset: { status: r.status } },
    el('div', { class: 'book-row-main' },
      el('strong', { class: 'book-time', text: r.at.slice(11, 16) }),
      el('span', { class: 'book-name', text: `${r.name} · ${r.party}` }),
      r.phone ? el('span', { class: 'book-phone', testid: `res-phone-${r.id}`, text: r.phone }) : null,
      el('span', { class: 'book-status', text: t(`book_status_${r.status}`) }),
      r.table ? el('span', { class: 'book-table', text: r.table }) : null),
    r.notes ? el('p', { class: 'book-notes', text: r.notes }) : null,
    r.dishes?.length ? el('p', { class: 'book-notes', testid: `res-dishes-${r.id}`, text: `${t('book_dishes')}: ${r.dishes.map((d) => `${d.qty}× ${dishName(d.item)}`).join(', ')}` }) : null,
    r.conflict ? el('p', { class: 'book-conflict', role: 'alert', testid: `res-conflict-${r.id}`, text: t('book_conflict', { text: r.conflict }) }) : null,
    booked ? el('div', { class: 'book-actions' },
      seatSel,
      el('button', {
        type: 'button', class: 'btn btn-primary', testid: `seat-${r.id}`, text: t('book_seat'),
        onclick: () => act(`/api/v1/reservations/${encodeURIComponent(r.id)}/seat`, { table: seatSel.value },
          (res) => t('book_seated', { name: res.name, table: res.table })),
      }),
      el('button', { type: 'button', class: 'btn', testid: `edit-${r.id}`, text: t('book_edit'), onclick: () => startEditing(r) }),
      el('button', { type: 'button', class: 'btn', testid: `cancel-${r.id}`, text: t('book_cancel'), onclick: () => act(`/api/v1/reservations/${encodeURIComponent(r.id)}/cancel`, {}) }),
      el('button', { type: 'button', class: 'btn', testid: `noshow-${r.id}`, text: t('book_no_show'), onclick: () => act(`/api/v1/reservations/${encodeURIComponent(r.id)}/no-show`, {}) }))
      : null);
}

function renderList() {
  const list = B.book?.reservations || [];
  return el('section', { class: 'book-list-wrap' },
    el('h3', { class: 'floor-section-title', text: t('book_list') }),
    list.length ? el('ul', { class: 'book-list', testid: 'book-list' }, list.map(reservationRow))
      : el('p', { class: 'strip-empty', text: t('book_none') }));
}

// ---------------------------------------------------------------- the waitlist

async function addWalkIn(form) {
  const body = {
    id: `walk-${randomId(16)}`,
    name: form.elements.name.value,
    party: Number(form.elements.party.value),
    phone: form.elements.phone.value || null,
  };
  try {
    const doc = await call('/api/v1/waitlist', body);
    B.lastWalkIn = doc.id;
    form.reset();
    B.ctx.toast(t('wait_added', { name: doc.name, min: Math.round(doc.quoted_wait_s / 60) }));
  } catch (e) {
    B.ctx.toast(e.message || String(e), 'error');
  }
  await load();
}

function walkInRow(w) {
  const seatSel = tableSelect(`wait-table-${w.id}`, '');
  const path = (what) => `/api/v1/waitlist/${encodeURIComponent(w.id)}/${what}`;
  return el('li', { class: 'book-row', testid: `wait-${w.id}` },
    el('div', { class: 'book-row-main' },
      el('strong', { class: 'book-time', text: t('wait_pos', { n: w.position }) }),
      el('span', { class: 'book-name', text: `${w.name} · ${w.party}` }),
      w.phone ? el('span', { class: 'book-phone', text: w.phone }) : null,
      el('span', { class: 'book-status', testid: `wait-quote-${w.id}`, text: t('wait_quote', { min: Math.round(w.quoted_wait_s / 60) }) })),
    w.id === B.lastWalkIn ? el('div', { class: 'wait-qr' },
      el('img', { src: path('qr.svg'), alt: t('wait_link'), width: '160', height: '160', testid: `wait-qr-${w.id}` }),
      el('a', { href: w.url, target: '_blank', rel: 'noopener', testid: `wait-link-${w.id}`, text: t('wait_link') })) : null,
    el('div', { class: 'book-actions' },
      seatSel,
      el('button', { type: 'button', class: 'btn btn-primary', testid: `wait-seat-${w.id}`, text: t('book_seat'), onclick: () => act(path('seat'), { table: seatSel.value }) }),
      el('button', { type: 'button', class: 'btn', testid: `wait-ready-${w.id}`, text: t('wait_ready'), onclick: () => act(path('message'), { text: t('wait_ready_text') }) }),
      el('button', { type: 'button', class: 'btn', testid: `wait-left-${w.id}`, text: t('wait_left'), onclick: () => act(path('leave'), {}) })));
}

function buildWaitForm() {
  const form = el('form', { class: 'book-form', testid: 'wait-form' },
    el('h3', { class: 'floor-section-title', text: t('wait_title') }),
    el('label', null, el('span', { text: t('book_name') }), el('input', { name: 'name', required: true, maxlength: '80', testid: 'wait-name', autocomplete: 'off' })),
    el('label', null, el('span', { text: t('book_party') }), el('input', { name: 'party', type: 'number', min: '1', max: '40', value: '2', testid: 'wait-party' })),
    el('label', null, el('span', { text: t('book_phone') }), el('input', { name: 'phone', type: 'tel', maxlength: '32', testid: 'wait-phone', autocomplete: 'off' })),
    el('button', { type: 'submit', class: 'btn btn-primary', testid: 'wait-add', text: t('wait_add') }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); addWalkIn(form); });
  return form;
}

function renderWaiting() {
  const waiting = B.wait?.waiting || [];
  return waiting.length ? el('ul', { class: 'book-list', testid: 'waitlist-rows' }, waiting.map(walkInRow))
    : el('p', { class: 'strip-empty', text: t('wait_none') });
}

// ---------------------------------------------------------------- the tab

const parts = { built: false };

/** The tab's frame (the day, both forms) once; then only what the hub's answers change. */
function build(root) {
  const day = el('input', { type: 'date', value: B.day, testid: 'book-day', 'aria-label': t('book_day') });
  day.addEventListener('change', () => { B.day = day.value || B.day; load(); });
  Object.assign(parts, {
    built: true,
    clash: el('div', { class: 'book-clash-slot' }),
    timeline: el('div'),
    list: el('div'),
    waiting: el('div'),
  });
  replaceChildren(root, el('div', { class: 'book-head' }, day), buildForm(), parts.clash,
    parts.timeline, parts.list,
    el('section', { class: 'book-wait', testid: 'waitlist' }, buildWaitForm(), parts.waiting));
}

function render() {
  const root = $('#book');
  if (!root || !B.ctx || !B.book) return;
  if (!parts.built) build(root);
  replaceChildren(parts.clash, renderClash());
  const scrolled = parts.timeline.querySelector('.book-timeline')?.scrollLeft;
  replaceChildren(parts.timeline, renderTimeline());
  const box = parts.timeline.querySelector('.book-timeline');
  const first = box?.querySelector('.tl-slot');
  // keep where the host scrolled; else start at the day's first booking
  if (box) box.scrollLeft = scrolled || (first ? Math.max(0, first.offsetLeft - 40) : 0);
  replaceChildren(parts.list, renderList());
  replaceChildren(parts.waiting, renderWaiting());
}

/** Live news of a reservation, the waitlist or a table: read the day again, once a burst. */
export function onLive(msg) {
  if (!B.visible || !['reservation', 'waitlist', 'table'].includes(msg?.type)) return;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(load, 250);
}

export function show(visible) {
  B.visible = visible;
  if (visible) load();
}

/** `ctx`: {i18n, toast(text, kind), onAuthError(e)}. */
export function mountBook(ctx) {
  B.ctx = ctx;
  ctx.i18n.onChange(() => { parts.built = false; render(); });
}
