/**
 * The kitchen display at /kds/<station> (and the expediter's /kds/expo): live tickets from
 * /ws/kds/<station>, bumping items and tickets, recall, the recent drawer, all-day counts, the
 * 86 panel, bump-bar keys, and a beep for each new ticket.
 *
 * State comes from the socket: a snapshot replaces everything (after every reconnect), `ticket`
 * messages replace one ticket by id. Every string from an order is set with textContent.
 */
import {
  $, AlertSound, ApiError, I18n, LANGUAGE_NAMES, LiveSocket, actionErrorText, api, availabilityList,
  causeText, clockTime, deviceProblems, el, everySecond, formatElapsed, grams, icon, isPrinter,
  makeToast, pairingProbe, printerIdOf, randomId, replaceChildren, showConnState, showNotPaired,
  staffRetry, storage,
} from './common.js';
import { LANGS } from './i18n.js';
import { HeaderFit } from './kds-header.js';
import {
  COURSE_STATES, Firing, countdown, courseName, courseStateText, dueMs, expectedState, firedMs,
} from './pacing.js';

const station = (() => {
  const m = location.pathname.match(/^\/kds\/([^/?#]+)/);
  try { return m ? decodeURIComponent(m[1]) : 'expo'; } catch { return 'expo'; }
})();
const isExpo = station === 'expo';
// the expo also fires the selected order's table's next held course from its keyboard
const ACTIONS = isExpo ? ['bump', 'recall', 'next', 'prev', 'fire'] : ['bump', 'recall', 'next', 'prev'];
const DEFAULT_KEYMAP = {
  bump: ['Enter', 'b', '5'],
  recall: ['r', 'Backspace', '0'],
  next: ['ArrowRight', 'n', '6'],
  prev: ['ArrowLeft', 'p', '4'],
  fire: ['f', '9'],
};
const KEYMAP_KEY = `tablehub.kds.keymap.${station}`;
const FRESH_MS = 6000;

const i18n = new I18n({ storageKey: 'tablehub.staff.lang' });
const t = (key, vars) => i18n.t(key, vars);

const S = {
  station: { id: station, warn_seconds: 300, late_seconds: 600 },
  stations: new Map(),
  tickets: new Map(),      // open tickets by id
  recent: [],              // bumped tickets, newest first
  known: new Map(),        // every ticket seen (expo groups by order with these)
  orders: new Map(),       // expo: open orders by id
  pendingOrders: new Set(), // expo: orders seen with an open ticket, until served
  allDay: [],
  soldOut: new Set(),
  devices: new Map(),      // device presence, when the hub sends it (rule 5: a silent device shows)
  printers: null,          // the hub's printers [{id, stations, up, reason}] (GET /api/v1/printers)
  weights: new Map(),      // scale id -> {grams, stable}: live readings for weighing
  calls: new Map(),        // expo: active table calls by id
  tableNames: new Map(Object.entries(storage.get('tablehub.kds.tables', {}) || {})), // table id -> name
  weigh: null,             // the open weigh dialog: {ticketId, idx, orderId, scale, busy, error}
  weighScale: null,        // the scale chosen last time (preselected next time)
  items: null,
  selected: null,
  fresh: new Map(),
  busy: new Set(),
  drawer: null,
  capture: null,
  hadSnapshot: false,
  paired: true,
  pacing: [],              // expo: each table's courses (GET /api/v1/pacing/tables)
  pacingAt: 0,             // when that was read (ms, this screen's clock)
  flagAfter: 0,            // a table waiting longer than this for its next course is flagged
  courses: [],             // the menu's courses, when the hub lists them
};
let socket = null;
const sound = new AlertSound(i18n);
const toast = makeToast();
const headerFit = new HeaderFit(t);

// ---------------------------------------------------------------- helpers

const now = () => Date.now() + (socket ? socket.serverOffset : 0);
const stationName = (id) => (id === 'expo' ? t('expo') : i18n.name(S.stations.get(id)?.name) || id);
const thresholds = (id) => {
  const cfg = id === station ? S.station : S.stations.get(id) || S.station;
  return { warn: cfg.warn_seconds ?? 300, late: cfg.late_seconds ?? 600 };
};
const ageState = (seconds, id) => {
  const { warn, late } = thresholds(id);
  if (seconds >= late) return 'late';
  if (seconds >= warn) return 'warn';
  return 'normal';
};
const createdMs = (tk) => tk.created_ms ?? (Date.parse(tk.created_at) || now());
/** A held ticket: a later course not fired yet (a station sees it greyed, if at all). */
const isHeld = (tk) => tk?.status === 'held';
/** When a cook may start it: fired, and its paced start reached. */
const startMs = (tk) => Math.max(firedMs(tk) || createdMs(tk), Number(tk.start_at_ms) || 0);
/** The screen's order: held last; of the tickets that may start, the one fired first (a paced
 * ticket whose time has come goes before those fired after it), then those still counting
 * down, by their start. The hub's projection and quotes assume cooks take them so. */
const byAge = (a, b) => {
  const held = Number(isHeld(a)) - Number(isHeld(b));
  if (held) return held;
  const t = now();
  const wa = startMs(a) > t, wb = startMs(b) > t;
  if (wa !== wb) return Number(wa) - Number(wb);
  const ka = wa ? startMs(a) : (firedMs(a) || createdMs(a));
  const kb = wb ? startMs(b) : (firedMs(b) || createdMs(b));
  return ka - kb || a.id - b.id;
};
const isStarted = (tk) => Number(tk.started_ms) > 0;
const liveTickets = () => [...S.tickets.values()].filter((tk) => !isHeld(tk));
const courseLabel = (id) => courseName(i18n, S.courses, id);
const allergenLabel = (key) => {
  const s = t(`allergen_${key}`);
  return s === `allergen_${key}` ? key.replace(/[_-]+/g, ' ') : s;
};

/** A staff call. 401 → the not-paired screen; network failures retry with the same action id. */
const staffCall = (path, body, { attempts } = {}) => staffRetry(path, body, {
  attempts,
  onError: (e) => { if (e instanceof ApiError && e.status === 401) notPaired(); },
});

function notPaired(forbidden = false) {
  if (!S.paired) return;
  S.paired = false;
  socket?.stop();
  showNotPaired($('#app'), i18n, { forbidden, bodyClass: 'is-unpaired' });
}

function actionFailed(e) {
  if (e?.status === 401) return;
  if (e?.code === 'conflict') toast(e.message || t('action_conflict'), 'warn');
  else toast(actionErrorText(i18n, e), 'error');
}

// ---------------------------------------------------------------- sound

/** A two-note beep for each new ticket. */
const BEEP = { notes: [[0, 880, 'sine', 0.35], [0.17, 1320, 'sine', 0.35]], attack: 0.02, decay: 0.16, length: 0.18, gapMs: 800 };
const beep = () => sound.play(BEEP);

// ---------------------------------------------------------------- state updates

function computeAllDay() {
  const counts = new Map();
  for (const tk of liveTickets()) {
    for (const it of tk.items || []) {
      const left = liveQty(it);
      if (it.bumped || left <= 0) continue;
      const row = counts.get(it.item) || { item: it.item, name: it.name, qty: 0 };
      row.qty += left;
      counts.set(it.item, row);
    }
  }
  return [...counts.values()];
}

function markFresh(id) {
  const t0 = Date.now();
  for (const [key, until] of S.fresh) if (until < t0) S.fresh.delete(key);
  S.fresh.set(id, t0 + FRESH_MS);
}
const freshUntil = (id) => S.fresh.get(id) || 0;

function onSnapshot(msg) {
  if (msg.station) S.station = { ...S.station, ...S.stations.get(station), ...msg.station };
  const before = new Set(S.tickets.keys());
  // `held`: later courses this screen shows greyed (a station with show_held; the expo)
  const heldIds = new Set((msg.tickets || []).map((tk) => tk.id));
  const tickets = [...(msg.tickets || []), ...(Array.isArray(msg.held) ? msg.held.filter((tk) => !heldIds.has(tk.id)) : [])]
    .filter((tk) => tk.status !== 'bumped');
  S.tickets = new Map(tickets.map((tk) => [tk.id, tk]));
  S.recent = (msg.recent || []).slice(0, 10);
  // `order_tickets` (expo): every ticket of the open orders, bumped ones included.
  S.known = new Map([...(msg.order_tickets || []), ...S.recent, ...tickets].map((tk) => [tk.id, tk]));
  S.devices = new Map((msg.devices || []).map((d) => [d.id, d]));
  S.orders = new Map((msg.orders || []).filter((o) => o.status !== 'served').map((o) => [o.order_id, o]));
  S.pendingOrders = new Set(tickets.map((tk) => tk.order_id));
  S.allDay = Array.isArray(msg.all_day) ? msg.all_day : computeAllDay();
  S.soldOut = new Set(msg.sold_out || []);
  if (Array.isArray(msg.calls)) S.calls = new Map(msg.calls.filter((c) => c.state !== 'closed').map((c) => [c.id, c]));
  learnTables([...S.known.values(), ...S.orders.values()]);
  if (S.hadSnapshot) {
    // A ticket printed while this screen was away (the silent-screen fallback) is already on
    // paper in the cooks' hands: it shows, but does not beep or flash.
    const added = tickets.filter((tk) => !before.has(tk.id) && !tk.printed_on && !isHeld(tk));
    for (const tk of added) markFresh(tk.id);
    if (added.length) beep();
  }
  S.hadSnapshot = true;
  renderAll();
  if (S.weigh) renderWeigh();
}

const TABLES_KEY = 'tablehub.kds.tables';

/** Table names, learnt from tickets and orders (a kitchen pairing cannot list the tables) and
 *  remembered on this screen. */
function learnTables(things) {
  let changed = false;
  for (const x of things) {
    if (x?.table?.id && x.table.name && S.tableNames.get(x.table.id) !== x.table.name) {
      S.tableNames.set(x.table.id, x.table.name);
      changed = true;
    }
  }
  if (changed) storage.set(TABLES_KEY, Object.fromEntries([...S.tableNames].slice(-200)));
}

/** A table's name; an unknown "T4" reads "Table 4", any other id as it is. */
function tableLabel(id) {
  const known = S.tableNames.get(id);
  if (known) return i18n.name(known);
  const m = /^T(\d+)$/i.exec(String(id || ''));
  return m ? t('table_n', { n: m[1] }) : String(id || '');
}

function onTicket(tk) {
  const wasHeld = isHeld(S.tickets.get(tk.id) || S.known.get(tk.id));
  const wasOpen = S.tickets.has(tk.id) && !wasHeld;
  const isNew = (!wasOpen && !S.known.has(tk.id)) || (wasHeld && !isHeld(tk));
  S.known.set(tk.id, tk);
  if (tk.status === 'bumped') {
    S.tickets.delete(tk.id);
    S.recent = [tk, ...S.recent.filter((r) => r.id !== tk.id)].slice(0, 10);
    if (S.selected === tk.id) moveSelectionAfterRemoval(tk.id);
  } else {
    S.tickets.set(tk.id, tk);
    S.recent = S.recent.filter((r) => r.id !== tk.id);
    S.pendingOrders.add(tk.order_id);
    // a held course shows quietly; it beeps and flashes when it is fired
    if (!wasOpen && !tk.printed_on && !isHeld(tk)) markFresh(tk.id);
    if (isNew && !tk.printed_on && !isHeld(tk)) beep();
  }
  learnTables([tk]);
  if (!isExpo && S.known.size > 500) S.known = new Map([...S.recent, ...S.tickets.values()].map((x) => [x.id, x]));
  S.allDay = computeAllDay();
  renderBoard();
  renderSide();
  if (S.drawer === 'recent') renderDrawer();
  if (isExpo) loadPacingSoon();
}

function onOrder(order) {
  if (order.status === 'served') removeOrder(order.order_id);
  else S.orders.set(order.order_id, order);
  if (isExpo) { renderBoard(); loadPacingSoon(); }
}

function removeOrder(orderId) {
  S.orders.delete(orderId);
  S.pendingOrders.delete(orderId);
  for (const [id, tk] of S.known) if (tk.order_id === orderId && tk.status === 'bumped') S.known.delete(id);
  if (S.selected === `o${orderId}`) moveSelectionAfterRemoval(`o${orderId}`);
}

function onAvailability(msg) {
  if (msg.available) S.soldOut.delete(msg.item); else S.soldOut.add(msg.item);
  if (S.items) {
    const item = S.items.find((it) => it.id === msg.item);
    if (item) item.available = Boolean(msg.available);
  }
  if (S.drawer === 'availability') renderDrawer();
  renderSide();
}

/** A counted item's portions changed: the item keeps its count; "running low" lists it. */
function onStock(msg) {
  if (!S.items) return;
  const item = S.items.find((it) => it.id === msg.item);
  if (!item) return;
  if (msg.left === null || msg.left === undefined) {
    delete item.stock_left; delete item.low_at; delete item.stock_low;
  } else {
    item.stock_left = msg.left; item.low_at = msg.low_at; item.stock_low = Boolean(msg.low);
  }
  if (S.drawer === 'availability') renderDrawer();
  renderSide();
}

function onCall(call) {
  if (call.state === 'closed') S.calls.delete(call.id);
  else S.calls.set(call.id, call);
  renderCalls();
}

function onDevice(device) {
  if (device.state === 'forgotten') S.devices.delete(device.id);
  else S.devices.set(device.id, device);
  renderSide();
  renderPrinterAlerts();
  if (isPrinter(device)) loadPrintersSoon();
}

function onWeight(msg) {
  S.weights.set(String(msg.scale), { grams: Number(msg.grams) || 0, stable: Boolean(msg.stable) });
  if (S.weigh) renderWeighScales();
}

function onMessage(msg) {
  if (msg.type === 'ticket' && msg.ticket) onTicket(msg.ticket);
  else if (msg.type === 'order' && msg.order) { learnTables([msg.order]); onOrder(msg.order); }
  else if (msg.type === 'availability') onAvailability(msg);
  else if (msg.type === 'stock') onStock(msg);
  else if (msg.type === 'device' && msg.device) onDevice(msg.device);
  else if (msg.type === 'weight' && msg.scale !== undefined) onWeight(msg);
  else if (msg.type === 'call' && msg.call) onCall(msg.call);
  else if (msg.type === 'cursor') onCursor(msg);
  else if (msg.type === 'menu') loadItems();
}

const probeOnFailures = pairingProbe(loadStations);
function onConnState(state) {
  showConnState(state, i18n, { onlineKey: 'online', hadSnapshot: S.hadSnapshot });
}

function onRetry(failures) {
  // no header (the not-paired panel took the page): nothing to ask
  if ($('#conn')) probeOnFailures(failures);
}

// ---------------------------------------------------------------- actions

/** One tap on a ticket (bump, start): once at a time per ticket and verb, the answer drawn. */
async function ticketAction(id, verb, key) {
  if (S.busy.has(key)) return;
  S.busy.add(key);
  renderBoard();
  try {
    const tk = await staffCall(`/api/v1/tickets/${encodeURIComponent(id)}/${verb}`, { id: randomId() });
    if (tk && tk.id !== undefined) onTicket(tk);
  } catch (e) {
    actionFailed(e);
  } finally {
    S.busy.delete(key);
    renderBoard();
  }
}

function bumpTicket(id) {
  return ticketAction(id, "bump", id);
}

/** A cook starts a ticket: the hub times the rest of its course to land with it. */
function startTicket(id) {
  return ticketAction(id, "start", `st:${id}`);
}

async function bumpItem(ticketId, idx) {
  const key = `${ticketId}:${idx}`;
  if (S.busy.has(key) || S.busy.has(ticketId)) return;
  S.busy.add(key);
  renderBoard();
  try {
    const tk = await staffCall(`/api/v1/tickets/${encodeURIComponent(ticketId)}/bump`, { item: idx, id: randomId() });
    if (tk && tk.id !== undefined) onTicket(tk);
  } catch (e) {
    actionFailed(e);
  } finally {
    S.busy.delete(key);
    renderBoard();
  }
}

async function recallTicket(id) {
  try {
    const tk = await staffCall(`/api/v1/tickets/${encodeURIComponent(id)}/recall`, { id: randomId() });
    if (tk && tk.id !== undefined) { onTicket(tk); select(tk.id); }
    toast(t('recalled'));
  } catch (e) {
    actionFailed(e);
  }
}

async function recallLast() {
  if (isExpo) {
    if (!S.recent.length) { toast(t('nothing_to_recall'), 'warn'); return; }
    await recallTicket(S.recent[0].id);
    return;
  }
  try {
    const tk = await staffCall(`/api/v1/stations/${encodeURIComponent(station)}/recall`, { id: randomId() });
    if (tk && tk.id !== undefined) { onTicket(tk); select(tk.id); }
    toast(t('recalled'));
  } catch (e) {
    if (e?.code === 'conflict' || e?.code === 'not_found') toast(t('nothing_to_recall'), 'warn');
    else actionFailed(e);
  }
}

async function serveOrder(orderId) {
  const key = `o${orderId}`;
  if (S.busy.has(key)) return;
  S.busy.add(key);
  renderBoard();
  try {
    const order = await staffCall(`/api/v1/orders/${encodeURIComponent(orderId)}/serve`, {});
    removeOrder(order?.order_id ?? orderId);
  } catch (e) {
    actionFailed(e);
  } finally {
    S.busy.delete(key);
    renderBoard();
  }
}

async function setAvailability(itemId, available) {
  try {
    const item = await staffCall(`/api/v1/items/${encodeURIComponent(itemId)}/availability`, { available });
    onAvailability({ item: itemId, available: item?.available ?? available });
  } catch (e) {
    actionFailed(e);
  }
}

// ---------------------------------------------------------------- selection & keys

function boardIds() {
  return isExpo ? expoOrders().map((o) => `o${o.id}`) : liveTickets().sort(byAge).map((tk) => tk.id);
}

function select(id) {
  S.selected = id;
  for (const node of $('#board').children) node.classList.toggle('is-selected', node.dataset.key === String(id));
  const node = [...$('#board').children].find((n) => n.dataset.key === String(id));
  node?.scrollIntoView({ block: 'nearest', inline: 'nearest', behavior: 'smooth' });
}

function moveSelection(step) {
  const ids = boardIds();
  if (!ids.length) return;
  const at = ids.indexOf(S.selected);
  const next = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
  select(ids[next]);
}

function moveSelectionAfterRemoval(id) {
  const ids = boardIds();
  const at = ids.indexOf(id);
  const rest = ids.filter((x) => x !== id);
  S.selected = rest.length ? rest[Math.min(Math.max(at, 0), rest.length - 1)] : null;
}

function keymap() {
  const fromStation = S.station.keymap || {};
  const saved = storage.get(KEYMAP_KEY, {}) || {};
  const map = {};
  for (const a of ACTIONS) {
    map[a] = (Array.isArray(saved[a]) ? saved[a] : null) || (Array.isArray(fromStation[a]) ? fromStation[a] : null) || DEFAULT_KEYMAP[a];
  }
  return map;
}

const sameKey = (a, b) => a === b || (a.length === 1 && b.length === 1 && a.toLowerCase() === b.toLowerCase());

function actionFor(key) {
  const map = keymap();
  return ACTIONS.find((a) => map[a].some((k) => sameKey(k, key))) || null;
}

function runAction(action) {
  if (action === 'next') moveSelection(1);
  else if (action === 'prev') moveSelection(-1);
  else if (action === 'recall') recallLast();
  else if (action === 'fire') fireSelected();
  else if (action === 'bump') {
    const ids = boardIds();
    if (!ids.length) return;
    if (!ids.includes(S.selected)) { select(ids[0]); }
    const id = S.selected;
    if (isExpo) {
      const order = expoOrders().find((o) => `o${o.id}` === id);
      if (order?.status === 'ready') serveOrder(order.id);
      else toast(t('not_ready_yet'), 'warn');
    } else {
      bumpTicket(id);
    }
  }
}

/** Expo: fire the next held course of the selected order's table (the first order's if none). */
function fireSelected() {
  const orders = expoOrders();
  if (!orders.length) return;
  if (!boardIds().includes(S.selected)) select(`o${orders[0].id}`);
  const order = orders.find((o) => `o${o.id}` === S.selected);
  const table = order?.table?.id;
  const next = S.pacing.find((tb) => tb.table === table)?.next
    || order?.tickets.find(isHeld)?.course;
  if (!table || !next) { toast(t('nothing_held'), 'warn'); return; }
  fireCourse(table, next);
}

/** The bump bar (ESP32) moves the selection through the hub: `{type: cursor, move: next|prev}`. */
function onCursor(msg) {
  if (!S.paired) return;
  if (msg.move === 'next') runAction('next');
  else if (msg.move === 'prev') runAction('prev');
}

function onKeyDown(ev) {
  if (!S.paired) return;
  if (S.capture) { captureKey(ev); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if ($('#settings-layer').classList.contains('is-open')) return;
  if (S.weigh) { if (ev.key === 'Escape') { ev.preventDefault(); closeWeigh(); } return; }
  const target = ev.target;
  if (target instanceof HTMLElement && target.closest('input, textarea, select')) return;
  if (ev.key === 'Escape' && S.drawer) { closeDrawer(); return; }
  const action = actionFor(ev.key);
  if (!action) return;
  ev.preventDefault();
  if (ev.repeat && action === 'bump') return;
  runAction(action);
}

// ---------------------------------------------------------------- rendering: tickets

const cardCache = new Map();

function renderAll() {
  renderHeader();
  renderBoard();
  renderSide();
  renderCalls();
  renderCourses();
  renderPrinterAlerts();
  if (S.drawer) renderDrawer();
}

function renderHeader() {
  const name = stationName(station);
  $('#station-name').textContent = name;
  document.title = `${name} · ${t('kds')}`;
  const open = isExpo ? expoOrders().length : liveTickets().length;
  $('#open-count').textContent = t(isExpo ? 'orders_open' : 'tickets_open', { n: open });
  headerButton('#recall-last', 'undo', t('recall_last'));
  headerButton('#recent-btn', 'history', t('recent'));
  headerButton('#avail-btn', 'ban', t('eighty_six'), t('eighty_six_title'));
  replaceChildren($('#settings-btn'), icon('settings'));
  replaceChildren($('#drawer-close'), icon('close'));
  sound.renderButton();
}

/** A header button: icon and label; narrow screens show the icon only (kds.css), so the
 * label stays its accessible name and `title` its tooltip. */
function headerButton(sel, glyph, label, title = label) {
  const btn = $(sel);
  btn.title = title;
  replaceChildren(btn, icon(glyph), el('span', { class: 'kbtn-label', text: label }));
}

function renderBoard() {
  const board = $('#board');
  if (!board) return;
  const cards = isExpo ? expoOrders().map(expoCard) : [...S.tickets.values()].sort(byAge).map(ticketCard);
  if (!cards.length) {
    cards.push(el('div', { class: 'board-empty', testid: 'board-empty' },
      icon('check'), el('p', { text: S.hadSnapshot ? t('all_clear') : t('loading') })));
  }
  const same = cards.length === board.children.length && cards.every((c, i) => c === board.children[i]);
  if (!same) replaceChildren(board, cards);
  if (cardCache.size > cards.length + 50) {
    const live = new Set(cards);
    for (const [key, hit] of cardCache) if (!live.has(hit.node)) cardCache.delete(key);
  }
  if (S.selected !== null && !boardIds().includes(S.selected)) S.selected = null;
  for (const node of board.children) node.classList.toggle('is-selected', node.dataset.key === String(S.selected));
  tick();
  updateMore();
  const count = isExpo ? expoOrders().length : liveTickets().length;
  $('#open-count').textContent = t(isExpo ? 'orders_open' : 'tickets_open', { n: count });
}

/** Reuse a card's node while its data and the language are unchanged (keeps animations). */
function cached(key, data, build) {
  const sig = `${i18n.lang}|${JSON.stringify(data)}`;
  const hit = cardCache.get(key);
  if (hit && hit.sig === sig) return hit.node;
  const node = build();
  cardCache.set(key, { sig, node });
  return node;
}

function ticketCard(tk) {
  const busyItems = (tk.items || []).filter((it) => S.busy.has(`${tk.id}:${it.idx}`)).map((it) => it.idx);
  return cached(`t${tk.id}`, [tk, S.busy.has(tk.id), busyItems, S.busy.has(`rp:${tk.id}`)], () => buildTicket(tk));
}

/** "PRINTED (grill-1)": the ticket went to paper on that printer (the silent-screen fallback). */
const printedTag = (tk) => (tk.printed_on
  ? el('span', { class: 'tk-printed', testid: `printed-${tk.id}`, title: t('printed_hint') },
    icon('printer'), el('span', { text: t('printed_on', { printer: tk.printed_on }) }))
  : null);

function reprintButton(tk, cls = 'tk-reprint') {
  const busy = S.busy.has(`rp:${tk.id}`);
  return el('button', {
    type: 'button', class: cls, testid: `reprint-${tk.id}`, disabled: busy,
    title: t('reprint'), 'aria-label': t('reprint_ticket', { number: tk.number ?? tk.order_id }),
    onclick: (ev) => { ev.stopPropagation(); reprintTicket(tk.id); },
  }, icon('printer'), el('span', { class: 'tk-reprint-text', text: busy ? t('sending') : t('reprint') }));
}

/** What the clock of a ticket card needs: since when it runs, its paced start, when due. */
const timing = (tk) => (isHeld(tk) ? { held: 'true' } : {
  created: firedMs(tk) || createdMs(tk),
  start: Number(tk.start_at_ms) > (firedMs(tk) || createdMs(tk)) ? Number(tk.start_at_ms) : null,
  due: dueMs(tk) || null,
  expected: Number(tk.expected_s) > 0 ? Number(tk.expected_s) : null,
});

/** "HELD · Mains": a later course, shown greyed until it is fired. */
const heldTag = (tk) => el('span', { class: 'tk-held', testid: `held-${tk.id}` },
  el('strong', { text: t('held') }), tk.course ? el('span', { text: courseLabel(tk.course) }) : null);

/** A fired ticket's course ("Mains"), when the menu has courses. */
const courseTag = (tk) => (tk.course && !isHeld(tk) ? el('span', { class: 'tk-course', text: courseLabel(tk.course) }) : null);

function buildTicket(tk) {
  const busy = S.busy.has(tk.id);
  const held = isHeld(tk);
  return el('article', {
    class: ['ticket', held && 'is-held', freshUntil(tk.id) > Date.now() && 'is-fresh'],
    testid: `ticket-${tk.id}`,
    dataset: { key: tk.id, station: tk.station, state: 'normal', status: tk.status, course: tk.course || null, freshUntil: freshUntil(tk.id), ...timing(tk) },
    'aria-disabled': held ? 'true' : null,
    onclick: () => { if (!held) select(tk.id); },
  },
  el('header', { class: 'tk-head' },
    el('div', { class: 'tk-row' },
      el('span', { class: 'tk-table', text: i18n.name(tk.table?.name) || tk.table?.id || '' }),
      el('span', { class: 'tk-elapsed', testid: `elapsed-${tk.id}` })),
    el('div', { class: 'tk-row tk-sub' },
      el('span', { class: 'tk-number', text: `#${tk.number ?? tk.order_id}` }),
      tk.round ? el('span', { class: 'tk-round', text: t('round_n', { n: tk.round }) }) : null,
      courseTag(tk),
      isExpo ? el('span', { class: 'tk-station', text: stationName(tk.station) }) : null,
      el('span', { class: 'tk-time', text: clockTime(firedMs(tk) || createdMs(tk), i18n.lang) })),
    held ? el('div', { class: 'tk-row tk-sub tk-tags' }, heldTag(tk)) : null,
    tk.printed_on ? el('div', { class: 'tk-row tk-sub tk-tags' }, printedTag(tk)) : null),
  el('ol', { class: 'tk-items' }, (tk.items || []).map((it) => ticketItem(tk, it))),
  held ? el('footer', { class: 'tk-foot tk-foot-held', text: t('held_until_fired') }) : el('footer', { class: 'tk-foot' },
    reprintButton(tk),
    startButton(tk),
    el('button', {
      type: 'button', class: 'tk-bump', testid: `bump-${tk.id}`, disabled: busy,
      onclick: (ev) => { ev.stopPropagation(); bumpTicket(tk.id); },
    }, icon('check'), el('span', { text: busy ? t('bumping') : t('bump') }))));
}

/** "Start" until a cook starts the ticket, then a quiet "Started" mark. */
function startButton(tk) {
  if (isStarted(tk)) return el('span', { class: 'tk-started', testid: `started-${tk.id}`, text: t('started') });
  const busy = S.busy.has(`st:${tk.id}`);
  return el('button', {
    type: 'button', class: 'tk-start', testid: `start-${tk.id}`, disabled: busy,
    onclick: (ev) => { ev.stopPropagation(); startTicket(tk.id); },
  }, icon('play'), el('span', { text: busy ? t('starting') : t('start') }));
}

/** Units still to cook: the line's quantity less what was voided. */
const liveQty = (it) => Math.max(0, (Number(it.qty) || 0) - (Number(it.void_qty) || 0));

/** VOID (with its reason) and CHANGED marks on a line, on the same ticket. */
function correctionTags(tk, it) {
  const voided = Number(it.void_qty) || 0;
  const changed = it.changed || [];
  if (!voided && !changed.length) return null;
  return el('div', { class: 'tk-corrections' },
    voided ? el('span', { class: 'tk-tag tk-tag-void', testid: `void-${tk.id}-${it.idx}` },
      el('strong', { text: liveQty(it) ? t('kds_void_n', { n: voided }) : t('kds_void') }),
      it.void_reason ? el('span', { class: 'tk-tag-reason', text: it.void_reason }) : null) : null,
    changed.length ? el('span', { class: 'tk-tag tk-tag-changed', testid: `changed-${tk.id}-${it.idx}` },
      el('strong', { text: t('kds_changed') }),
      el('span', { class: 'tk-tag-reason', text: changed.map((f) => t(`kds_changed_${f}`)).join(', ') })) : null);
}

function ticketItem(tk, it) {
  const busy = S.busy.has(`${tk.id}:${it.idx}`);
  const mods = it.modifiers || [];
  const allergens = it.allergens || [];
  const voided = Number(it.void_qty) || 0;
  const gone = voided > 0 && liveQty(it) === 0;
  const changed = new Set(it.changed || []);
  const held = isHeld(tk);
  // paced: a line that starts later than now counts down to its start
  // (a start no later than its firing is no countdown: the ticket may start at once, whatever
  // the screen's clock says against the hub's)
  const paced = Number(it.start_at_ms) > (firedMs(tk) || createdMs(tk));
  const startAt = !held && !it.bumped && paced && Number(it.start_at_ms) > now() ? Number(it.start_at_ms) : 0;
  return el('li', {
    class: ['tk-item', it.bumped && 'is-bumped', busy && 'is-busy', gone && 'is-void', voided && !gone && 'is-part-void', changed.size && 'is-changed', startAt > now() && 'is-waiting'],
    testid: `line-${tk.id}-${it.idx}`,
    dataset: { bumped: it.bumped ? 'true' : 'false', void: gone ? 'true' : (voided ? 'part' : 'false'), changed: changed.size ? [...changed].sort().join(' ') : null, start: startAt || null },
    role: held ? null : 'button',
    tabindex: '-1',
    'aria-pressed': held ? null : (it.bumped ? 'true' : 'false'),
    onclick: (ev) => { ev.stopPropagation(); if (held) return; select(tk.id); bumpItem(tk.id, it.idx); },
  },
  el('span', { class: ['tk-qty', changed.has('qty') && 'is-changed'] },
    voided && !gone ? el('s', { class: 'tk-qty-was', text: String(it.qty) }) : null,
    String(gone ? it.qty : liveQty(it))),
  el('div', { class: 'tk-item-main' },
    el('div', { class: 'tk-item-name', text: i18n.name(it.name) || it.item }),
    startAt ? el('div', { class: 'tk-start-in', testid: `start-in-${tk.id}-${it.idx}`, dataset: { start: startAt } },
      icon('clock'), el('span', { class: 'tk-start-in-text', text: t('start_in', { time: countdown(startAt, now()) }) })) : null,
    correctionTags(tk, it),
    mods.length ? el('ul', { class: ['tk-mods', changed.has('modifiers') && 'is-changed'] }, mods.map((m) => el('li', { text: i18n.name(m.name) || m.id }))) : null,
    it.note ? el('div', { class: ['tk-note', changed.has('note') && 'is-changed'], testid: `note-${tk.id}-${it.idx}`, text: it.note }) : null,
    allergens.length ? el('div', { class: 'tk-allergens' },
      icon('alert'), allergens.map((a) => el('span', { class: 'allergen', text: allergenLabel(a) }))) : null,
    weighLine(tk, it)));
}

/** Sold by weight: a WEIGH button until weighed, then the weight. */
function weighLine(tk, it) {
  if (it.per_grams === undefined || it.per_grams === null) return null;
  if (Number(it.grams) > 0) {
    return el('div', { class: 'tk-weighed', testid: `grams-${tk.id}-${it.idx}`, dataset: { grams: it.grams } },
      icon('scale'), el('span', { text: grams(it.grams, i18n.lang) }));
  }
  return el('button', {
    type: 'button', class: 'tk-weigh', testid: `weigh-${tk.id}-${it.idx}`,
    onclick: (ev) => { ev.stopPropagation(); select(isExpo ? `o${tk.order_id}` : tk.id); openWeigh(tk, it); },
  }, icon('scale'), el('span', { text: t('weigh') }));
}

// ---------------------------------------------------------------- rendering: expo

function expoOrders() {
  const byOrder = new Map();
  for (const tk of S.known.values()) {
    if (!byOrder.has(tk.order_id)) byOrder.set(tk.order_id, []);
    byOrder.get(tk.order_id).push(tk);
  }
  const ids = new Set([...S.orders.keys(), ...S.pendingOrders]);
  const out = [];
  for (const id of ids) {
    const order = S.orders.get(id) || null;
    // fired courses first, then by station; a held course goes last, greyed
    const tickets = (byOrder.get(id) || []).sort((a, b) => Number(isHeld(a)) - Number(isHeld(b))
      || String(a.station).localeCompare(String(b.station)));
    if (!order && !tickets.length) continue;
    const fired = tickets.filter((tk) => !isHeld(tk));
    const allBumped = fired.length > 0 && fired.every((tk) => tk.status === 'bumped');
    const someProgress = tickets.some((tk) => tk.status === 'bumped' || (tk.items || []).some((i) => i.bumped));
    let status = order?.status || (allBumped ? 'ready' : someProgress ? 'preparing' : 'received');
    if (allBumped && (status === 'received' || status === 'preparing')) status = 'ready';
    const created = tickets.length ? Math.min(...tickets.map(createdMs)) : (Date.parse(order?.created_at) || now());
    const first = tickets[0];
    out.push({
      id, order, tickets, status, created,
      number: order?.number ?? first?.number ?? id,
      round: order?.round ?? first?.round,
      table: order?.table ?? first?.table,
    });
  }
  return out.sort((a, b) => a.created - b.created || a.id - b.id);
}

function expoCard(o) {
  const sig = [o.status, o.order, o.tickets, S.busy.has(`o${o.id}`), o.tickets.map((tk) => [S.busy.has(tk.id), S.busy.has(`rp:${tk.id}`), firing$.isBusy(tk.table?.id, tk.course)])];
  return cached(`o${o.id}`, sig, () => buildExpoCard(o));
}

function buildExpoCard(o) {
  const ready = o.status === 'ready';
  const waiting = o.tickets.filter((tk) => tk.status !== 'bumped' && !isHeld(tk)).map((tk) => stationName(tk.station));
  const held = [...new Set(o.tickets.filter(isHeld).map((tk) => tk.course))];
  const sections = o.tickets.length ? o.tickets.map(expoSection)
    : [el('section', { class: 'expo-station is-done' },
      el('h3', { class: 'expo-station-name' }, icon('check'), el('span', { text: t('all_items') })),
      el('ol', { class: 'tk-items' }, (o.order?.lines || []).map((l) => el('li', { class: 'tk-item is-static' },
        el('span', { class: 'tk-qty', text: String(l.qty) }),
        el('div', { class: 'tk-item-main' }, el('div', { class: 'tk-item-name', text: i18n.name(l.name) || l.item }))))))];
  const fresh = Math.max(0, ...o.tickets.map((tk) => freshUntil(tk.id)));
  return el('article', {
    class: ['ticket expo-order', `status-${o.status}`, ready && 'is-ready', fresh > Date.now() && 'is-fresh'],
    testid: `expo-order-${o.id}`,
    dataset: { key: `o${o.id}`, status: o.status, created: o.created, state: 'normal', freshUntil: fresh },
    onclick: () => select(`o${o.id}`),
  },
  el('header', { class: 'tk-head' },
    el('div', { class: 'tk-row' },
      el('span', { class: 'tk-table', text: i18n.name(o.table?.name) || o.table?.id || '' }),
      el('span', { class: 'tk-elapsed' })),
    el('div', { class: 'tk-row tk-sub' },
      el('span', { class: 'tk-number', text: `#${o.number}` }),
      o.round ? el('span', { class: 'tk-round', text: t('round_n', { n: o.round }) }) : null,
      el('span', { class: `expo-status status-${o.status}`, testid: `expo-status-${o.id}`, text: t(`status_${o.status}`) }))),
  ready ? el('div', { class: 'expo-ready-banner', text: t('ready_banner') }) : null,
  el('div', { class: 'expo-sections' }, sections),
  el('footer', { class: 'tk-foot' }, ready
    ? el('button', {
      type: 'button', class: 'tk-bump tk-serve', testid: `serve-${o.id}`, disabled: S.busy.has(`o${o.id}`),
      onclick: (ev) => { ev.stopPropagation(); serveOrder(o.id); },
    }, icon('check'), el('span', { text: t('served') }))
    : el('div', { class: 'expo-waiting', text: waiting.length || !held.length
      ? t('waiting_on', { stations: waiting.join(', ') || '…' })
      : t('held_courses', { courses: held.map(courseLabel).join(', ') }) })));
}

function expoSection(tk) {
  const done = tk.status === 'bumped';
  const held = isHeld(tk);
  const table = tk.table?.id;
  const firing = held && firing$.isBusy(table, tk.course);
  return el('section', { class: ['expo-station', done && 'is-done', held && 'is-held'], testid: `ticket-${tk.id}`, dataset: { station: tk.station, status: tk.status, course: tk.course || null } },
    el('h3', { class: 'expo-station-name' },
      done ? icon('check') : icon('clock'),
      el('span', { text: stationName(tk.station) }),
      tk.course ? el('span', { class: 'expo-course', text: courseLabel(tk.course) }) : null,
      el('span', { class: 'expo-station-state', text: held ? t('held') : (done ? t('bumped') : t('cooking')) }),
      held ? el('button', {
        type: 'button', class: 'expo-bump expo-fire', testid: `fire-ticket-${tk.id}`, disabled: firing,
        onclick: (ev) => { ev.stopPropagation(); fireCourse(table, tk.course); },
      }, icon('flame'), el('span', { text: firing ? t('sending') : t('fire') })) : reprintButton(tk, 'expo-reprint'),
      done || held ? null : el('button', {
        type: 'button', class: 'expo-bump', testid: `bump-${tk.id}`, disabled: S.busy.has(tk.id),
        onclick: (ev) => { ev.stopPropagation(); bumpTicket(tk.id); },
      }, el('span', { text: t('bump') }))),
    tk.printed_on ? el('div', { class: 'expo-printed' }, printedTag(tk)) : null,
    el('ol', { class: 'tk-items' }, (tk.items || []).map((it) => (done
      ? el('li', { class: 'tk-item is-static is-bumped' },
        el('span', { class: 'tk-qty', text: String(it.qty) }),
        el('div', { class: 'tk-item-main' }, el('div', { class: 'tk-item-name', text: i18n.name(it.name) || it.item })))
      : ticketItem(tk, it)))));
}

/** Size cards so that whole columns fill the board (no half-hidden column at the edge). */
function fitColumns() {
  const board = $('#board');
  if (!board) return;
  const gap = 12;
  const width = board.clientWidth - 2 * gap;
  const min = isExpo ? 300 : 280;
  const cols = Math.max(1, Math.floor((width + gap) / (min + gap)));
  const cardWidth = Math.floor((width - (cols - 1) * gap) / cols);
  document.documentElement.style.setProperty('--ticket-w', `${cardWidth}px`);
  updateMore();
}

/** "3 more →": how many cards are beyond the right edge of the board. */
function updateMore() {
  const board = $('#board');
  const more = $('#board-more');
  if (!board || !more) return;
  const edge = board.getBoundingClientRect().right;
  const hidden = [...board.children].filter((n) => n.dataset.key && n.getBoundingClientRect().left > edge - 40).length;
  more.hidden = hidden === 0;
  replaceChildren(more, el('span', { text: t('n_more', { n: hidden }) }), icon('chevron'));
}

// ---------------------------------------------------------------- timers

function tick() {
  const board = $('#board');
  if (!board) return;
  const nowMs = now();
  for (const node of board.children) {
    if (node.classList.contains('is-fresh') && !(Number(node.dataset.freshUntil) > Date.now())) {
      node.classList.remove('is-fresh');
    }
    tickStartIns(node, nowMs);
    if (!node.dataset.created) continue;
    const startAt = Number(node.dataset.start) || 0;
    const waiting = startAt > nowMs;
    const seconds = (nowMs - Number(node.dataset.created)) / 1000;
    const elapsed = node.querySelector('.tk-head .tk-elapsed');
    if (elapsed) elapsed.textContent = waiting ? t('start_in_short', { time: countdown(startAt, nowMs) }) : formatElapsed(seconds);
    node.classList.toggle('is-waiting', waiting);
    let state = 'normal';
    if (!node.classList.contains('is-ready') && !waiting) {
      const due = Number(node.dataset.due) || 0;
      state = due ? expectedState({ due_ms: due, expected_s: Number(node.dataset.expected) || 0 }, nowMs)
        : ageState(seconds, node.dataset.station || station);
    }
    if (node.dataset.state !== state) {
      node.dataset.state = state;
      node.classList.toggle('state-warn', state === 'warn');
      node.classList.toggle('state-late', state === 'late');
    }
  }
  tickCourses(nowMs);
  $('#clock').textContent = new Date(nowMs).toLocaleTimeString(i18n.lang, { hour: '2-digit', minute: '2-digit' });
  for (const node of $('#expo-calls')?.querySelectorAll('[data-opened]') || []) {
    const time = node.querySelector('.expo-call-time');
    if (time) time.textContent = formatElapsed((nowMs - Number(node.dataset.opened)) / 1000);
  }
}

/** Paced lines: "start in 3:20" counts down, and goes once their time has come. */
function tickStartIns(node, nowMs) {
  for (const tag of node.querySelectorAll('.tk-start-in')) {
    const at = Number(tag.dataset.start) || 0;
    const waiting = at > nowMs;
    tag.hidden = !waiting;
    tag.closest('.tk-item')?.classList.toggle('is-waiting', waiting);
    const text = tag.querySelector('.tk-start-in-text');
    if (waiting && text) text.textContent = t('start_in', { time: countdown(at, nowMs) });
  }
}

// ---------------------------------------------------------------- side panel

function renderSide() {
  const list = $('#allday');
  if (!list) return;
  const rows = [...S.allDay].filter((r) => r.qty > 0).sort((a, b) => b.qty - a.qty || i18n.name(a.name).localeCompare(i18n.name(b.name)));
  replaceChildren(list, rows.length ? rows.map((r) => el('li', { class: 'allday-row', testid: `allday-${r.item}` },
    el('span', { class: 'allday-qty', text: String(r.qty) }),
    el('span', { class: 'allday-name', text: i18n.name(r.name) || r.item })))
    : el('li', { class: 'allday-empty', text: t('nothing_open') }));
  const names = S.items
    ? S.items.filter((it) => S.soldOut.has(it.id) && (isExpo || it.station === station)).map((it) => i18n.name(it.name) || it.id)
    : [...S.soldOut];
  const down = [...S.devices.values()].filter((d) => d.state && d.state !== 'online');
  const low = (S.items || []).filter((it) => it.stock_low && (isExpo || it.station === station));
  replaceChildren($('#side-foot'),
    down.length ? el('div', { class: 'side-devices', testid: 'side-devices' },
      el('h3', { class: 'side-title', text: t('devices_down') }),
      el('ul', null, down.map((d) => el('li', null,
        icon('alert'), el('span', { text: `${d.id} · ${d.state}` }))))) : null,
    names.length ? el('div', { class: 'side-86', testid: 'side-sold-out' },
      el('h3', { class: 'side-title', text: t('sold_out_now') }),
      el('ul', null, names.map((n) => el('li', { text: n })))) : null,
    low.length ? el('div', { class: 'side-86 side-low', testid: 'side-low-stock' },
      el('h3', { class: 'side-title', text: t('running_low') }),
      el('ul', null, low.map((it) => el('li', { testid: `low-${it.id}` },
        el('span', { text: i18n.name(it.name) || it.id }),
        el('strong', { class: 'low-left', text: ` ${t('n_left', { n: it.stock_left })}` }))))) : null);
}

// ---------------------------------------------------------------- drawer (recent, 86)

function openDrawer(kind) {
  S.drawer = kind;
  renderDrawer();
  $('#drawer-layer').classList.add('is-open');
  $('#drawer-layer').setAttribute('aria-hidden', 'false');
  if (kind === 'availability') loadItems();
}

function closeDrawer() {
  S.drawer = null;
  $('#drawer-layer').classList.remove('is-open');
  $('#drawer-layer').setAttribute('aria-hidden', 'true');
  setTimeout(() => { if (!S.drawer) replaceChildren($('#drawer-body')); }, 250);
}

function renderDrawer() {
  const body = $('#drawer-body');
  if (S.drawer === 'recent') {
    $('#drawer-title').textContent = t('recent_title');
    replaceChildren(body, S.recent.length ? el('ol', { class: 'recent-list', testid: 'recent-list' }, S.recent.map((tk) => el('li', { class: 'recent-row', testid: `recent-${tk.id}` },
      el('div', { class: 'recent-main' },
        el('div', { class: 'recent-title' },
          el('strong', { text: i18n.name(tk.table?.name) || '' }),
          el('span', { text: ` #${tk.number ?? tk.order_id}` }),
          isExpo ? el('span', { class: 'recent-station', text: stationName(tk.station) }) : null),
        el('div', { class: 'recent-items', text: (tk.items || []).map((it) => `${it.qty}× ${i18n.name(it.name) || it.item}`).join(', ') }),
        el('div', { class: 'recent-time', text: tk.bumped_at ? t('bumped_at', { time: clockTime(tk.bumped_at, i18n.lang) }) : '' })),
      el('div', { class: 'recent-actions' },
        el('button', {
          type: 'button', class: 'kbtn kbtn-icon', testid: `recent-reprint-${tk.id}`,
          title: t('reprint'), 'aria-label': t('reprint_ticket', { number: tk.number ?? tk.order_id }),
          onclick: () => reprintTicket(tk.id),
        }, icon('printer')),
        el('button', {
          type: 'button', class: 'kbtn', testid: `recall-${tk.id}`,
          onclick: () => recallTicket(tk.id),
        }, icon('undo'), el('span', { text: t('recall') }))))))
      : el('p', { class: 'drawer-empty', text: t('no_recent') }));
  } else if (S.drawer === 'availability') {
    $('#drawer-title').textContent = t('eighty_six_title');
    if (!S.items) { replaceChildren(body, el('p', { class: 'drawer-empty', text: t('loading') })); return; }
    const items = S.items.filter((it) => isExpo || it.station === station)
      .map((it) => ({ ...it, available: !S.soldOut.has(it.id) }));
    replaceChildren(body, availabilityList(items, {
      i18n,
      groupBy: isExpo ? (it) => stationName(it.station) : null,
      onToggle: (it) => setAvailability(it.id, !it.available),
      onCount: (it, count) => setCount(it, count),
    }));
  }
}

/** The kitchen counts an item's portions ("12 tonight"); empty stops counting. */
async function setCount(it, count) {
  try {
    const item = await staffCall(`/api/v1/items/${encodeURIComponent(it.id)}/stock`, { count, low_at: lowAt(it, count), id: randomId() });
    if (item && S.items) {
      const i = S.items.findIndex((x) => x.id === it.id);
      if (i >= 0) S.items[i] = item;
    }
  } catch (e) {
    actionFailed(e);
  }
  if (S.drawer === 'availability') renderDrawer();
  renderSide();
}

async function loadItems() {
  try {
    const data = await staffCall('/api/v1/items');
    S.items = data?.items || [];
    for (const it of S.items) if (it.available === false) S.soldOut.add(it.id);
  } catch (e) {
    actionFailed(e);
    S.items = S.items || null;
  }
  if (S.drawer === 'availability') renderDrawer();
  renderSide();
}

// ---------------------------------------------------------------- settings (key map, language)

function openSettings() {
  renderSettings();
  $('#settings-layer').classList.add('is-open');
  $('#settings-layer').setAttribute('aria-hidden', 'false');
}

function closeSettings() {
  S.capture = null;
  $('#settings-layer').classList.remove('is-open');
  $('#settings-layer').setAttribute('aria-hidden', 'true');
}

const keyLabel = (k) => ({ ' ': 'Space', ArrowRight: '→', ArrowLeft: '←', ArrowUp: '↑', ArrowDown: '↓' })[k] || k;

function saveKeymap(map) {
  storage.set(KEYMAP_KEY, map);
  renderSettings();
}

function captureKey(ev) {
  ev.preventDefault();
  ev.stopPropagation();
  if (ev.key === 'Escape') { S.capture = null; renderSettings(); return; }
  if (['Shift', 'Control', 'Alt', 'Meta', 'CapsLock', 'Tab'].includes(ev.key)) return;
  const map = keymap();
  for (const a of ACTIONS) map[a] = map[a].filter((k) => !sameKey(k, ev.key));
  map[S.capture] = [...map[S.capture], ev.key];
  S.capture = null;
  saveKeymap(map);
}

function renderSettings() {
  const map = keymap();
  const rows = ACTIONS.map((a) => el('div', { class: 'keymap-row', testid: `keymap-${a}` },
    el('div', { class: 'keymap-action', text: t(`action_${a}`) }),
    el('div', { class: 'keymap-keys' },
      map[a].map((k) => el('span', { class: 'keycap' },
        el('span', { text: keyLabel(k) }),
        el('button', {
          type: 'button', class: 'keycap-remove', 'aria-label': t('remove_key', { key: keyLabel(k) }),
          onclick: () => { const m = keymap(); m[a] = m[a].filter((x) => x !== k); saveKeymap(m); },
        }, icon('close')))),
      S.capture === a
        ? el('span', { class: 'keycap keycap-capture', testid: 'key-capture', text: t('press_a_key') })
        : el('button', {
          type: 'button', class: 'kbtn kbtn-small', testid: `add-key-${a}`,
          onclick: () => { S.capture = a; renderSettings(); },
        }, icon('plus'), el('span', { text: t('add_key') })))));
  const lang = el('select', { class: 'kselect', id: 'kds-lang', onchange: (ev) => i18n.setLang(ev.target.value) },
    LANGS.map((code) => el('option', { value: code, selected: code === i18n.lang, text: LANGUAGE_NAMES[code] })));
  replaceChildren($('#settings-body'),
    el('h3', { class: 'settings-section', text: t('bump_bar_keys') }),
    el('p', { class: 'settings-hint', text: t('bump_bar_hint') }),
    el('div', { class: 'keymap' }, rows),
    el('h3', { class: 'settings-section', text: t('display') }),
    el('div', { class: 'settings-row' },
      el('label', { for: 'kds-lang', text: t('language') }), lang),
    el('div', { class: 'settings-row' },
      el('span', { text: t('sound') }),
      el('button', { type: 'button', class: 'kbtn', onclick: () => { sound.enable(); sound.lastAt = 0; setTimeout(beep, 50); } },
        icon('sound'), el('span', { text: t('test_sound') }))));
}

// ---------------------------------------------------------------- printing

async function reprintTicket(id) {
  const key = `rp:${id}`;
  if (S.busy.has(key)) return;
  S.busy.add(key);
  renderBoard();
  try {
    const res = await staffCall(`/api/v1/tickets/${encodeURIComponent(id)}/reprint`, {});
    toast(t('reprint_sent', { printer: res?.printer || '?' }));
  } catch (e) {
    if (e?.status === 401) return;
    if (e?.code === 'conflict' && e.field === 'printer') toast(t('reprint_no_printer'), 'warn');
    else actionFailed(e);
  } finally {
    S.busy.delete(key);
    renderBoard();
    if (S.drawer === 'recent') renderDrawer();
  }
}

async function loadPrinters() {
  try {
    const data = await api('/api/v1/printers', { staff: true, timeoutMs: 8000 });
    S.printers = Array.isArray(data?.printers) ? data.printers : [];
  } catch (e) {
    if (e?.status === 401) { notPaired(); return; }
    // keep what we had: the device messages still tell us about the printers
  }
  renderPrinterAlerts();
}

let printersTimer = null;
function loadPrintersSoon() {
  clearTimeout(printersTimer);
  printersTimer = setTimeout(loadPrinters, 400);
}

/**
 * Printers with a problem, for this screen: from the printer agents' live status (`device`
 * messages: paper, cover, power) and from the hub's own view (failed jobs: refused, timeout).
 * On a station screen only the printers of its station; a printer the hub does not know shows
 * everywhere.
 */
function printerProblems() {
  const cfg = new Map((S.printers || []).map((p) => [p.id, p]));
  const out = new Map();
  const relevant = (id) => {
    const p = cfg.get(id);
    return isExpo || !p || !Array.isArray(p.stations) || p.stations.includes(station) || p.stations.length === 0;
  };
  for (const d of S.devices.values()) {
    if (!isPrinter(d)) continue;
    const id = printerIdOf(d.id);
    if (!relevant(id)) continue;
    const p = deviceProblems(d);
    if (!p.down && !p.warn) continue;
    const offline = d.state !== 'online' || d.detail?.online === false;
    const reasons = p.reasons.filter((r) => r !== 'dev_printer_off' && !(r === 'dev_agent_offline' && d.detail?.online === false)).map((r) => t(r));
    out.set(id, { id, level: p.down ? 'down' : 'warn', offline, reasons, since: d.changed_at });
  }
  for (const p of S.printers || []) {
    if (p.up || !relevant(p.id)) continue;
    const words = causeText(i18n, p.reason, '');
    const have = out.get(p.id);
    if (have) {
      if (have.level !== 'down') have.level = 'down';
      if (!have.reasons.length && words) have.reasons.push(words);
    } else {
      out.set(p.id, { id: p.id, level: 'down', offline: ['offline', 'agent_offline', 'refused', 'timeout'].includes(p.reason), reasons: words ? [words] : [] });
    }
  }
  return [...out.values()].sort((a, b) => (a.level === b.level ? a.id.localeCompare(b.id) : a.level === 'down' ? -1 : 1));
}

function renderPrinterAlerts() {
  const box = $('#printer-alerts');
  if (!box) return;
  const problems = printerProblems();
  box.hidden = problems.length === 0;
  replaceChildren(box, problems.map((p) => {
    const head = p.offline ? t('printer_offline', { name: p.id }) : t('printer_named', { name: p.id });
    const text = p.reasons.length ? `${head} — ${p.reasons.join(', ')}` : head;
    return el('span', {
      class: ['kds-alert', `is-${p.level}`], testid: `printer-alert-${p.id}`, dataset: { level: p.level }, title: text,
    }, icon('printer'), el('span', { class: 'kds-alert-text', text }));
  }));
  box.closest('.kds-header')?.classList.toggle('has-alerts', problems.length > 0);
  document.body.classList.toggle('has-printer-alert', problems.some((p) => p.level === 'down'));
}

// ---------------------------------------------------------------- expo: table calls

const CALL_KEYS = { waiter: 'call_waiting_waiter', bill: 'call_waiting_bill', water: 'call_waiting_water' };

/** Escalated table calls nobody has acknowledged, as a red strip over the expo board. */
function renderCalls() {
  const strip = $('#expo-calls');
  if (!strip) return;
  const calls = isExpo ? [...S.calls.values()].filter((c) => c.escalated && c.state === 'open')
    .sort((a, b) => (a.opened_ms || 0) - (b.opened_ms || 0)) : [];
  strip.hidden = calls.length === 0;
  replaceChildren(strip, calls.length ? [
    el('span', { class: 'kds-calls-label' }, icon('bell'), el('span', { text: t('tables_waiting') })),
    el('ul', { class: 'kds-calls-list' }, calls.map((c) => {
      const table = tableLabel(c.table);
      return el('li', {
        class: 'expo-call', testid: `expo-call-${c.id}`, dataset: { opened: c.opened_ms || Date.parse(c.opened_at) || now(), kind: c.kind },
      },
      el('span', { class: 'expo-call-text', text: t(CALL_KEYS[c.kind] || 'call_waiting_waiter', { table }) }),
      el('span', { class: 'expo-call-time', text: formatElapsed((now() - (c.opened_ms || now())) / 1000) }));
    })),
  ] : []);
}

// ---------------------------------------------------------------- expo: courses per table

const firing$ = new Firing({ onError: (e) => { if (e instanceof ApiError && e.status === 401) notPaired(); } });

async function loadPacing() {
  if (!isExpo) return;
  try {
    const data = await api('/api/v1/pacing/tables', { staff: true, timeoutMs: 8000 });
    S.pacing = Array.isArray(data?.tables) ? data.tables : [];
    S.flagAfter = Number(data?.flag_after_s) || 0;
    S.pacingAt = Date.now();
  } catch (e) {
    if (e?.status === 401) { notPaired(); return; }
    // keep what we had; the next ticket or the poll reads again
  }
  renderCourses();
}

let pacingTimer = null;
function loadPacingSoon() {
  clearTimeout(pacingTimer);
  pacingTimer = setTimeout(loadPacing, 300);
}

/** How long the table has waited for its next course, counted on from the hub's answer. */
const waitedS = (tb) => (Number(tb.waiting_s) > 0 ? Number(tb.waiting_s) + Math.max(0, (Date.now() - S.pacingAt) / 1000) : 0);
const isFlagged = (tb) => Boolean(tb.flagged) || (S.flagAfter > 0 && waitedS(tb) > S.flagAfter);

/** The tables with courses: what each course is at, "Fire mains", and the tables waiting too
 *  long between courses first (flagged red). */
function renderCourses() {
  const strip = $('#expo-courses');
  if (!strip) return;
  const tables = isExpo ? S.pacing.filter((tb) => (tb.courses || []).some((c) => c.course)) : [];
  tables.sort((a, b) => Number(isFlagged(b)) - Number(isFlagged(a)) || waitedS(b) - waitedS(a)
    || String(a.table).localeCompare(String(b.table), undefined, { numeric: true }));
  strip.hidden = tables.length === 0;
  replaceChildren(strip, tables.map((tb) => {
    const flagged = isFlagged(tb);
    const next = tb.next || null;
    const busy = next !== null && firing$.isBusy(tb.table, next);
    return el('li', {
      class: ['course-table', flagged && 'is-flagged', next && 'has-held'], testid: `courses-${tb.table}`,
      dataset: { flagged: flagged ? 'true' : 'false', table: tb.table },
    },
    el('span', { class: 'course-table-name', text: tableLabel(tb.table) }),
    el('span', { class: 'course-pills' }, (tb.courses || []).filter((c) => c.course).map((c) => el('span', {
      class: ['course-pill', `is-${c.state}`], testid: `course-${tb.table}-${c.course}`, dataset: { state: c.state },
    }, el('span', { class: 'course-pill-name', text: courseLabel(c.course) }),
    el('strong', { class: 'course-pill-state', text: courseStateText(i18n, c.state) })))),
    Number(tb.waiting_s) > 0 ? el('span', { class: 'course-waited', testid: `course-wait-${tb.table}`, title: flagged ? t('course_flag_hint') : null },
      flagged ? icon('alert') : icon('clock'), el('span', { class: 'course-waited-time', text: formatElapsed(waitedS(tb)) })) : null,
    next ? el('button', {
      type: 'button', class: 'kbtn kbtn-small course-fire', testid: `fire-${tb.table}`, disabled: busy,
      onclick: () => fireCourse(tb.table, next),
    }, icon('flame'), el('span', { text: busy ? t('sending') : t('fire_course', { course: courseLabel(next) }) })) : null);
  }));
}

function tickCourses() {
  const strip = $('#expo-courses');
  if (!strip || strip.hidden) return;
  for (const node of strip.children) {
    const tb = S.pacing.find((x) => x.table === node.dataset.table);
    const time = node.querySelector('.course-waited-time');
    if (!tb || !time) continue;
    time.textContent = formatElapsed(waitedS(tb));
    if ((node.dataset.flagged === 'true') !== isFlagged(tb)) { renderCourses(); return; }
  }
}

/** Fire a table's course: one tap; the hub's ticket updates follow over the socket. */
async function fireCourse(table, course) {
  if (!table || firing$.isBusy(table, course)) return;
  const done = firing$.fire(table, course);
  renderCourses();
  renderBoard();
  try {
    await done;
    toast(t('course_fired', { course: courseLabel(course), table: tableLabel(table) }));
  } catch (e) {
    if (e?.status === 401) return;
    if (e?.code === 'conflict') toast(t('nothing_held'), 'warn');
    else actionFailed(e);
  } finally {
    renderCourses();
    renderBoard();
    loadPacingSoon();
  }
}

// ---------------------------------------------------------------- weighing

async function loadWeights() {
  try {
    const data = await api('/api/v1/devices', { staff: true, timeoutMs: 8000 });
    for (const [scale, w] of Object.entries(data?.weights || {})) {
      S.weights.set(scale, { grams: Number(w.grams) || 0, stable: Boolean(w.stable) });
    }
  } catch { /* live readings still come over the socket */ }
  if (S.weigh) renderWeighScales();
}

function openWeigh(tk, it) {
  const scales = [...S.weights.keys()];
  S.weigh = { ticketId: tk.id, idx: it.idx, orderId: tk.order_id, scale: scales.length === 1 ? scales[0] : (S.weighScale && S.weights.has(S.weighScale) ? S.weighScale : null), busy: false, error: '' };
  $('#weigh-grams').value = '';
  renderWeigh();
  $('#weigh-layer').classList.add('is-open');
  $('#weigh-layer').setAttribute('aria-hidden', 'false');
  loadWeights();
}

function closeWeigh() {
  S.weigh = null;
  $('#weigh-layer').classList.remove('is-open');
  $('#weigh-layer').setAttribute('aria-hidden', 'true');
}

function weighItem() {
  if (!S.weigh) return null;
  const tk = S.tickets.get(S.weigh.ticketId) || S.known.get(S.weigh.ticketId);
  return { tk, it: tk?.items?.find((x) => x.idx === S.weigh.idx) };
}

function renderWeigh() {
  const w = S.weigh;
  if (!w) return;
  const { tk, it } = weighItem();
  $('#weigh-title').textContent = t('weigh_title', { name: it ? i18n.name(it.name) || it.item : '' });
  $('#weigh-sub').textContent = tk ? [
    i18n.name(tk.table?.name) || tk.table?.id || '',
    `#${tk.number ?? tk.order_id}`,
    it ? `${it.qty}×` : '',
    it?.per_grams ? t('weigh_rate', { n: it.per_grams }) : '',
  ].filter(Boolean).join(' · ') : '';
  const err = $('#weigh-error');
  err.textContent = w.error || '';
  err.hidden = !w.error;
  renderWeighScales();
  renderWeighTyped();
}

function renderWeighScales() {
  const w = S.weigh;
  if (!w) return;
  const scales = [...S.weights.keys()].sort();
  if (w.scale === null && scales.length === 1) w.scale = scales[0];
  replaceChildren($('#weigh-scales'), scales.length ? scales.map((id) => {
    const r = S.weights.get(id);
    const chosen = w.scale === id;
    return el('button', {
      type: 'button', role: 'radio', 'aria-checked': chosen ? 'true' : 'false',
      class: ['weigh-scale', chosen && 'is-chosen', r.stable ? 'is-stable' : 'is-settling'],
      testid: `weighing-scale-${id}`, dataset: { stable: r.stable ? 'true' : 'false', grams: r.grams },
      onclick: () => { w.scale = id; S.weighScale = id; w.error = ''; renderWeigh(); },
    },
    el('span', { class: 'weigh-scale-icon' }, icon('scale')),
    el('span', { class: 'weigh-scale-name', text: t('scale_name', { id }) }),
    el('span', { class: 'weigh-scale-grams', text: grams(r.grams, i18n.lang) }),
    el('span', { class: 'weigh-scale-flag' }, r.stable ? icon('check') : null, el('span', { text: r.stable ? t('stable') : t('settling') })));
  }) : el('p', { class: 'weigh-none', testid: 'weighing-no-scale', text: t('no_scale_readings') }));
  const r = w.scale ? S.weights.get(w.scale) : null;
  const confirm = $('#weigh-confirm');
  confirm.disabled = !r || !r.stable || w.busy;
  confirm.dataset.stable = r?.stable ? 'true' : 'false';
  replaceChildren(confirm, icon('check'), el('span', {
    text: w.busy ? t('sending') : (r ? t('confirm_weight', { weight: grams(r.grams, i18n.lang) }) : t('confirm')),
  }));
}

function renderWeighTyped() {
  const w = S.weigh;
  if (!w) return;
  const n = Math.round(Number($('#weigh-grams').value));
  const ok = Number.isFinite(n) && n >= 1 && n <= 100000;
  const btn = $('#weigh-save-grams');
  btn.disabled = !ok || w.busy;
  replaceChildren(btn, el('span', { text: ok ? t('save_typed_weight', { weight: grams(n, i18n.lang) }) : t('save_typed') }));
}

async function sendWeight(body) {
  const w = S.weigh;
  if (!w || w.busy) return;
  w.busy = true;
  w.error = '';
  renderWeigh();
  try {
    const order = await staffCall(`/api/v1/orders/${encodeURIComponent(w.orderId)}/lines/${encodeURIComponent(w.idx)}/weight`, body, { attempts: 1 });
    const line = order?.lines?.[w.idx];
    const g = Number(line?.grams) || body.grams || S.weights.get(body.scale)?.grams;
    // show it at once; the hub's ticket update follows over the socket
    const tk = S.tickets.get(w.ticketId);
    if (tk && g) onTicket({ ...tk, items: tk.items.map((x) => (x.idx === w.idx ? { ...x, grams: g } : x)) });
    closeWeigh();
    toast(t('weighed_toast', { weight: grams(g, i18n.lang) }));
  } catch (e) {
    if (e?.status === 401) return;
    if (!S.weigh) return;
    S.weigh.busy = false;
    S.weigh.error = e?.isNetwork ? t('action_network') : (e?.message || t('action_failed', { message: '' }));
    renderWeigh();
  }
}

function confirmScaleWeight() {
  const w = S.weigh;
  const r = w?.scale ? S.weights.get(w.scale) : null;
  if (!r || !r.stable) return;
  sendWeight({ scale: w.scale });
}

function saveTypedWeight(ev) {
  ev.preventDefault();
  const n = Math.round(Number($('#weigh-grams').value));
  if (!Number.isFinite(n) || n < 1 || n > 100000) return;
  sendWeight({ grams: n });
}

// ---------------------------------------------------------------- start

async function loadStations() {
  try {
    const data = await api('/api/v1/stations', { staff: true });
    S.stations = new Map((data?.stations || []).map((s) => [s.id, s]));
    if (S.stations.has(station)) S.station = { ...S.station, ...S.stations.get(station), ...(S.station.keymap ? { keymap: S.station.keymap } : {}) };
    if (!isExpo && S.stations.size && !S.stations.has(station)) {
      toast(t('unknown_station', { station }), 'error');
    }
    return true;
  } catch (e) {
    if (e.status === 401) { notPaired(); return false; }
    if (e.status === 403) { notPaired(true); return false; }
    return true; // offline: the socket keeps trying
  }
}

function wire() {
  document.body.classList.toggle('is-expo', isExpo);
  $('#side').hidden = false;
  sound.wire();
  $('#recall-last').addEventListener('click', recallLast);
  $('#recent-btn').addEventListener('click', () => openDrawer('recent'));
  $('#avail-btn').addEventListener('click', () => openDrawer('availability'));
  $('#settings-btn').addEventListener('click', openSettings);
  $('#drawer-close').addEventListener('click', closeDrawer);
  $('#drawer-backdrop').addEventListener('click', closeDrawer);
  $('#settings-done').addEventListener('click', closeSettings);
  $('#weigh-cancel').addEventListener('click', closeWeigh);
  $('#weigh-confirm').addEventListener('click', confirmScaleWeight);
  $('#weigh-typed').addEventListener('submit', saveTypedWeight);
  $('#weigh-grams').addEventListener('input', renderWeighTyped);
  $('#weigh-layer').addEventListener('click', (ev) => { if (ev.target === ev.currentTarget) closeWeigh(); });
  $('#board').addEventListener('scroll', updateMore, { passive: true });
  window.addEventListener('resize', fitColumns);
  headerFit.wire();
  fitColumns();
  $('#board-more').addEventListener('click', () => {
    const board = $('#board');
    board.scrollBy({ left: board.clientWidth * 0.8, behavior: 'smooth' });
  });
  $('#settings-reset').addEventListener('click', () => { storage.remove(KEYMAP_KEY); S.capture = null; renderSettings(); });
  document.addEventListener('keydown', onKeyDown, true);
  // Any tap drops focus, so that a bump bar's Enter never also "clicks" whichever button was
  // tapped last (sound.wire() already made any tap unlock sound).
  document.addEventListener('click', (ev) => {
    const btn = ev.target instanceof Element && ev.target.closest('button');
    if (btn && !btn.closest('.modal')) btn.blur();
  });
  i18n.onChange(() => {
    renderAll();
    if ($('#settings-layer').classList.contains('is-open')) renderSettings();
    if (S.weigh) renderWeigh();
  });
  renderHeader();
  onConnState('connecting', { failures: 0 });
  renderBoard();
  renderSide();
  everySecond(tick);
}

async function start() {
  wire();
  if (!(await loadStations())) return;
  renderHeader();
  socket = new LiveSocket(`/ws/kds/${encodeURIComponent(station)}`, { onSnapshot, onMessage, onState: onConnState, onRetry }).start();
  loadItems();
  loadPrinters();
  loadWeights();
  setInterval(loadPrinters, 20000);
  if (isExpo) { loadPacing(); setInterval(loadPacing, 15000); }
}

start();
