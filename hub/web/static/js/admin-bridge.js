/**
 * The admin page's "Cloud bridge" card: the bridge's backlog, the age of the oldest unsent
 * event, last success, last error, parked batches and alerts, from GET /api/v1/bridge (the
 * paired screen's session cookie; admin role). Hidden on a hub without a cloud bridge. Every
 * value is set as text, never as markup; the labels follow the page's language.
 */
import { $, el, replaceChildren } from './common.js';

const REFRESH_MS = 10000;
const UNPARK = 'tablehub bridge unpark --config /etc/tablehub/bridge.toml';
const STATES = {
  ok: ['bridge_state_ok', 'is-ok'],
  stale: ['bridge_state_stale', 'is-bad'],
  not_running_yet: ['bridge_state_not_running_yet', 'is-bad'],
  unreadable: ['bridge_state_unreadable', 'is-bad'],
  unknown: ['bridge_state_unknown', ''],
};

/** `ctx` = {staff, t, i18n} */
export function bridgeSection(ctx) {
  const { t, i18n } = ctx;
  const S = { data: null, error: null, timer: null };

  function age(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const s = Math.floor(Number(seconds));
    if (s < 60) return t('dur_s', { s });
    if (s < 3600) return t('dur_m', { m: Math.floor(s / 60), s: s % 60 });
    if (s < 86400) return t('dur_h', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return t('dur_d', { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  }

  function when(iso) {
    if (!iso) return t('bridge_never');
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(i18n.lang);
  }

  const row = (label, value, bad = false, testid = undefined) => [
    el('dt', { text: t(label) }), el('dd', { class: bad ? 'is-bad' : '', text: value, testid }),
  ];

  function backlogText(b) {
    if (!b) return '–';
    const counted = b.events === null || b.events === undefined
      ? t('bridge_not_counted')
      : t('bridge_counted', { n: b.events, time: when(b.counted_at) });
    return t('bridge_backlog_text', { counted, n: b.unacked_seqs ?? 0 });
  }

  function parkedList(parked) {
    if (!parked.length) return null;
    return [
      el('ul', { class: 'bridge-parked small', testid: 'bridge-parked' }, parked.map((p) => el('li', {
        text: t('bridge_parked_item', {
          id: p.id, first: p.first_seq, last: p.last_seq, n: p.count, status: p.status, error: p.error, message: p.message,
        }),
      }))),
      el('p', { class: 'muted small' }, t('bridge_unpark_help'), ' ', el('code', { text: UNPARK })),
    ];
  }

  function render() {
    const card = $('#cloud-bridge');
    const body = $('#bridge-body');
    if (!card || !body) return;
    if (S.error) {
      replaceChildren(body, el('p', { class: 'health-status is-bad', text: t('bridge_unreachable', { message: S.error }) }));
      return;
    }
    const s = S.data;
    if (!s) return;
    card.hidden = !s.configured;
    if (!s.configured) return;
    const b = s.backlog || {};
    const parked = Array.isArray(s.parked) ? s.parked : [];
    // parked batches are listed below; the other alerts (stale, over budget, ...) in their own list
    const alerts = (Array.isArray(s.alerts) ? s.alerts : []).filter((a) => !/^cloud bridge: batch \d+ parked/.test(a));
    const [stateKey, stateClassOf] = STATES[s.state] || [null, ''];
    let stateText = stateKey ? t(stateKey) : String(s.state);
    let stateClass = stateClassOf;
    if (s.state === 'ok' && parked.length) [stateText, stateClass] = [t('bridge_state_parked', { n: parked.length }), 'is-bad'];
    replaceChildren(body,
      el('div', { class: ['health-status', stateClass], testid: 'bridge-state' },
        el('span', { class: 'conn-dot' }), el('span', { text: stateText })),
      el('dl', { class: 'kv', testid: 'bridge-kv' },
        row('bridge_backlog', backlogText(b), false, 'bridge-backlog'),
        row('bridge_oldest', b.oldest_unsent_at ? t('bridge_oldest_age', { age: age(b.oldest_unsent_age_s) }) : t('bridge_none_waiting'),
          s.state === 'stale', 'bridge-oldest'),
        row('bridge_last_success', s.last_success_at
          ? t('bridge_success_ago', { time: when(s.last_success_at), age: age(s.last_success_age_s) })
          : t('bridge_never'), false, 'bridge-success'),
        row('bridge_last_error', s.last_error ? `${when(s.last_error_at)}: ${s.last_error}` : '–', Boolean(s.last_error), 'bridge-error'),
        row('bridge_parked', String(parked.length), parked.length > 0, 'bridge-parked-count')),
      parkedList(parked),
      alerts.length ? el('ul', { class: 'bridge-alerts small is-bad', testid: 'bridge-alerts' },
        alerts.map((a) => el('li', { text: a }))) : null,
      el('p', { class: 'muted small', text: t('bridge_checked', { time: when(s.checked_at) }) }));
  }

  async function load() {
    try {
      S.data = await ctx.staff('/api/v1/bridge', undefined, { timeoutMs: 8000 });
      S.error = null;
    } catch (e) {
      if (e?.status === 401 || e?.status === 403) {
        clearInterval(S.timer); // the admin page shows how to pair this screen
        return;
      }
      S.error = e?.message || String(e);
    }
    render();
  }

  function init() {
    S.timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
  }

  return { init, load, render };
}
