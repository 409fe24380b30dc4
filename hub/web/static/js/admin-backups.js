/**
 * The admin page's "Backups": the store's online backups (newest first, with their time and
 * size), how old the last one is, and "Back up now". Restoring needs the hub stopped, so it
 * stays a command for the technician; the page shows it.
 */
import { $, clockTime, el, icon, replaceChildren } from './common.js';

const DAY_S = 24 * 3600;
const STALE_S = 26 * 3600;

/** "1.2 MB" in the page's language. */
export function fileSize(bytes, lang) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let n = Number(bytes);
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u += 1; }
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: u ? 1 : 0 }).format(n)} ${units[u]}`;
}

/** `ctx` = {staff, t, i18n, toast, failed} */
export function backupsSection(ctx) {
  const { t, i18n } = ctx;
  const S = { data: null, busy: false, loadedAt: 0 };

  async function load() {
    try {
      S.data = await ctx.staff('/api/v1/backups');
      S.loadedAt = Date.now();
    } catch (e) {
      ctx.failed(e, 'backups');
      if (!S.data) replaceChildren($('#backups-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
      return;
    }
    render();
  }

  function age(seconds) {
    if (seconds < 90) return t('age_now');
    if (seconds < 5400) return t('age_min', { n: Math.round(seconds / 60) });
    if (seconds < 2 * DAY_S) return t('age_hours', { n: Math.round(seconds / 3600) });
    return t('age_days', { n: Math.round(seconds / DAY_S) });
  }

  async function backupNow() {
    if (S.busy) return;
    S.busy = true;
    render();
    try {
      const made = await ctx.staff('/api/v1/backups', {}, { timeoutMs: 120000 });
      ctx.toast(t('backup_done', { name: made.name }));
    } catch (e) {
      if (e?.status === 409) ctx.toast(t('backup_running'), 'error');
      else ctx.failed(e, 'backup');
    } finally {
      S.busy = false;
    }
    await load();
  }

  function render() {
    const d = S.data;
    const button = $('#backup-now');
    button.disabled = S.busy;
    replaceChildren(button, S.busy ? el('span', { class: 'spinner spinner-dark' }) : icon('history'), el('span', { text: S.busy ? t('backing_up') : t('backup_now') }));
    if (!d) return;
    const list = d.backups || [];
    const ageS = d.last_age_s === null ? null : d.last_age_s + Math.round((Date.now() - S.loadedAt) / 1000);
    // the hub makes one a day (at 04:00 by default): stale past the doctor's 26 hours
    const stale = ageS === null || ageS > STALE_S;
    const last = $('#backups-last');
    last.className = ['backups-last', stale ? 'is-bad' : 'is-ok'].join(' ');
    last.textContent = ageS === null ? t('backup_none') : t('backup_last', { age: age(ageS) });
    last.dataset.age = ageS === null ? '' : String(ageS);
    const next = d.next_ms ? t('backup_next', { when: `${new Date(d.next_ms).toLocaleDateString(i18n.lang, { weekday: 'short' })} ${clockTime(d.next_ms, i18n.lang)}` }) : '';
    $('#backups-summary').textContent = [t('backups_summary', { n: list.length, keep: d.keep }), next].filter(Boolean).join(' · ');
    const h = d.history;
    $('#history-note').textContent = !h ? '' : (h.cloud && h.keep_days > 0 ? t('history_kept', { days: h.keep_days }) : t('history_forever'));
    replaceChildren($('#backups-body'),
      list.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'jobs backups', testid: 'backups-table' },
        el('thead', null, el('tr', null, ['backup_name', 'backup_time', 'backup_size'].map((k) => el('th', { scope: 'col', text: t(k) })))),
        el('tbody', null, list.map((b) => el('tr', { testid: `backup-${b.name}` },
          el('td', { class: 'mono', text: b.name }),
          el('td', { class: 'num', text: `${new Date(b.created_ms).toLocaleDateString(i18n.lang)} ${clockTime(b.created_ms, i18n.lang)}` }),
          el('td', { class: 'num', text: fileSize(b.size_bytes, i18n.lang) }))))))
        : el('p', { class: 'muted', testid: 'backups-empty', text: t('no_backups') }),
      el('details', { class: 'restore-help' },
        el('summary', { text: t('restore_title') }),
        el('p', { text: t('restore_text') }),
        el('pre', { class: 'restore-cmd' }, el('code', {
          text: `sudo systemctl stop tablehub\nsudo tablehub restore --config /etc/tablehub/hub.toml ${list[0]?.path || `${d.folder}/tablehub-….db`}\nsudo systemctl start tablehub`,
        }))));
  }

  function init() {
    $('#backup-now').addEventListener('click', backupNow);
    render();
  }

  return { init, load, render };
}
