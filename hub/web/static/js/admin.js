/**
 * The admin page at /admin: sold-out items (live from /ws/kds/expo), printers with a test print
 * and the recent print jobs (live from `print` messages), tables with their QR codes, bills and
 * QR rotation and the printable QR sheet, device presence with live scale readings, links to
 * every station's KDS, and the hub's /healthz. The kitchen's numbers (charts), the menu editor,
 * staff tokens, backups and the cloud bridge live in admin-stats.js, admin-menu.js,
 * admin-tokens.js, admin-backups.js and admin-bridge.js; this module hands them its helpers.
 */
import {
  $, ApiError, I18n, LANGUAGE_NAMES, LiveSocket, actionErrorText, api, availabilityList, causeText,
  clockTime, deviceProblems, el, fold, grams, humanize, icon, isPrinter, lowAt, makeToast, printerIdOf,
  randomId, replaceChildren, showConnState, showNotPaired,
} from './common.js';
import { LANGS } from './i18n.js';
import { backupsSection } from './admin-backups.js';
import { correctionsSection } from './admin-corrections.js';
import { bridgeSection } from './admin-bridge.js';
import { menuSection } from './admin-menu.js';
import { statsSection } from './admin-stats.js';
import { tokensSection } from './admin-tokens.js';

const i18n = new I18n({ storageKey: 'tablehub.staff.lang' });
const t = (key, vars) => i18n.t(key, vars);

const S = {
  items: null,
  soldOut: new Set(),
  stations: [],
  tables: null,
  health: null,
  healthError: null,
  devices: new Map(),
  weights: new Map(),      // scale id -> {grams, stable}
  printers: null,          // [{id, stations, chits, bills, backup, up, reason}]
  jobs: new Map(),         // recent print jobs by id, newest first
  tests: new Map(),        // printer id -> {busy} | {ok, text, at}
  tableBusy: new Set(),    // `bill:T1`, `rotate:T1`
  deviceBusy: new Set(),   // device ids being forgotten
  qrVersion: new Map(),    // table id -> cache-buster after a rotation
  live: false,             // a snapshot arrived (devices are known)
  search: '',
  paired: true,
};
let socket = null;

const stationName = (id) => i18n.name(S.stations.find((s) => s.id === id)?.name) || humanize(id);

const toast = makeToast();

function notPaired(forbidden = false) {
  if (!S.paired) return;
  S.paired = false;
  socket?.stop();
  showNotPaired($('#app'), i18n, { forbidden });
}

/** A staff API call; 401/403 switch the page to the "not paired" panel. */
async function staff(path, body, { timeoutMs = 15000 } = {}) {
  try {
    return await api(path, { method: body === undefined ? 'GET' : 'POST', body, staff: true, timeoutMs });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) notPaired();
    else if (e instanceof ApiError && e.status === 403 && e.code === 'forbidden') notPaired(true);
    throw e;
  }
}

function failed(e, where) {
  if (!S.paired) return;
  toast(actionErrorText(i18n, e, where), 'error');
}

/** 401/403 from a call made without `staff()`: switch to the "not paired" panel. */
function onAuthError(e) {
  if (e instanceof ApiError && e.status === 401) { notPaired(); return true; }
  if (e instanceof ApiError && e.status === 403 && e.code === 'forbidden') { notPaired(true); return true; }
  return false;
}

const ctx = {
  staff, t, i18n, toast, failed, onAuthError,
  confirmDialog: (opts) => confirmDialog(opts),
  stations: () => S.stations,
  isSoldOut: (id) => S.soldOut.has(id),
  toggleAvailability: (it, soldOut) => toggleItem({ ...it, available: !soldOut }),
  reloadItems: () => loadItems(),
};
const stats = statsSection(ctx);
const menu = menuSection(ctx);
const tokens = tokensSection(ctx);
const backups = backupsSection(ctx);
const corrections = correctionsSection(ctx);
const bridge = bridgeSection(ctx);

// ---------------------------------------------------------------- sold-out items

async function loadItems() {
  try {
    const data = await staff('/api/v1/items');
    S.items = data?.items || [];
    for (const it of S.items) if (it.available === false) S.soldOut.add(it.id); else S.soldOut.delete(it.id);
  } catch (e) {
    failed(e, 'items');
    if (!S.items) replaceChildren($('#avail-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
    return;
  }
  renderItems();
}

function renderItems() {
  if (!S.items) return;
  const q = fold(S.search).trim();
  const onlyOut = $('#avail-only-out').checked;
  const byStation = $('#avail-group').value === 'station';
  const items = S.items
    .map((it) => ({ ...it, available: !S.soldOut.has(it.id) }))
    .filter((it) => (!onlyOut || !it.available)
      && (!q || fold(`${i18n.name(it.name)} ${it.name?.en || ''} ${it.id}`).includes(q)))
    .sort((a, b) => (byStation ? stationName(a.station).localeCompare(stationName(b.station)) : 0)
      || String(a.category).localeCompare(String(b.category)));
  const out = S.items.filter((it) => S.soldOut.has(it.id)).length;
  $('#avail-summary').textContent = t('sold_out_summary', { n: out, total: S.items.length });
  replaceChildren($('#avail-body'), availabilityList(items, {
    i18n,
    groupBy: byStation ? (it) => stationName(it.station) : (it) => humanize(it.category),
    onToggle: toggleItem,
    onCount: countItem,
  }));
}

/** The kitchen's count of an item ("12 tonight"); empty stops counting. */
async function countItem(it, count) {
  try {
    const res = await staff(`/api/v1/items/${encodeURIComponent(it.id)}/stock`, { count, low_at: lowAt(it, count), id: randomId(16) });
    Object.assign(S.items.find((x) => x.id === it.id) || {}, res);
    setAvailable(it.id, res?.available ?? true);
  } catch (e) {
    failed(e, 'stock');
  }
}

function onStock(msg) {
  const item = (S.items || []).find((it) => it.id === msg.item);
  if (!item) return;
  if (msg.left === null || msg.left === undefined) {
    delete item.stock_left; delete item.low_at; delete item.stock_low;
  } else {
    Object.assign(item, { stock_left: msg.left, low_at: msg.low_at, stock_low: Boolean(msg.low) });
  }
  renderItems();
}

async function toggleItem(it) {
  const available = !it.available;
  try {
    const res = await staff(`/api/v1/items/${encodeURIComponent(it.id)}/availability`, { available });
    setAvailable(it.id, res?.available ?? available);
    toast(available ? t('now_available', { name: i18n.name(it.name) }) : t('now_sold_out', { name: i18n.name(it.name) }));
  } catch (e) {
    failed(e, 'availability');
  }
}

function setAvailable(id, available) {
  if (available) S.soldOut.delete(id); else S.soldOut.add(id);
  renderItems();
  menu.render();
}

function onSnapshot(msg) {
  S.live = true;
  if (Array.isArray(msg.sold_out)) S.soldOut = new Set(msg.sold_out);
  if (Array.isArray(msg.devices)) S.devices = new Map(msg.devices.map((d) => [d.id, d]));
  renderItems();
  renderDevices();
  renderPrinters();
}

function onMessage(msg) {
  if (msg.type === 'availability') {
    setAvailable(msg.item, Boolean(msg.available));
  } else if (msg.type === 'stock') {
    onStock(msg);
  } else if (msg.type === 'device' && msg.device) {
    if (msg.device.state === 'forgotten') S.devices.delete(msg.device.id);
    else S.devices.set(msg.device.id, msg.device);
    renderDevices();
    renderPrinters();
    if (isPrinter(msg.device)) loadPrintersSoon();
  } else if (msg.type === 'print' && msg.job) {
    onJob(msg.job);
  } else if (msg.type === 'menu') {
    loadItems();
    menu.load();
  } else if (msg.type === 'ticket' || msg.type === 'order') {
    stats.soon();
    corrections.soon();
  } else if (msg.type === 'weight' && msg.scale) {
    S.weights.set(msg.scale, { grams: msg.grams, stable: Boolean(msg.stable) });
    renderWeight(msg.scale);
  }
}

let wasOffline = false;
function onConnState(state) {
  const online = state === 'online';
  showConnState(state, i18n, { onlineKey: 'live', banner: false });
  // The snapshot after a reconnect carries `sold_out`; re-fetch too in case items changed meanwhile.
  if (state === 'offline') wasOffline = true;
  if (online && wasOffline && S.items) { wasOffline = false; loadItems(); loadPrinters(); }
}

// ---------------------------------------------------------------- tables

async function loadTables() {
  try {
    const data = await staff('/api/v1/tables');
    S.tables = data?.tables || [];
  } catch (e) {
    failed(e, 'tables');
    replaceChildren($('#tables-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
    return;
  }
  renderTables();
}

const safeHref = (url) => (/^(https?:\/\/|\/(?!\/))/i.test(String(url || '')) ? String(url) : null);

function renderTables() {
  if (!S.tables) return;
  replaceChildren($('#tables-body'), S.tables.length ? el('ul', { class: 'qr-grid' }, S.tables.map((tb) => {
    const href = safeHref(tb.url);
    const name = i18n.name(tb.name) || tb.id;
    const version = S.qrVersion.get(tb.id);
    const billing = S.tableBusy.has(`bill:${tb.id}`);
    const rotating = S.tableBusy.has(`rotate:${tb.id}`);
    return el('li', { class: 'qr-card', testid: `table-${tb.id}` },
      el('img', {
        class: 'qr-img', src: `/api/v1/tables/${encodeURIComponent(tb.id)}/qr.svg${version ? `?v=${version}` : ''}`,
        alt: t('qr_for', { name }), width: '160', height: '160', loading: 'lazy',
      }),
      el('div', { class: 'qr-name', text: name }),
      el('div', { class: 'qr-id', text: tb.id }),
      href ? el('a', { class: 'qr-url', href, target: '_blank', rel: 'noopener noreferrer', text: tb.url, testid: `table-link-${tb.id}` })
        : el('span', { class: 'qr-url', text: tb.url || '' }),
      el('div', { class: 'qr-actions' },
        el('button', {
          type: 'button', class: 'btn btn-secondary btn-sm', testid: `print-bill-${tb.id}`, disabled: billing,
          onclick: () => printBill(tb),
        }, icon('receipt'), el('span', { text: billing ? t('sending') : t('print_bill') })),
        el('button', {
          type: 'button', class: 'btn btn-text btn-sm btn-danger-text', testid: `rotate-${tb.id}`, disabled: rotating,
          onclick: () => rotateTable(tb),
        }, icon('refresh'), el('span', { text: t('rotate_qr') }))));
  })) : el('p', { class: 'muted', text: t('no_tables') }));
}

async function printBill(tb) {
  const key = `bill:${tb.id}`;
  if (S.tableBusy.has(key)) return;
  S.tableBusy.add(key);
  renderTables();
  const name = i18n.name(tb.name) || tb.id;
  try {
    const res = await staff(`/api/v1/tables/${encodeURIComponent(tb.id)}/bill`, {});
    toast(t('bill_sent', { table: name, printer: res?.printer || '?' }));
  } catch (e) {
    if (!S.paired) return;
    if (e?.code === 'conflict' && e.field === 'table') toast(t('bill_no_check', { table: name }), 'error');
    else if (e?.code === 'conflict' && e.field === 'printer') toast(t('bill_no_printer'), 'error');
    else failed(e, 'bill');
  } finally {
    S.tableBusy.delete(key);
    renderTables();
  }
}

async function rotateTable(tb) {
  const name = i18n.name(tb.name) || tb.id;
  const ok = await confirmDialog({ title: t('rotate_title', { table: name }), text: t('rotate_warning'), ok: t('rotate_qr') });
  if (!ok) return;
  const key = `rotate:${tb.id}`;
  S.tableBusy.add(key);
  renderTables();
  try {
    const res = await staff(`/api/v1/tables/${encodeURIComponent(tb.id)}/rotate`, {});
    if (res?.url) tb.url = res.url;
    S.qrVersion.set(tb.id, Date.now());
    toast(t('rotated', { table: name }));
  } catch (e) {
    failed(e, 'rotate');
  } finally {
    S.tableBusy.delete(key);
    renderTables();
  }
}

// ---------------------------------------------------------------- confirm dialog

/** A modal question; resolves true when the person chose `ok`. */
function confirmDialog({ title, text, ok }) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  replaceChildren($('#confirm-icon'), icon('alert'));
  replaceChildren($('#confirm-ok'), el('span', { text: ok }));
  return new Promise((resolve) => {
    dlg.returnValue = '';
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

// ---------------------------------------------------------------- printers and print jobs

async function loadPrinters() {
  try {
    const data = await staff('/api/v1/printers');
    S.printers = Array.isArray(data?.printers) ? data.printers : [];
    const jobs = Array.isArray(data?.jobs) ? data.jobs : [];
    S.jobs = new Map(jobs.map((j) => [j.id, j]));
  } catch (e) {
    failed(e, 'printers');
    if (!S.printers) replaceChildren($('#printers-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
    return;
  }
  renderPrinters();
  renderJobs();
  renderDevices(); // a printer of the config offers no Forget
}

let printersTimer = null;
function loadPrintersSoon() {
  clearTimeout(printersTimer);
  printersTimer = setTimeout(loadPrinters, 500);
}

function onJob(job) {
  const prev = S.jobs.get(job.id);
  const merged = { ...(prev || { created_at: new Date().toISOString(), attempts: 0, origin: job.printer }), ...job };
  if (prev) S.jobs.set(job.id, merged);
  else S.jobs = new Map([[job.id, merged], ...S.jobs]);
  while (S.jobs.size > 50) S.jobs.delete([...S.jobs.keys()].pop());
  renderJobs();
  if (['failed', 'printed'].includes(job.state) || job.origin) loadPrintersSoon();
}

const chitsLabel = (mode) => t(`chits_${mode}`) === `chits_${mode}` ? String(mode || '') : t(`chits_${mode}`);

/** The hub's view of a printer, with its agent's live detail (paper low…) where there is one. */
function printerState(p) {
  const dev = S.devices.get(`printer-${p.id}`);
  const dp = dev ? deviceProblems(dev) : null;
  if (!p.up) return { level: 'bad', text: causeText(i18n, p.reason, '') || t('printer_down') };
  if (dp?.down) return { level: 'bad', text: dp.reasons.map((r) => t(r)).join(', ') };
  if (dp?.warn) return { level: 'warn', text: dp.reasons.map((r) => t(r)).join(', ') };
  return { level: 'ok', text: t('printer_ready') };
}

function renderPrinters() {
  const body = $('#printers-body');
  if (!body || !S.printers) return;
  const down = S.printers.filter((p) => printerState(p).level === 'bad').length;
  $('#printers-summary').textContent = S.printers.length
    ? [t('printers_count', { n: S.printers.length }), down ? t('n_down', { n: down }) : t('all_ready')].join(' · ')
    : t('no_printers_hint');
  replaceChildren(body, S.printers.length ? el('ul', { class: 'printer-list' }, S.printers.map((p) => {
    const st = printerState(p);
    const test = S.tests.get(p.id);
    const meta = [
      p.stations?.length ? p.stations.map(stationName).join(', ') : null,
      chitsLabel(p.chits),
      p.bills ? t('prints_bills') : null,
      p.backup ? t('backup_printer', { printer: p.backup }) : null,
    ].filter(Boolean).join(' · ');
    return el('li', { class: ['printer-row', `is-${st.level}`], testid: `printer-${p.id}`, dataset: { up: p.up ? 'true' : 'false', reason: p.reason || '' } },
      el('span', { class: 'printer-icon' }, icon('printer')),
      el('div', { class: 'printer-main' },
        el('div', { class: 'printer-line' },
          el('strong', { class: 'printer-id', text: p.id }),
          el('span', { class: ['pill', `pill-${st.level}`], testid: `status-printer-${p.id}`, text: st.text })),
        el('div', { class: 'printer-meta', text: meta }),
        p.preview ? el('a', {
          class: 'printer-preview', href: `/api/v1/printers/${encodeURIComponent(p.id)}/preview.png`,
          target: '_blank', rel: 'noopener', testid: `preview-${p.id}`, text: t('last_printed'),
        }) : null),
      el('button', {
        type: 'button', class: 'btn btn-secondary btn-sm printer-test', testid: `test-print-${p.id}`, disabled: Boolean(test?.busy),
        onclick: () => testPrint(p),
      }, test?.busy ? el('span', { class: 'spinner spinner-dark' }) : icon('printer'), el('span', { text: test?.busy ? t('printing') : t('test_print') })),
      test && !test.busy ? el('div', {
        class: ['test-result', test.ok ? 'is-ok' : 'is-bad'], testid: `test-result-${p.id}`,
        dataset: { ok: test.ok ? 'true' : 'false', error: test.code || '' }, role: 'status',
      }, icon(test.ok ? 'check' : 'alert'), el('span', { class: 'test-result-text', text: test.text }),
      el('span', { class: 'test-result-time', text: clockTime(test.at, i18n.lang) })) : null);
  })) : el('p', { class: 'muted', text: t('no_printers') }));
}

async function testPrint(p) {
  if (S.tests.get(p.id)?.busy) return;
  S.tests.set(p.id, { busy: true });
  renderPrinters();
  try {
    await staff(`/api/v1/printers/${encodeURIComponent(p.id)}/test`, {}, { timeoutMs: 30000 });
    S.tests.set(p.id, { ok: true, text: t('test_ok'), at: Date.now() });
  } catch (e) {
    if (!S.paired) return;
    const text = e?.isNetwork ? t('action_network')
      : (e?.status === 502 ? causeText(i18n, e.code, e.message) : (e?.message || t('action_failed', { message: '' })));
    S.tests.set(p.id, { ok: false, code: e?.code || '', text, at: Date.now() });
  }
  renderPrinters();
  loadPrintersSoon();
}

const jobKind = (kind) => (t(`job_kind_${kind}`) === `job_kind_${kind}` ? humanize(kind) : t(`job_kind_${kind}`));
const jobState = (state) => (t(`job_state_${state}`) === `job_state_${state}` ? humanize(state) : t(`job_state_${state}`));

function renderJobs() {
  const box = $('#jobs-body');
  if (!box) return;
  const jobs = [...S.jobs.values()];
  if (!jobs.length) {
    replaceChildren(box, el('p', { class: 'muted', testid: 'jobs-empty', text: t('no_jobs') }));
    return;
  }
  replaceChildren(box, el('table', { class: 'jobs', testid: 'jobs-table' },
    el('thead', null, el('tr', null, ['job_time', 'job_id', 'job_printer', 'job_kind', 'job_state', 'job_attempts', 'job_problem']
      .map((k) => el('th', { scope: 'col', text: t(k) })))),
    el('tbody', null, jobs.map((j) => el('tr', { testid: `job-${j.id}`, dataset: { state: j.state || '' } },
      el('td', { class: 'num', text: clockTime(j.created_at, i18n.lang) }),
      el('td', { class: 'mono', text: j.id }),
      el('td', null,
        el('span', { class: 'mono', text: j.printer || '' }),
        j.origin && j.origin !== j.printer ? el('span', { class: 'job-origin', text: t('job_for', { printer: j.origin }) }) : null),
      el('td', null, el('span', { text: jobKind(j.kind) }), j.copy && j.copy !== 'ORIGINAL' ? el('span', { class: 'job-copy', text: j.copy }) : null),
      el('td', null, el('span', { class: ['pill', `pill-job-${j.state}`], text: jobState(j.state) })),
      el('td', { class: 'num', text: j.attempts ?? '' }),
      el('td', { class: j.reason ? 'is-bad' : 'muted', text: j.reason ? causeText(i18n, j.reason, '') : '—' }))))));
}

// ---------------------------------------------------------------- devices

const deviceKind = (d) => (isPrinter(d) ? t('kind_printer') : (t(`kind_${d.kind}`) === `kind_${d.kind}` ? (d.kind || '') : t(`kind_${d.kind}`)));

function renderDevices() {
  const body = $('#devices-body');
  if (!body || !S.live) return;
  const devices = [...S.devices.values()].sort((a, b) => (a.state === b.state ? String(a.id).localeCompare(String(b.id)) : a.state === 'online' ? 1 : -1));
  const offline = devices.filter((d) => d.state !== 'online').length;
  $('#devices-summary').textContent = devices.length
    ? [t('devices_count', { n: devices.length }), offline ? t('n_offline', { n: offline }) : t('all_online')].join(' · ')
    : '';
  replaceChildren(body, devices.length ? el('ul', { class: 'device-list', testid: 'devices' }, devices.map((d) => {
    const p = deviceProblems(d);
    const online = d.state === 'online';
    const problems = p.reasons.filter((r) => r !== 'dev_agent_offline').map((r) => t(r));
    return el('li', {
      class: ['device', !online || p.down ? 'is-bad' : (p.warn ? 'is-warn' : 'is-ok')], testid: `device-${d.id}`,
      dataset: { state: d.state || '' },
    },
    el('span', { class: 'conn-dot' }),
    el('div', { class: 'device-main' },
      el('div', { class: 'device-line' },
        el('span', { class: 'device-id', text: d.id }),
        el('span', { class: 'device-kind', text: deviceKind(d) })),
      el('div', { class: 'device-line device-sub' },
        el('span', { class: 'device-state', text: [online ? t('online') : t('offline'), ...problems].join(' · ') }),
        el('span', { class: 'device-since', title: d.seen_at ? t('last_seen', { time: clockTime(d.seen_at, i18n.lang) }) : null, text: d.changed_at ? t('since', { time: clockTime(d.changed_at, i18n.lang) }) : '' }))),
    online || configured(d) ? null : el('button', {
      type: 'button', class: 'btn btn-secondary btn-sm device-forget', testid: `forget-${d.id}`, 'aria-label': `${t('forget_device')} ${d.id}`,
      disabled: S.deviceBusy.has(d.id), text: t('forget_device'), onclick: () => forgetDevice(d),
    }));
  })) : el('p', { class: 'muted', text: t('no_devices') }), weightsList());
}

/** A printer of this hub's config (or not known yet): taken out of the config, not here. */
const configured = (d) => S.printers === null || S.printers.some((p) => `printer-${p.id}` === d.id);

async function forgetDevice(d) {
  const ok = await confirmDialog({ title: t('forget_title', { id: d.id }), text: t('forget_warning'), ok: t('forget_device') });
  if (!ok) return;
  S.deviceBusy.add(d.id);
  renderDevices();
  try {
    await staff(`/api/v1/admin/devices/${encodeURIComponent(d.id)}/forget`, {});
    S.devices.delete(d.id); // the live `forgotten` message says the same
    toast(t('forgotten', { id: d.id }));
  } catch (e) {
    if (e?.code === 'conflict') toast(t('forget_online', { id: d.id }), 'error');
    else failed(e, 'forget');
  } finally {
    S.deviceBusy.delete(d.id);
    renderDevices();
    renderPrinters();
  }
}

/** Live scale readings (keep-latest `weight` messages), under the devices. */
function weightsList() {
  if (!S.weights.size) return null;
  return el('div', { class: 'weights', testid: 'weights' },
    el('h3', { class: 'subhead', text: t('scale_readings') }),
    el('ul', { class: 'weight-list' }, [...S.weights.keys()].sort().map((id) => {
      const w = S.weights.get(id);
      return el('li', { class: ['weight-row', w.stable ? 'is-stable' : 'is-settling'], testid: `weight-${id}`, dataset: { grams: w.grams, stable: w.stable ? 'true' : 'false' } },
        icon('scale'),
        el('span', { class: 'weight-id', text: t('scale_name', { id }) }),
        el('strong', { class: 'weight-grams', text: grams(w.grams, i18n.lang) }),
        el('span', { class: 'weight-state', text: w.stable ? t('stable') : t('settling') }));
    })));
}

let weightFrame = 0;
function renderWeight() {
  // readings can come several times a second: redraw at most once a frame
  if (weightFrame) return;
  weightFrame = requestAnimationFrame(() => { weightFrame = 0; renderDevices(); });
}

async function loadWeights() {
  try {
    const data = await staff('/api/v1/devices');
    for (const [id, w] of Object.entries(data?.weights || {})) if (!S.weights.has(id)) S.weights.set(id, { grams: w.grams, stable: Boolean(w.stable) });
  } catch (e) {
    failed(e, 'devices');
    return;
  }
  renderDevices();
}

// ---------------------------------------------------------------- stations

async function loadStations() {
  try {
    const data = await staff('/api/v1/stations');
    S.stations = data?.stations || [];
  } catch (e) {
    failed(e, 'stations');
    return false;
  }
  renderStations();
  return true;
}

function renderStations() {
  const rows = [...S.stations.map((s) => ({
    id: s.id, name: i18n.name(s.name) || s.id,
    meta: t('station_times', { warn: Math.round((s.warn_seconds ?? 300) / 60), late: Math.round((s.late_seconds ?? 600) / 60) }),
  })), { id: 'expo', name: t('expo'), meta: t('expo_hint') }];
  replaceChildren($('#stations-body'), el('ul', { class: 'link-list' }, rows.map((r) => el('li', null,
    el('a', { class: 'link-row', href: `/kds/${encodeURIComponent(r.id)}`, testid: `station-link-${r.id}` },
      el('span', { class: 'link-main' }, el('strong', { text: r.name }), el('span', { class: 'link-meta', text: r.meta })),
      el('span', { class: 'link-path', text: `/kds/${r.id}` }),
      icon('chevron'))))));
}

// ---------------------------------------------------------------- health

async function loadHealth() {
  try {
    S.health = await api('/healthz', { staff: true, timeoutMs: 8000 });
    S.healthError = null;
  } catch (e) {
    S.health = e.status ? { status: e.code, message: e.message } : null;
    S.healthError = e;
  }
  renderHealth();
}

/** {"a": {"b": 1}} → [["a.b", "1"]]: nested health reports shown as flat rows. */
function flatten(obj, prefix = '', out = []) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) flatten(v, key, out);
    else out.push([key, Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : (typeof v === 'object' ? JSON.stringify(v) : String(v))]);
  }
  return out;
}

function renderHealth() {
  const body = $('#health-body');
  if (!S.health) {
    replaceChildren(body, el('p', { class: 'health-status is-bad', text: t('health_unreachable') }));
    return;
  }
  const ok = S.health.status === 'ok';
  replaceChildren(body,
    el('div', { class: ['health-status', ok ? 'is-ok' : 'is-bad'], testid: 'health-status' },
      el('span', { class: 'conn-dot' }), el('span', { text: String(S.health.status ?? '?') })),
    el('dl', { class: 'kv', testid: 'health-kv' }, flatten(S.health).filter(([k]) => k !== 'status').map(([k, v]) => [
      el('dt', { text: k }),
      el('dd', { class: /offline|error|fail|down|false/i.test(v) ? 'is-bad' : '', text: v }),
    ])),
    el('p', { class: 'muted small', text: t('updated_at', { time: new Date().toLocaleTimeString(i18n.lang) }) }));
}

// ---------------------------------------------------------------- start

function renderStatic() {
  replaceChildren($('#health-refresh'), icon('refresh'));
  replaceChildren($('#printers-refresh'), icon('refresh'));
  replaceChildren($('#print-qr'), icon('printer'), el('span', { text: t('print_qr') }));
  replaceChildren($('#qr-sheet-pdf'), icon('qr'), el('span', { text: t('qr_sheet_pdf') }));
  replaceChildren($('#stats-refresh'), icon('refresh'));
  document.title = `${t('admin')} · tablehub`;
  $('#conn-text').textContent = t($('#conn').dataset.state === 'online' ? 'live' : 'offline');
}

function rerender() {
  renderStatic();
  renderItems();
  renderTables();
  renderStations();
  renderPrinters();
  renderJobs();
  renderDevices();
  stats.render();
  menu.render();
  tokens.render();
  backups.render();
  corrections.render();
  bridge.render();
  if (S.health || S.healthError) renderHealth();
}

async function start() {
  const sel = $('#admin-lang');
  for (const code of LANGS) sel.append(el('option', { value: code, text: LANGUAGE_NAMES[code], selected: code === i18n.lang }));
  sel.addEventListener('change', () => i18n.setLang(sel.value));
  i18n.onChange(rerender);
  renderStatic();
  $('#health-refresh').addEventListener('click', loadHealth);
  $('#printers-refresh').addEventListener('click', loadPrinters);
  $('#print-qr').addEventListener('click', () => window.print());
  $('#avail-search').addEventListener('input', (ev) => { S.search = ev.target.value; renderItems(); });
  $('#avail-group').addEventListener('change', renderItems);
  $('#avail-only-out').addEventListener('change', renderItems);
  for (const section of [stats, menu, tokens, backups, bridge, corrections]) section.init();
  loadHealth();
  setInterval(loadHealth, 15000);
  await loadStations();
  if (!S.paired) return;
  await Promise.all([loadItems(), loadTables(), loadPrinters(), stats.load(), menu.load(), tokens.load(), backups.load(), bridge.load(), corrections.load(), loadWeights()]);
  if (!S.paired) return;
  setInterval(() => { if (S.paired && document.visibilityState === 'visible') { stats.load(); backups.load(); } }, 60000);
  socket = new LiveSocket('/ws/kds/expo', { onSnapshot, onMessage, onState: onConnState }).start();
  setInterval(() => { if (S.paired && document.visibilityState === 'visible') loadPrinters(); }, 30000);
}

start();
