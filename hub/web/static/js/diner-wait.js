/**
 * The diner's wait: the kitchen's current wait on the menu (and per item where it differs, the
 * longer wait of a busy station, a paused item with the store's words), the cart's wait with
 * the "all together" choice when the order spans courses, and each order's live ETA and course
 * states. The menu's, the cart's and an order's waits are told as the range the hub gives
 * (`wait_range_s`, `eta_range_ms`: how its last quotes came out), else as one figure. The hub sends `wait` (the menu's waits) and `eta` (one order's) messages on the
 * table's socket; an order's courses come from GET /api/v1/orders/{id}?table=.
 */
import { api, el, icon } from './common.js';
import { COURSE_STATES, courseName, courseStateText, minutes } from './pacing.js';

const DIFFERS_S = 5 * 60; // an item's own wait shows when it is this far from the headline
const REFRESH_MS = 30000;
const MAX_LOOKUPS = 12; // orders read back at once (a table has a few)

export class Waits {
  /** `now()`: the hub's time (ms); `changed(what)`: re-render ('menu' | 'orders'). */
  constructor({ i18n, token, now, changed }) {
    this.i18n = i18n;
    this.token = token;
    this.now = now;
    this.changed = changed;
    this.menu = null;
    this.headline = 0;
    this.headlineRange = null; // [low, high] s
    this.paused = new Set();
    this.orders = new Map(); // order id -> {eta_ms, courses}
    this.timer = null;
  }

  t(key, vars) { return this.i18n.t(key, vars); }

  /** The menu document: `wait_s`, each item's `wait_s` / `busy` / `paused`, the courses. */
  fromMenu(menu) {
    this.menu = menu;
    this.headline = Number(menu?.wait_s) || 0;
    this.headlineRange = rangeOf(menu?.wait_range_s);
    this.paused = new Set((menu?.items || []).filter((it) => it.paused).map((it) => it.id));
  }

  /** A live `wait` message: the same fields as the menu's. */
  onWait(msg) {
    if (!this.menu) return;
    if (typeof msg.wait_s === 'number') this.headline = msg.wait_s;
    if ('wait_range_s' in msg) this.headlineRange = rangeOf(msg.wait_range_s);
    const items = msg.items && typeof msg.items === 'object' ? msg.items : {};
    for (const it of this.menu.items || []) {
      const w = items[it.id];
      if (!w) continue;
      for (const k of ['wait_s', 'wait_range_s', 'prep_s', 'busy', 'paused', 'pause_message']) if (k in w) it[k] = w[k];
    }
    if (msg.pause_message !== undefined) this.menu.pause_message = msg.pause_message;
    this.paused = new Set((this.menu.items || []).filter((it) => it.paused).map((it) => it.id));
    this.changed('menu');
  }

  isPaused(item) { return Boolean(item?.paused) && item.available !== false; }

  /** The store's words for a paused item, else ours. */
  pausedText(item) {
    return item?.pause_message || this.menu?.pause_message || this.t('paused_text');
  }

  // ------------------------------------------------------------ the menu

  /** "Kitchen wait 20–30 min" for the header; nothing while the kitchen is quiet or unknown. */
  pill() {
    if (!(this.headline > 0)) return null;
    return el('span', { class: 'd-wait', testid: 'wait-now', dataset: { waitS: this.headline } },
      icon('clock'), el('span', { text: this.say('wait_now', this.headline, this.headlineRange) }));
  }

  /** `key` with "about {min}" (one figure), or `key`_range with "{low}–{high}" when the
   *  range's ends are whole minutes apart. */
  say(key, seconds, range) {
    if (range) {
      const low = minutes(range[0]);
      const high = minutes(range[1]);
      if (high > low) return this.t(`${key}_range`, { low, high });
    }
    return this.t(key, { min: minutes(seconds) });
  }

  /** On an item's card: its wait where it differs from the headline, longer when its station
   *  is busy; a paused item says so instead. */
  itemTag(item) {
    if (this.isPaused(item)) {
      return el('span', { class: 'item-wait is-paused', testid: `item-paused-${item.id}`, text: this.t('paused_tag') });
    }
    const wait = Number(item.wait_s) || 0;
    if (!(wait > 0) || item.available === false) return null;
    const busy = Boolean(item.busy);
    if (!busy && Math.abs(wait - this.headline) < DIFFERS_S) return null;
    return el('span', {
      class: ['item-wait', busy && 'is-busy'], testid: `item-wait-${item.id}`, dataset: { waitS: wait, busy: busy ? 'true' : 'false' },
    }, icon('clock'), el('span', { text: this.t(busy ? 'wait_busy' : 'wait_item', { min: minutes(wait) }) }));
  }

  /** In the item sheet: the paused item's message, or a busy station's longer wait. */
  itemNotice(item) {
    if (this.isPaused(item)) return el('p', { class: 'wait-notice is-paused', role: 'status', testid: 'item-paused-notice', text: this.pausedText(item) });
    if (item?.busy && item.wait_s > 0) return el('p', { class: 'wait-notice is-busy', testid: 'item-busy-notice', text: this.t('wait_busy_long', { min: minutes(item.wait_s) }) });
    return null;
  }

  // ------------------------------------------------------------ courses and the cart

  courseOf(item) {
    if (!item) return null;
    if (item.course) return item.course;
    const cat = (this.menu?.categories || []).find((c) => c.id === item.category);
    return cat?.course || null;
  }

  /** The courses a cart spans that a kitchen holds (drinks go at once), in firing order. */
  heldCourses(items) {
    const courses = this.menu?.courses || [];
    if (!courses.length) return [];
    const used = new Set(items.map((it) => this.courseOf(it)).filter(Boolean));
    return courses.filter((c) => used.has(c.id) && c.hold !== false).map((c) => c.id);
  }

  courseLabel(id) { return courseName(this.i18n, this.menu?.courses, id); }

  /** The cart's wait (its slowest item) and, for several courses, "all together". */
  cartBlock(items, allTogether, onToggle) {
    const waits = items.map((it) => Number(it.wait_s) || 0);
    const wait = Math.max(0, ...waits);
    const first = this.firstItems(items, allTogether);
    const busy = items.some((it) => it.busy);
    const courses = this.heldCourses(items);
    if (!(wait > 0) && courses.length < 2) return null;
    return el('div', { class: 'cart-pacing' },
      wait > 0 ? el('p', { class: ['cart-wait', busy && 'is-busy'], testid: 'cart-wait', dataset: { waitS: wait } },
        icon('clock'), el('span', { text: this.say(courses.length > 1 && !allTogether ? 'cart_wait_first' : 'cart_wait', Math.max(0, ...first.map((it) => Number(it.wait_s) || 0)), slowest(first)) })) : null,
      courses.length > 1 ? el('label', { class: 'cart-together', testid: 'all-together-row' },
        el('input', { type: 'checkbox', testid: 'all-together', checked: Boolean(allTogether), onchange: (ev) => onToggle(ev.target.checked) }),
        el('span', { class: 'cart-together-text' },
          el('strong', { text: this.t('all_together') }),
          el('span', { text: allTogether ? this.t('all_together_on') : this.t('all_together_off', { courses: courses.map((c) => this.courseLabel(c)).join(' → ') }) }))) : null);
  }

  /** What goes first: every item together, else the first course's items. */
  firstItems(items, allTogether) {
    const courses = this.heldCourses(items);
    if (allTogether || courses.length < 2) return items;
    return items.filter((it) => { const c = this.courseOf(it); return !c || !courses.includes(c) || c === courses[0]; });
  }

  // ------------------------------------------------------------ orders: ETA and courses

  /** A live `eta` message for one order. */
  onEta(msg) {
    const id = Number(msg.order_id);
    if (!id) return;
    const have = this.orders.get(id) || { courses: [] };
    this.orders.set(id, { ...have, eta_ms: msg.eta_ms ?? null, eta_range_ms: msg.eta_range_ms ?? null });
    this.changed('orders');
  }

  /** Read the ETA and course states of the table's open orders (a few at a time). */
  async refresh(orders) {
    const open = orders.filter((o) => o.status !== 'served').slice(0, MAX_LOOKUPS);
    await Promise.all(open.map((o) => this.load(o.order_id)));
    for (const id of [...this.orders.keys()]) if (!orders.some((o) => o.order_id === id)) this.orders.delete(id);
    this.changed('orders');
  }

  async load(orderId) {
    try {
      const o = await api(`/api/v1/orders/${encodeURIComponent(orderId)}?table=${encodeURIComponent(this.token)}`, { timeoutMs: 8000 });
      this.orders.set(orderId, { eta_ms: o?.eta_ms ?? null, eta_range_ms: o?.eta_range_ms ?? null, courses: Array.isArray(o?.courses) ? o.courses : [] });
    } catch { /* the next message or refresh tries again */ }
  }

  /** Re-read now and then: an ETA moves with the kitchen even when nothing is said. */
  start(getOrders) {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.refresh(getOrders());
    }, REFRESH_MS);
  }

  clock(ms) { return new Date(ms).toLocaleTimeString(this.i18n.lang, { hour: '2-digit', minute: '2-digit' }); }

  /** On an order's card: "Ready in 10–15 min (by 18:42)" and each course's state. */
  orderBlock(o) {
    const p = this.orders.get(o.order_id);
    if (!p || o.status === 'served') return null;
    const courses = (p.courses || []).filter((c) => c.course && COURSE_STATES.includes(c.state));
    const eta = Number(p.eta_ms) || 0;
    const showEta = eta > 0 && o.status !== 'ready';
    if (!showEta && courses.length < 2) return null;
    const now = this.now();
    const left = Math.max(0, eta - now) / 1000;
    const span = rangeOf(p.eta_range_ms);
    const range = span && [Math.max(0, span[0] - now) / 1000, Math.max(0, span[1] - now) / 1000];
    return el('div', { class: 'order-pacing' },
      showEta ? el('p', { class: 'order-eta', testid: `eta-${o.order_id}`, dataset: { etaMs: eta }, 'aria-live': 'polite' },
        icon('clock'),
        el('span', { class: 'order-eta-text', text: left < 60 ? this.t('eta_any_moment') : this.say('eta_in', left, range) }),
        el('span', { class: 'order-eta-clock', text: span && minutes(range[1]) > minutes(range[0]) ? this.t('eta_by', { time: this.clock(span[1]) }) : this.clock(eta) })) : null,
      courses.length > 1 ? el('ol', { class: 'order-courses' }, courses.map((c) => el('li', {
        class: ['order-course', `is-${c.state}`], testid: `order-course-${o.order_id}-${c.course}`, dataset: { state: c.state },
      }, el('span', { text: this.courseLabel(c.course) }), el('strong', { text: this.t(`diner_course_${c.state}`) || courseStateText(this.i18n, c.state) })))) : null);
  }
}

/** [low, high] from the hub's pair, or null. */
function rangeOf(pair) {
  if (!Array.isArray(pair) || pair.length !== 2) return null;
  const low = Number(pair[0]);
  const high = Number(pair[1]);
  return Number.isFinite(low) && Number.isFinite(high) && high >= low ? [low, high] : null;
}

/** The range of the slowest of `items`: the latest low and the latest high (null: none). */
function slowest(items) {
  const ranges = items.map((it) => rangeOf(it.wait_range_s)).filter(Boolean);
  if (!ranges.length) return null;
  return [Math.max(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}
