/**
 * The admin page's "Staff tokens": the list (role, label, created, active or revoked), issuing
 * one (shown once, with its pairing link and QR code for the screen that will use it) and
 * revoking one after a confirmation. Uses /api/v1/admin/tokens and /api/v1/admin/pairing.
 */
import { $, clockTime, el, icon, replaceChildren } from './common.js';

const ROLES = ['kitchen', 'floor', 'admin'];

/** `ctx` = {staff, t, i18n, toast, failed, confirmDialog, stations: () => [...]} */
export function tokensSection(ctx) {
  const { t, i18n } = ctx;
  const S = { tokens: null, issued: null, pin: null, pinTimer: null, busy: new Set() };

  async function load() {
    try {
      S.tokens = (await ctx.staff('/api/v1/admin/tokens'))?.tokens || [];
    } catch (e) {
      ctx.failed(e, 'tokens');
      if (!S.tokens) replaceChildren($('#tokens-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
      return;
    }
    render();
  }

  /** Where a newly paired screen of this role goes. */
  function destinations(role) {
    if (role === 'admin') return [['/admin', t('admin')]];
    if (role === 'floor') return [['/floor', t('floor')]];
    return [...ctx.stations().map((s) => [`/kds/${s.id}`, i18n.name(s.name) || s.id]), ['/kds/expo', t('expo')]];
  }

  function dateTime(iso) {
    const d = new Date(String(iso || ''));
    return Number.isNaN(d.getTime()) ? '' : `${d.toLocaleDateString(i18n.lang)} ${clockTime(iso, i18n.lang)}`;
  }

  function renderIssued() {
    const box = $('#token-issued');
    const it = S.issued;
    if (!it) { box.hidden = true; replaceChildren(box); return; }
    box.hidden = false;
    const dests = destinations(it.role);
    replaceChildren(box,
      el('div', { class: 'issued-head' },
        el('strong', { text: t('token_issued', { label: it.label || t(`role_${it.role}`) }) }),
        el('button', { type: 'button', class: 'btn btn-text btn-sm', testid: 'token-issued-close', onclick: () => { S.issued = null; renderIssued(); } }, icon('close'), el('span', { class: 'sr-only', text: t('close') }))),
      el('p', { class: 'issued-warn', role: 'alert', text: t('token_once') }),
      el('code', { class: 'issued-token', testid: 'token-value', text: it.token }),
      el('div', { class: 'issued-pair' },
        it.qr ? el('img', { class: 'issued-qr', src: it.qr, alt: t('pair_qr_alt'), width: '180', height: '180', testid: 'pair-qr' }) : null,
        el('div', { class: 'issued-pair-text' },
          el('label', { class: 'field-label', for: 'pair-next', text: t('pair_opens') }),
          el('select', { class: 'select', id: 'pair-next', testid: 'pair-next', onchange: (ev) => pairing(ev.target.value) },
            dests.map(([path, name]) => el('option', { value: path, text: `${name} (${path})`, selected: path === it.next }))),
          el('p', { class: 'muted small', text: t('pair_hint') }),
          it.url ? el('a', { class: 'issued-link', href: it.url, testid: 'pair-link', rel: 'noopener noreferrer', text: it.url }) : null)));
  }

  async function pairing(next) {
    const it = S.issued;
    if (!it) return;
    try {
      const res = await ctx.staff('/api/v1/admin/pairing', { token: it.token, next });
      Object.assign(it, { next: res.next, url: res.url, qr: res.qr });
    } catch (e) {
      ctx.failed(e, 'pairing');
    }
    renderIssued();
  }

  async function issue(ev) {
    ev.preventDefault();
    const role = $('#token-role').value;
    const label = $('#token-label').value.trim();
    const err = $('#token-error');
    err.hidden = true;
    try {
      const res = await ctx.staff('/api/v1/admin/tokens', { role, label });
      S.issued = { token: res.token, role: res.role, label: res.label, next: destinations(res.role)[0][0] };
      $('#token-label').value = '';
      await Promise.all([pairing(S.issued.next), load()]);
    } catch (e) {
      if (e?.status === 422) {
        err.textContent = t('field_error', { field: e.field || '?', message: e.message });
        err.hidden = false;
      } else ctx.failed(e, 'tokens');
    }
  }

  async function revoke(tok) {
    const ok = await ctx.confirmDialog({ title: t('revoke_title', { label: tok.label }), text: t('revoke_warning'), ok: t('revoke') });
    if (!ok) return;
    S.busy.add(tok.id);
    render();
    try {
      await ctx.staff(`/api/v1/admin/tokens/${encodeURIComponent(tok.id)}/revoke`, {});
      ctx.toast(t('revoked', { label: tok.label }));
      if (S.issued && S.issued.label === tok.label) { S.issued = null; renderIssued(); }
    } catch (e) {
      if (e?.code === 'conflict') ctx.toast(t('revoke_self'), 'error');
      else ctx.failed(e, 'revoke');
    } finally {
      S.busy.delete(tok.id);
    }
    await load();
  }

  function render() {
    if (!S.tokens) return;
    const active = S.tokens.filter((k) => !k.revoked_at).length;
    $('#tokens-summary').textContent = t('tokens_summary', { n: active, total: S.tokens.length });
    const rows = [...S.tokens].sort((a, b) => Number(Boolean(a.revoked_at)) - Number(Boolean(b.revoked_at)) || String(b.created_at).localeCompare(String(a.created_at)));
    replaceChildren($('#tokens-body'), rows.length ? el('div', { class: 'table-wrap' }, el('table', { class: 'jobs tokens', testid: 'tokens-table' },
      el('thead', null, el('tr', null, ['token_label', 'token_role', 'token_created', 'token_state', 'token_id'].map((k) => el('th', { scope: 'col', text: t(k) })), el('th', null, el('span', { class: 'sr-only', text: t('actions') })))),
      el('tbody', null, rows.map((k) => el('tr', { testid: `token-${k.id}`, dataset: { state: k.revoked_at ? 'revoked' : 'active' } },
        el('td', null, el('strong', { text: k.label }), k.current ? el('span', { class: 'pill pill-ok token-you', text: t('token_you') }) : null),
        el('td', { text: t(`role_${k.role}`) }),
        el('td', { class: 'num', text: dateTime(k.created_at) }),
        el('td', null, k.revoked_at
          ? el('span', { class: 'pill pill-bad', title: dateTime(k.revoked_at), text: t('token_revoked') })
          : el('span', { class: 'pill pill-ok', text: t('token_active') })),
        el('td', { class: 'mono', text: k.id }),
        el('td', { class: 'actions' }, !k.revoked_at && !k.current ? el('button', {
          type: 'button', class: 'btn btn-text btn-sm btn-danger-text', testid: `revoke-${k.id}`, disabled: S.busy.has(k.id),
          onclick: () => revoke(k),
        }, icon('ban'), el('span', { text: t('revoke') })) : null)))))) : el('p', { class: 'muted', text: t('no_tokens') }));
  }

  /** A one-time pairing PIN: typed on the device's /pair page, no token to carry over. */
  async function issuePin() {
    const role = $('#token-role').value;
    const label = $('#token-label').value.trim();
    const err = $('#token-error');
    err.hidden = true;
    try {
      const res = await ctx.staff('/api/v1/admin/pairing-pins', { role, label });
      S.pin = { ...res, until: Date.now() + res.expires_in_s * 1000 };
      $('#token-label').value = '';
      renderPin();
      load();
    } catch (e) {
      if (e?.status === 422) {
        err.textContent = t('field_error', { field: e.field || '?', message: e.message });
        err.hidden = false;
      } else ctx.failed(e, 'pairing');
    }
  }

  function renderPin() {
    const box = $('#pin-issued');
    const it = S.pin;
    clearTimeout(S.pinTimer);
    if (!it) { box.hidden = true; replaceChildren(box); return; }
    const left = Math.max(0, Math.round((it.until - Date.now()) / 1000));
    const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    box.hidden = false;
    replaceChildren(box,
      el('div', { class: 'issued-head' },
        el('strong', { text: t('pin_issued', { label: it.label || t(`role_${it.role}`) }) }),
        el('button', { type: 'button', class: 'btn btn-text btn-sm', testid: 'pin-issued-close', onclick: () => { S.pin = null; renderPin(); } }, icon('close'), el('span', { class: 'sr-only', text: t('close') }))),
      left > 0
        ? el('code', { class: 'issued-token issued-pin', testid: 'pin-value', text: it.pin })
        : el('p', { class: 'issued-warn', role: 'alert', testid: 'pin-expired', text: t('pin_expired') }),
      left > 0 ? el('p', { class: 'muted small', testid: 'pin-valid', text: t('pin_valid', { time }) }) : null,
      el('p', { class: 'muted small', text: t('pin_how', { url: `${window.location.origin}/pair` }) }));
    if (left > 0) S.pinTimer = setTimeout(renderPin, 1000);
  }

  function init() {
    const role = $('#token-role');
    for (const r of ROLES) role.append(el('option', { value: r, text: t(`role_${r}`) }));
    $('#token-form').addEventListener('submit', issue);
    $('#pin-issue').addEventListener('click', issuePin);
  }

  function rerender() {
    const role = $('#token-role');
    for (const opt of role.options) opt.textContent = t(`role_${opt.value}`);
    render();
    renderIssued();
    renderPin();
  }

  return { init, load, render: rerender };
}
