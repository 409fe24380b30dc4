/**
 * The floor view's Tables tab: every table with its open check (total and what is still due),
 * re-read on live news and every 15 s while shown, and the check sheet of one table: its totals,
 * its orders and lines (VOID, COMP and CHANGED marks, seats, who entered an order), its parts
 * and payments, and the buttons that open the other views (floor-fix.js, floor-pay.js,
 * floor-order.js). Every string is set with textContent.
 */
import { $, api, clockTime, el, formatElapsed, icon, replaceChildren } from './common.js';
import {
  ctx, fmt, hooks, lineLeft, lineName, loadTables, openCheck, POLL_MS, primaryButton, push, reloadCheck, renderView, S, setContext, setFoot, t, tableName, VIEWS,
} from './floor-sheet.js';
import { openChange } from './floor-fix.js';
import { openStaffOrder } from './floor-order.js';
import { openPay, printBill } from './floor-pay.js';
import { Firing, courseName, courseStateText } from './pacing.js';

// ---------------------------------------------------------------- the tables list

let pollTimer = null;
let refreshTimer = null;

// ---------------------------------------------------------------- courses (held, fired, ready, served)

const pacing = { tables: new Map(), flagAfter: 0 };
const firing = new Firing({ onError: (e) => ctx.onAuthError(e) });
const courseLabel = (id) => courseName(ctx.i18n, S.menu?.courses, id);

/** Each table's courses from the hub; a hub without pacing simply shows none. */
async function loadPacing() {
  try {
    const data = await api('/api/v1/pacing/tables', { staff: true, timeoutMs: 8000 });
    pacing.tables = new Map((data?.tables || []).map((tb) => [tb.table, tb]));
    pacing.flagAfter = Number(data?.flag_after_s) || 0;
  } catch (e) {
    if (e?.status === 401) ctx.onAuthError(e);
  }
}

const namedCourses = (tb) => (tb?.courses || []).filter((c) => c.course);

/** The check's courses: each one's state, and "Fire mains" for the next held one. */
function coursesBlock(tableId) {
  const tb = pacing.tables.get(tableId);
  const courses = namedCourses(tb);
  if (!courses.length) return null;
  const next = tb.next || null;
  const busy = next !== null && firing.isBusy(tableId, next);
  return el('section', { class: ['ft-courses', tb.flagged && 'is-flagged'], testid: 'check-courses' },
    el('ol', { class: 'ft-course-list' }, courses.map((c) => el('li', {
      class: ['ft-course', `is-${c.state}`], testid: `check-course-${c.course}`, dataset: { state: c.state },
    }, el('span', { class: 'ft-course-name', text: courseLabel(c.course) }),
    el('strong', { class: 'ft-course-state', text: courseStateText(ctx.i18n, c.state) })))),
    tb.flagged ? el('p', { class: 'ft-course-flag', testid: 'check-course-flag' }, icon('alert'),
      el('span', { text: t('course_waiting_long', { time: formatElapsed(tb.waiting_s) }) })) : null,
    next ? el('button', {
      type: 'button', class: 'btn btn-primary ft-fire', testid: 'check-fire', disabled: busy,
      onclick: () => fireNext(tableId, next),
    }, icon('flame'), el('span', { text: busy ? t('sending') : t('fire_course', { course: courseLabel(next) }) })) : null);
}

async function fireNext(tableId, course) {
  const done = firing.fire(tableId, course);
  renderView();
  try {
    await done;
    ctx.toast(t('course_fired', { course: courseLabel(course), table: tableName(tableId) }));
  } catch (e) {
    if (e?.status === 401) return;
    ctx.toast(e?.code === 'conflict' ? t('nothing_held') : (e?.message || t('action_network')), 'error');
  }
  await loadPacing();
  renderTables();
  renderView();
}

/** Live news (an order, a table or a check changed): re-read soon, once for a burst. */
export function onLive(msg) {
  if (!['order', 'table', 'payment', 'ticket'].includes(msg?.type) && !/^check\b/.test(msg?.type || '')) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 250);
}

async function refresh() {
  if (!S.visible && !S.view) return;
  await Promise.all([loadTables(), loadPacing()]);
  if (S.check && S.view) await reloadCheck();
}

export function show(visible) {
  S.visible = visible;
  clearInterval(pollTimer);
  if (visible) {
    loadPacing().then(renderTables);
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
    onclick: () => { openCheck(tb.id); loadPacing().then(() => { if (S.view) renderView(); }); },
  },
  el('span', { class: 'table-card-name', text: tb.name || tb.id }),
  tb.check_id
    ? el('span', { class: 'table-card-total', testid: `table-total-${tb.id}`, text: fmt(tb.total_cents) })
    : el('span', { class: 'table-card-free', text: tb.open ? t('table_open_empty') : t('table_free') }),
  tb.check_id && Number(tb.due_cents) !== Number(tb.total_cents)
    ? el('span', { class: 'table-card-due', text: t('due_amount', { amount: fmt(tb.due_cents) }) }) : null,
  tb.orders ? el('span', { class: 'table-card-orders', text: t('orders_count', { n: tb.orders }) }) : null,
  tableCourses(tb.id)))));
}

/** On a table's card: its held course ("Mains held"), red when it has waited too long. */
function tableCourses(tableId) {
  const tb = pacing.tables.get(tableId);
  if (!tb?.next && !tb?.flagged) return null;
  return el('span', {
    class: ['table-card-course', tb.flagged && 'is-flagged'], testid: `table-course-${tableId}`,
    text: tb.next ? t('course_held_named', { course: courseLabel(tb.next) }) : t('course_flagged'),
  });
}

// ---------------------------------------------------------------- the check



VIEWS.check = (view) => {
  const c = view.closed || (S.check && S.check.table?.id === view.tableId ? S.check : null);
  $('#ft-title').textContent = c?.table?.name || tableName(view.tableId);
  if (!c) {
    replaceChildren($('#ft-body'), el('p', { class: 'ft-empty', text: view.loadError ? t('check_load_failed') : t('loading') }));
    setFoot();
    return;
  }
  const orders = c.orders || [];
  const paidUp = orders.length > 0 && Number(c.due_cents) <= 0;
  const none = !orders.length || Boolean(view.closed); // a closed check is shown, not changed
  replaceChildren($('#ft-body'),
    el('div', { class: 'ft-summary', testid: 'check-summary' },
      summaryCell(t('total'), fmt(c.total_cents), 'check-total'),
      summaryCell(t('paid'), fmt(c.paid_cents), 'check-paid'),
      summaryCell(t('due'), fmt(c.due_cents), 'check-due', Number(c.due_cents) > 0)),
    view.closed ? null : coursesBlock(view.tableId),
    el('div', { class: 'ft-actions' },
      actionButton('plus', t('staff_order'), 'staff-order', () => openStaffOrder(view.tableId)),
      actionButton('chevron', t('move_table'), 'move-table', () => push('move', { tableId: view.tableId }), none),
      actionButton('link', t('merge_check'), 'merge-check', () => push('merge', { tableId: view.tableId }), Boolean(view.closed)),
      actionButton('list', t('split_check'), 'split-check', () => push('split', { tableId: view.tableId, mode: 'even', n: 2 }), none),
      actionButton('printer', t('print_bill'), 'print-bill', () => printBill(view.tableId, null), none)),
    paidUp ? el('p', { class: 'notice notice-ok', testid: 'check-paid-up', text: view.closed ? t('check_closed_toast') : t('check_paid_up') }) : null,
    (c.parts || []).length ? partsBlock(c, view) : null,
    orders.length
      ? el('div', { class: 'ft-orders' }, orders.map((o) => orderBlock(o, !view.closed)))
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

function orderBlock(o, editable) {
  const live = editable && (o.lines || []).some((l) => lineLeft(l) > 0);
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
    el('ul', { class: 'ft-lines' }, (o.lines || []).map((l, n) => lineRow(o, l, n, editable))),
    el('footer', { class: 'ft-order-foot' }, el('span', { text: t('total') }), el('strong', { text: fmt(o.total_cents) })));
}

function lineRow(o, l, n, editable) {
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
  left > 0 && editable ? el('div', { class: 'ft-line-actions' },
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
      view.closed ? null : el('button', {
        type: 'button', class: 'btn btn-secondary ft-line-btn', testid: `bill-part-${p.part}`, 'aria-label': t('print_bill'),
        onclick: () => printBill(view.tableId, p.part),
      }, icon('printer')),
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

// ---------------------------------------------------------------- start

/** `opts`: {i18n, toast(text, kind), onAuthError(e)}. */
export function mountTables(opts) {
  setContext(opts);
  hooks.tablesChanged = renderTables;
  ctx.i18n.onChange(() => { renderTables(); renderView(); });
  renderTables();
}

