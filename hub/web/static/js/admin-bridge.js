/**
 * The admin page's "Cloud bridge" card: the bridge's backlog, the age of the oldest unsent
 * event, last success, last error, parked batches and alerts, from GET /api/v1/bridge (the
 * paired screen's session cookie; admin role). Hidden on a hub without a cloud bridge. Every
 * value is set as text, never as markup.
 */
import { $, api, el, replaceChildren } from './common.js';

const REFRESH_MS = 10000;
const UNPARK = 'tablehub bridge unpark --config /etc/tablehub/bridge.toml';
const STATES = {
  ok: ['Uploading', 'is-ok'],
  stale: ['Stale: events are waiting and nothing was uploaded', 'is-bad'],
  not_running_yet: ['Not running yet', 'is-bad'],
  unreadable: ['State unreadable', 'is-bad'],
  unknown: ['Checking…', ''],
};

let timer = null;

function age(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.floor(Number(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function when(iso) {
  if (!iso) return 'never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

function row(label, value, bad = false, testid = undefined) {
  return [el('dt', { text: label }), el('dd', { class: bad ? 'is-bad' : '', text: value, testid })];
}

function backlogText(b) {
  if (!b) return '–';
  const counted = b.events === null || b.events === undefined
    ? 'not counted yet'
    : `${b.events} events (counted ${when(b.counted_at)})`;
  return `${counted}; ${b.unacked_seqs ?? 0} not yet acknowledged`;
}

function parkedList(parked) {
  if (!parked.length) return null;
  return [
    el('ul', { class: 'bridge-parked small', testid: 'bridge-parked' }, parked.map((p) => el('li', {
      text: `#${p.id}: seq ${p.first_seq}..${p.last_seq} (${p.count} events, ${p.status}) — ${p.error}: ${p.message}`,
    }))),
    el('p', { class: 'muted small' },
      'To send parked batches again once the cloud is fixed, run on the hub: ',
      el('code', { text: UNPARK })),
  ];
}

function render(s) {
  const card = $('#cloud-bridge');
  const body = $('#bridge-body');
  if (!card || !body) return;
  card.hidden = !s.configured;
  if (!s.configured) return;
  const b = s.backlog || {};
  const parked = Array.isArray(s.parked) ? s.parked : [];
  // parked batches are listed below; the other alerts (stale, over budget, ...) in their own list
  const alerts = (Array.isArray(s.alerts) ? s.alerts : []).filter((a) => !/^cloud bridge: batch \d+ parked/.test(a));
  let [stateText, stateClass] = STATES[s.state] || [String(s.state), ''];
  if (s.state === 'ok' && parked.length) [stateText, stateClass] = [`Uploading; ${parked.length} batch(es) parked`, 'is-bad'];
  replaceChildren(body,
    el('div', { class: ['health-status', stateClass], testid: 'bridge-state' },
      el('span', { class: 'conn-dot' }), el('span', { text: stateText })),
    el('dl', { class: 'kv', testid: 'bridge-kv' },
      row('Backlog', backlogText(b), false, 'bridge-backlog'),
      row('Oldest unsent event', b.oldest_unsent_at ? `${age(b.oldest_unsent_age_s)} old` : 'none waiting',
        s.state === 'stale', 'bridge-oldest'),
      row('Last success', s.last_success_at ? `${when(s.last_success_at)} (${age(s.last_success_age_s)} ago)` : 'never',
        false, 'bridge-success'),
      row('Last error', s.last_error ? `${when(s.last_error_at)}: ${s.last_error}` : '–', Boolean(s.last_error), 'bridge-error'),
      row('Parked batches', String(parked.length), parked.length > 0, 'bridge-parked-count')),
    parkedList(parked),
    alerts.length ? el('ul', { class: 'bridge-alerts small is-bad', testid: 'bridge-alerts' },
      alerts.map((a) => el('li', { text: a }))) : null,
    el('p', { class: 'muted small', text: `Checked ${when(s.checked_at)}` }));
}

async function load() {
  try {
    render(await api('/api/v1/bridge', { staff: true, timeoutMs: 8000 }));
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      clearInterval(timer); // the admin page shows how to pair this screen
      return;
    }
    const body = $('#bridge-body');
    if (body) replaceChildren(body, el('p', { class: 'health-status is-bad', text: `Cannot reach the hub: ${e.message}` }));
  }
}

load();
timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
