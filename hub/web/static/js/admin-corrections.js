/**
 * The admin page's "Voids and comps": for one day (a shift), what was voided before cooking and
 * comped after it, by reason and by staff login, with units and amounts, from
 * GET /api/v1/admin/corrections?day=YYYY-MM-DD. A day with several shifts shows each.
 */
import { $, el, icon, money, replaceChildren } from './common.js';

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Today in the browser's time zone, as YYYY-MM-DD. */
export function today(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

const num = (row, ...keys) => {
  for (const k of keys) if (row?.[k] !== undefined && row?.[k] !== null) return Number(row[k]) || 0;
  return 0;
};

/** `ctx` = {staff, t, i18n, toast, failed} */
export function correctionsSection(ctx) {
  const { t, i18n } = ctx;
  const S = { day: today(), data: null, error: null, loading: false };

  async function load() {
    if (!DAY_RE.test(S.day)) return;
    S.loading = true;
    try {
      S.data = await ctx.staff(`/api/v1/admin/corrections?day=${encodeURIComponent(S.day)}`);
      S.error = null;
    } catch (e) {
      ctx.failed(e, 'corrections');
      S.error = e;
      S.data = null;
    } finally {
      S.loading = false;
    }
    render();
  }

  let timer = null;
  /** A void or comp happened: reload soon (once for a burst). */
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(load, 1500);
  }

  const fmt = (cents) => money(cents, S.data?.currency, i18n.lang);

  function table(rows, nameOf, testid, head) {
    if (!rows.length) return el('p', { class: 'muted', text: t('corrections_none') });
    return el('div', { class: 'table-wrap' }, el('table', { class: 'jobs corrections-table', testid },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: head }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_voids') }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_comps') }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_amount') }))),
      el('tbody', null, rows.map((r) => el('tr', { dataset: { name: nameOf(r) } },
        el('th', { scope: 'row', text: nameOf(r) }),
        el('td', { class: 'num', text: String(num(r, 'voids', 'void_qty', 'void_count')) }),
        el('td', { class: 'num', text: String(num(r, 'comps', 'comp_qty', 'comp_count')) }),
        el('td', { class: 'num', text: fmt(num(r, 'void_cents') + num(r, 'comp_cents') || num(r, 'cents', 'amount_cents')) }))))));
  }

  function block(part, label) {
    const byReason = part?.by_reason || [];
    const byStaff = part?.by_staff || [];
    return el('div', { class: 'corrections-block' },
      label ? el('h3', { class: 'corrections-shift', text: label }) : null,
      el('div', { class: 'corrections-grid' },
        el('div', null, el('h4', { text: t('corrections_by_reason') }),
          table(byReason, (r) => r.reason || '—', 'corrections-by-reason', t('reason'))),
        el('div', null, el('h4', { text: t('corrections_by_staff') }),
          table(byStaff, (r) => r.by || r.staff || r.login || '—', 'corrections-by-staff', t('corrections_staff')))));
  }

  function render() {
    const body = $('#corrections-body');
    if (!body) return;
    replaceChildren($('#corrections-refresh'), icon('refresh'));
    if (S.error && !S.data) { replaceChildren(body, el('p', { class: 'muted', text: t('load_failed_text') })); return; }
    if (!S.data) { replaceChildren(body, el('p', { class: 'muted', text: t('loading') })); return; }
    const shifts = Array.isArray(S.data.shifts) && S.data.shifts.length ? S.data.shifts : null;
    const totals = S.data.totals || {};
    $('#corrections-summary').textContent = t('corrections_summary', {
      voids: num(totals, 'voids', 'void_qty'), comps: num(totals, 'comps', 'comp_qty'),
    });
    replaceChildren(body, shifts
      ? shifts.map((sh, i) => block(sh, sh.label || sh.name || t('corrections_shift_n', { n: i + 1 })))
      : block(S.data, null));
  }

  function init() {
    const input = $('#corrections-day');
    input.value = S.day;
    input.addEventListener('change', () => { S.day = input.value; load(); });
    $('#corrections-refresh').addEventListener('click', load);
    render();
  }

  return { init, load, render, soon };
}
