/**
 * The admin page's "Kitchen numbers": orders per hour, ticket times per station (median and
 * 90th percentile against the station's late limit) and late tickets per station, from
 * GET /api/v1/stats, drawn as inline SVG bar charts built with DOM calls (no library, no
 * markup parsing, no style attributes: the CSP forbids them). Every chart has a title and a
 * description for screen readers and its numbers as a table beside it.
 */
import { $, el, formatElapsed, replaceChildren } from './common.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
let uid = 0;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const text = (attrs, value) => svg('text', attrs, String(value));

/** A round upper bound for an axis: 7 → 8, 13 → 15, 260 → 300. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

/** The SVG frame every chart shares: role img, <title> and <desc> for assistive tech. */
function frame({ width, height, title, desc, testid }) {
  uid += 1;
  const tid = `chart-title-${uid}`;
  const did = `chart-desc-${uid}`;
  return svg('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${tid} ${did}`,
    'data-testid': testid, preserveAspectRatio: 'xMidYMid meet',
  }, svg('title', { id: tid }, title), svg('desc', { id: did }, desc));
}

/**
 * Vertical bars, one per point: `points` [{label, value, text}], `labelEvery` thins the x
 * labels on narrow charts.
 */
export function columnChart({ points, title, desc, testid, width = 960 }) {
  const W = width; const H = Math.min(230, Math.max(160, Math.round(W * 0.3))); const L = 36; const R = 8; const T = 20; const B = 28;
  const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const chart = frame({ width: W, height: H, title, desc, testid });
  const plotW = W - L - R; const plotH = H - T - B;
  const grid = svg('g', { class: 'chart-grid', 'aria-hidden': 'true' });
  for (const f of (max % 2 === 0 ? [0, 0.5, 1] : [0, 1])) {
    const y = T + plotH * (1 - f);
    grid.append(svg('line', { x1: L, x2: W - R, y1: y, y2: y }), text({ x: L - 6, y: y + 4, class: 'chart-axis', 'text-anchor': 'end' }, Math.round(max * f)));
  }
  chart.append(grid);
  const slot = plotW / Math.max(points.length, 1);
  const labelEvery = Math.max(1, Math.ceil(points.length / Math.max(1, Math.floor(plotW / 56))));
  const bars = svg('g', { class: 'chart-bars' });
  points.forEach((p, i) => {
    const h = (plotH * p.value) / max;
    const x = L + i * slot + slot * 0.15;
    const bar = svg('rect', {
      class: 'bar', x: x.toFixed(1), y: (T + plotH - h).toFixed(1), width: (slot * 0.7).toFixed(1), height: h.toFixed(1),
      'data-value': p.value, 'data-label': p.label, rx: 2,
    }, svg('title', null, `${p.label}: ${p.text ?? p.value}`));
    bars.append(bar);
    if (p.value > 0) bars.append(text({ x: (x + slot * 0.35).toFixed(1), y: (T + plotH - h - 4).toFixed(1), class: 'chart-value', 'text-anchor': 'middle', 'aria-hidden': 'true' }, p.value));
    if (i % labelEvery === 0) bars.append(text({ x: (L + i * slot + slot / 2).toFixed(1), y: H - 8, class: 'chart-axis', 'text-anchor': 'middle', 'aria-hidden': 'true' }, p.label));
  });
  chart.append(bars);
  return chart;
}

/**
 * Horizontal bars grouped by row: `rows` [{label, bars: [{value, text, cls, name}], mark}]
 * where `mark` (optional) draws a dashed limit line across the row (a station's late limit).
 */
export function barChart({ rows, title, desc, testid, format = String, max: fixedMax, width = 520 }) {
  const W = width; const L = 110; const R = 70; const ROW = 46; const T = 6; const B = 6;
  const per = Math.max(1, ...rows.map((r) => r.bars.length));
  const H = T + B + ROW * Math.max(rows.length, 1);
  const max = fixedMax ?? niceMax(Math.max(0, ...rows.flatMap((r) => [...r.bars.map((b) => b.value || 0), r.mark || 0])));
  const chart = frame({ width: W, height: H, title, desc, testid });
  const plotW = W - L - R;
  const barH = (ROW - 12) / per;
  rows.forEach((r, i) => {
    const y0 = T + i * ROW + 6;
    const g = svg('g', { class: 'chart-row', 'data-row': r.label });
    g.append(text({ x: L - 8, y: y0 + (ROW - 12) / 2 + 5, class: 'chart-label', 'text-anchor': 'end' }, r.label));
    r.bars.forEach((b, k) => {
      const w = b.value === null || b.value === undefined ? 0 : (plotW * b.value) / max;
      const y = y0 + k * barH;
      g.append(svg('rect', { class: 'track', x: L, y: y.toFixed(1), width: plotW, height: (barH - 2).toFixed(1), rx: 2, 'aria-hidden': 'true' }));
      g.append(svg('rect', {
        class: ['bar', b.cls].filter(Boolean).join(' '), x: L, y: y.toFixed(1), width: Math.max(0, w).toFixed(1), height: (barH - 2).toFixed(1),
        'data-value': b.value ?? '', 'data-label': `${r.label} ${b.name || ''}`.trim(), rx: 2,
      }, svg('title', null, `${r.label}${b.name ? ` — ${b.name}` : ''}: ${b.text ?? format(b.value)}`)));
      g.append(text({ x: (L + w + 6).toFixed(1), y: (y + barH / 2 + 3).toFixed(1), class: 'chart-value', 'aria-hidden': 'true' }, b.text ?? format(b.value)));
    });
    if (r.mark) {
      const x = (L + (plotW * r.mark) / max).toFixed(1);
      g.append(svg('line', { class: 'chart-mark', x1: x, x2: x, y1: y0 - 4, y2: y0 + ROW - 8, 'aria-hidden': 'true' }, svg('title', null, r.markText || '')));
    }
    chart.append(g);
  });
  return chart;
}

/** The numbers of a chart as a table, for screen readers (and anyone who wants the digits). */
function numbersTable(caption, head, rows, testid) {
  // wrapped: a table ignores the 1px box of .sr-only and would widen the page on a phone
  return el('div', { class: 'sr-only' }, el('table', { testid },
    el('caption', { text: caption }),
    el('thead', null, el('tr', null, head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', null, rows.map((r) => el('tr', null, r.map((c, i) => el(i ? 'td' : 'th', i ? { text: c } : { scope: 'row', text: c })))))));
}

/** The section: `ctx` = {staff, t, i18n, failed}. */
export function statsSection(ctx) {
  const { t, i18n } = ctx;
  const S = { data: null, quotes: null, hours: 12, loading: false };

  async function load() {
    if (S.loading) return;
    S.loading = true;
    try {
      const [data, quotes] = await Promise.all([
        ctx.staff(`/api/v1/stats?hours=${S.hours}`),
        // a hub without pacing has no quotes: the rest of the numbers still show
        ctx.staff(`/api/v1/admin/pacing/quotes?hours=${S.hours}`).catch(() => null),
      ]);
      S.data = data;
      S.quotes = quotes;
    } catch (e) {
      ctx.failed(e, 'stats');
      if (!S.data) replaceChildren($('#stats-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
      return;
    } finally {
      S.loading = false;
    }
    render();
  }

  let timer = null;
  /** Fold a burst of ticket changes into one reload. */
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(load, 2000);
  }

  const hourLabel = (ms) => new Date(ms).toLocaleTimeString(i18n.lang, { hour: 'numeric' });
  const secs = (s) => (s === null || s === undefined ? '—' : formatElapsed(s));

  function render() {
    const d = S.data;
    const body = $('#stats-body');
    if (!d || !body) return;
    const stations = d.stations || [];
    const name = (s) => i18n.name(s.name) || s.id;
    const late = stations.reduce((n, s) => n + s.late, 0);
    const bumped = stations.reduce((n, s) => n + s.bumped, 0);
    $('#stats-summary').textContent = t('stats_summary', { orders: d.orders_total, hours: d.hours, late, bumped });
    const hours = (d.orders_per_hour || []).map((h) => ({ label: hourLabel(h.start_ms), value: h.orders, text: t('n_orders', { n: h.orders }) }));
    const busiest = hours.reduce((a, b) => (b.value > (a?.value ?? -1) ? b : a), null);
    const ordersDesc = t('chart_orders_desc', { n: d.orders_total, hours: d.hours, peak: busiest && busiest.value ? `${busiest.label} (${busiest.value})` : '—' });
    const timeRows = stations.map((s) => ({
      label: name(s), mark: s.late_seconds, markText: t('late_after', { time: secs(s.late_seconds) }),
      bars: [
        { value: s.p50_s, name: t('median'), cls: 'bar-p50', text: secs(s.p50_s) },
        { value: s.p90_s, name: t('p90'), cls: s.p90_s > s.late_seconds ? 'bar-p90 is-late' : 'bar-p90', text: secs(s.p90_s) },
      ],
    }));
    const lateRows = stations.map((s) => ({
      label: name(s),
      bars: [{ value: s.late, cls: s.late ? 'bar-late' : 'bar-ok', text: t('late_of', { late: s.late, n: s.bumped }) }],
    }));
    // drawn at the size they are shown, so the text is the size it says on a phone too
    const inner = Math.max(300, body.clientWidth - 40);
    const wide = inner;
    const half = window.matchMedia('(max-width: 960px)').matches ? inner : Math.max(300, Math.floor((inner - 28) / 2));
    S.drawnAt = body.clientWidth;
    const open = stations.filter((s) => s.open_late > 0).map((s) => t('open_late_now', { station: name(s), n: s.open_late }));
    replaceChildren(body,
      el('figure', { class: 'chart-box chart-wide' },
        el('figcaption', { class: 'chart-caption', text: t('chart_orders') }),
        columnChart({ points: hours, title: t('chart_orders'), desc: ordersDesc, testid: 'chart-orders', width: wide }),
        numbersTable(t('chart_orders'), [t('hour'), t('orders_col')], hours.map((h) => [h.label, String(h.value)]), 'table-orders')),
      el('figure', { class: 'chart-box' },
        el('figcaption', { class: 'chart-caption' },
          el('span', { text: t('chart_times') }),
          el('span', { class: 'chart-legend', 'aria-hidden': 'true' },
            el('span', { class: 'key key-p50', text: t('median') }), el('span', { class: 'key key-p90', text: t('p90') }),
            el('span', { class: 'key key-mark', text: t('late_limit') }))),
        stations.length ? barChart({ rows: timeRows, title: t('chart_times'), desc: t('chart_times_desc'), testid: 'chart-times', format: secs, width: half })
          : el('p', { class: 'muted', text: t('no_stations') }),
        numbersTable(t('chart_times'), [t('station'), t('median'), t('p90'), t('late_limit'), t('bumped_col')],
          stations.map((s) => [name(s), secs(s.p50_s), secs(s.p90_s), secs(s.late_seconds), String(s.bumped)]), 'table-times')),
      el('figure', { class: 'chart-box' },
        el('figcaption', { class: 'chart-caption', text: t('chart_late') }),
        stations.length ? barChart({ rows: lateRows, title: t('chart_late'), desc: t('chart_late_desc', { late, bumped }), testid: 'chart-late', width: half }) : null,
        numbersTable(t('chart_late'), [t('station'), t('late_col'), t('bumped_col'), t('open_late_col')],
          stations.map((s) => [name(s), String(s.late), String(s.bumped), String(s.open_late)]), 'table-late'),
        open.length ? el('p', { class: 'chart-alert', role: 'status', testid: 'open-late', text: open.join(' · ') }) : null),
      quotesFigure(wide));
  }

  /** How far the waits quoted to diners were from when their orders were ready: p50 and p90
   *  of the error per hour (GET /api/v1/admin/pacing/quotes). */
  function quotesFigure(width) {
    const q = S.quotes;
    if (!q) return null;
    const hours = (q.hours || []).filter((h) => h.count > 0);
    const all = q.overall || {};
    const rows = hours.map((h) => ({
      label: hourLabel(h.hour_ms),
      bars: [
        { value: h.p50_s, name: t('median'), cls: 'bar-p50', text: secs(h.p50_s) },
        { value: h.p90_s, name: t('p90'), cls: 'bar-p90', text: secs(h.p90_s) },
      ],
    }));
    const summary = all.count
      ? t('quotes_summary', { n: all.count, p50: secs(all.p50_s), p90: secs(all.p90_s), pending: q.pending || 0 })
      : t('quotes_none', { pending: q.pending || 0 });
    return el('figure', { class: 'chart-box chart-wide', testid: 'quote-errors' },
      el('figcaption', { class: 'chart-caption' },
        el('span', { text: t('chart_quotes') }),
        el('span', { class: 'chart-legend', 'aria-hidden': 'true' },
          el('span', { class: 'key key-p50', text: t('median') }), el('span', { class: 'key key-p90', text: t('p90') }))),
      el('p', { class: 'muted chart-note', testid: 'quote-summary', text: summary }),
      rows.length ? barChart({ rows, title: t('chart_quotes'), desc: summary, testid: 'chart-quotes', format: secs, width }) : null,
      numbersTable(t('chart_quotes'), [t('hour'), t('quotes_col'), t('median'), t('p90')],
        hours.map((h) => [hourLabel(h.hour_ms), String(h.count), secs(h.p50_s), secs(h.p90_s)]), 'table-quotes'));
  }

  function init() {
    const sel = $('#stats-hours');
    sel.value = String(S.hours);
    sel.addEventListener('change', () => { S.hours = Number(sel.value) || 12; load(); });
    $('#stats-refresh').addEventListener('click', load);
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if ($('#stats-body').clientWidth !== S.drawnAt) render(); }, 200);
    });
  }

  return { init, load, soon, render };
}
