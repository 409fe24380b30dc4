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

/** The report's rows ({kind: void|comp, reason or by, count, qty, cents}) folded into one row
 *  per name: units voided, units comped, their amount. */
export function fold(rows, nameOf) {
  const out = new Map();
  for (const r of rows || []) {
    const name = nameOf(r);
    const row = out.get(name) || { name, voids: 0, comps: 0, cents: 0 };
    if (r.kind === 'comp') row.comps += Number(r.qty) || 0; else row.voids += Number(r.qty) || 0;
    row.cents += Number(r.cents) || 0;
    out.set(name, row);
  }
  return [...out.values()].sort((a, b) => b.cents - a.cents || a.name.localeCompare(b.name));
}

/** `ctx` = {staff, t, i18n, toast, failed} */
export function correctionsSection(ctx) {
  const { t, i18n } = ctx;
  // no day chosen: the hub answers for its business day (which may start after midnight)
  const S = { day: null, data: null, error: null, loading: false };

  async function load() {
    if (S.day !== null && !DAY_RE.test(S.day)) return;
    S.loading = true;
    try {
      S.data = await ctx.staff(`/api/v1/admin/corrections${S.day ? `?day=${encodeURIComponent(S.day)}` : ''}`);
      S.error = null;
      if (DAY_RE.test(S.data?.day || '')) $('#corrections-day').value = S.data.day;
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

  function table(raw, nameOf, testid, head) {
    const rows = fold(raw, nameOf);
    if (!rows.length) return el('p', { class: 'muted', text: t('corrections_none') });
    return el('div', { class: 'table-wrap' }, el('table', { class: 'jobs corrections-table', testid },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: head }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_voids') }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_comps') }),
        el('th', { scope: 'col', class: 'num', text: t('corrections_amount') }))),
      el('tbody', null, rows.map((r) => el('tr', { dataset: { name: r.name } },
        el('th', { scope: 'row', text: r.name }),
        el('td', { class: 'num', text: String(r.voids) }),
        el('td', { class: 'num', text: String(r.comps) }),
        el('td', { class: 'num', text: fmt(r.cents) }))))));
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
    $('#corrections-summary').textContent = t('corrections_summary', {
      voids: Number(S.data.voids?.qty) || 0, comps: Number(S.data.comps?.qty) || 0,
    });
    replaceChildren(body, shifts
      ? shifts.map((sh, i) => block(sh, sh.label || sh.name || t('corrections_shift_n', { n: i + 1 })))
      : block(S.data, null));
  }

  function init() {
    const input = $('#corrections-day');
    input.value = today();
    input.addEventListener('change', () => { S.day = input.value || null; load(); });
    $('#corrections-refresh').addEventListener('click', load);
    render();
  }

  return { init, load, render, soon };
}
