/**
 * The admin page's "Menu": import a whole menu file (JSON, checked by the hub like the menu
 * file; a refusal names the field), export the current one, and edit an item's name and price
 * in place (each save is a PUT of the document guarded by `If-Match: <version>`, so two
 * people editing at once never silently undo each other). Sold out / available uses the same
 * one-row switch as the kitchen.
 */
import { $, api, el, fold, money, replaceChildren } from './common.js';

const MAX_BYTES = 64 * 1024;

function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** "12.5" → 1250 (for a 2-digit currency); null when it is not a price. */
export function parsePrice(value, digits) {
  const s = String(value || '').trim().replace(',', '.');
  if (!/^\d{1,6}(\.\d*)?$/.test(s)) return null;
  const [whole, frac = ''] = s.split('.');
  if (frac.length > digits) return null;
  return Number(whole) * 10 ** digits + Number((frac + '0'.repeat(digits)).slice(0, digits) || 0);
}

/** `ctx` = {staff, t, i18n, toast, failed, onAuthError, toggleAvailability, isSoldOut, reloadItems} */
export function menuSection(ctx) {
  const { t, i18n } = ctx;
  const S = { version: null, doc: null, search: '', edits: new Map(), saving: new Set(), error: null };

  async function load() {
    try {
      const res = await ctx.staff('/api/v1/admin/menu');
      S.version = res.version;
      S.doc = res.menu;
    } catch (e) {
      ctx.failed(e, 'menu');
      if (!S.doc) replaceChildren($('#menu-body'), el('p', { class: 'muted', text: t('load_failed_text') }));
      return;
    }
    render();
  }

  /** PUT the document; resolves true when the hub took it. Shows the refusal otherwise. */
  async function put(doc, what) {
    try {
      const res = await api('/api/v1/admin/menu', {
        method: 'PUT', body: doc, staff: true, headers: { 'If-Match': `"${S.version}"` }, timeoutMs: 30000,
      });
      S.version = res.version;
      S.doc = res.menu;
      S.error = null;
      ctx.toast(t('menu_saved', { what, version: res.version }));
      return true;
    } catch (e) {
      if (ctx.onAuthError(e)) return false;
      if (e?.status === 409 && e.field === 'If-Match') {
        S.error = { field: null, message: t('menu_changed') };
        await load();
      } else if (e?.status === 422 || e?.status === 400 || e?.status === 413) {
        S.error = { field: e.field, message: e.message };
      } else {
        ctx.failed(e, 'menu');
      }
      return false;
    } finally {
      renderError();
    }
  }

  function renderError() {
    const box = $('#menu-error');
    box.hidden = !S.error;
    replaceChildren(box, S.error ? [
      el('strong', { text: t('menu_refused') }),
      S.error.field ? el('code', { class: 'menu-error-field', testid: 'menu-error-field', text: S.error.field }) : null,
      el('span', { testid: 'menu-error-message', text: S.error.message }),
    ] : []);
  }

  async function importFile(file) {
    if (!file) return;
    if (file.size > MAX_BYTES) {
      S.error = { field: null, message: t('menu_too_big', { kb: Math.round(MAX_BYTES / 1024) }) };
      renderError();
      return;
    }
    let doc;
    try {
      doc = JSON.parse(await file.text());
    } catch (err) {
      S.error = { field: null, message: t('menu_not_json', { message: String(err?.message || err) }) };
      renderError();
      return;
    }
    if (await put(doc, file.name)) { S.edits.clear(); render(); ctx.reloadItems(); }
  }

  const digits = () => currencyDigits(S.doc?.store?.currency || 'USD');
  const priceText = (cents) => (cents / 10 ** digits()).toFixed(digits());
  const nameLang = () => (S.doc?.store?.languages || ['en']).includes(i18n.lang) ? i18n.lang : 'en';

  async function saveItem(item) {
    const edit = S.edits.get(item.id) || {};
    const cents = edit.price === undefined ? item.price_cents : parsePrice(edit.price, digits());
    if (cents === null) {
      S.error = { field: `items[${S.doc.items.indexOf(item)}].price_cents`, message: t('price_invalid') };
      renderError();
      return;
    }
    const doc = structuredClone(S.doc);
    const target = doc.items.find((x) => x.id === item.id);
    target.price_cents = cents;
    if (edit.name !== undefined) target.name = { ...(typeof target.name === 'object' ? target.name : { en: target.name }), [nameLang()]: edit.name.trim() };
    S.saving.add(item.id);
    render();
    const ok = await put(doc, i18n.name(target.name) || item.id);
    S.saving.delete(item.id);
    if (ok) { S.edits.delete(item.id); ctx.reloadItems(); }
    render();
  }

  function edit(item, key, value) {
    const e = { ...(S.edits.get(item.id) || {}), [key]: value };
    S.edits.set(item.id, e);
    const row = document.querySelector(`[data-testid="menu-row-${CSS.escape(item.id)}"]`);
    const dirty = (e.name !== undefined && e.name !== (item.name?.[nameLang()] ?? '')) || (e.price !== undefined && parsePrice(e.price, digits()) !== item.price_cents);
    if (row) {
      row.classList.toggle('is-dirty', dirty);
      row.querySelector('.menu-save').disabled = !dirty;
    }
  }

  function exportHref() {
    return `data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(S.doc, null, 2))}`;
  }

  function render() {
    const body = $('#menu-body');
    if (!S.doc || !body) return;
    const cur = S.doc.store?.currency || 'USD';
    $('#menu-summary').textContent = t('menu_summary', { n: S.doc.items.length, version: S.version });
    const exp = $('#menu-export');
    exp.href = exportHref();
    exp.setAttribute('download', `menu-v${S.version}.json`);
    const q = fold(S.search).trim();
    const items = S.doc.items.filter((it) => !q || fold(`${i18n.name(it.name)} ${it.name?.en || ''} ${it.id}`).includes(q));
    const lang = nameLang();
    replaceChildren(body, el('div', { class: 'table-wrap' }, el('table', { class: 'jobs menu-edit', testid: 'menu-table' },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: t('menu_item') }),
        el('th', { scope: 'col', text: t('menu_name', { lang }) }),
        el('th', { scope: 'col', text: t('menu_price', { currency: cur }) }),
        el('th', { scope: 'col', text: t('menu_state') }),
        el('th', null, el('span', { class: 'sr-only', text: t('actions') })))),
      el('tbody', null, items.map((it) => {
        const e = S.edits.get(it.id) || {};
        const soldOut = ctx.isSoldOut(it.id);
        const saving = S.saving.has(it.id);
        const nameId = `menu-name-${it.id}`;
        const priceId = `menu-price-${it.id}`;
        return el('tr', { testid: `menu-row-${it.id}`, class: e.name !== undefined || e.price !== undefined ? 'is-dirty' : null },
          el('td', { class: 'mono', text: it.id }),
          el('td', null,
            el('label', { class: 'sr-only', for: nameId, text: t('menu_name_of', { item: it.id }) }),
            el('input', { class: 'input menu-name', id: nameId, testid: `menu-name-${it.id}`, maxlength: '200', value: e.name ?? (it.name?.[lang] ?? ''), oninput: (ev) => edit(it, 'name', ev.target.value) })),
          el('td', null,
            el('label', { class: 'sr-only', for: priceId, text: t('menu_price_of', { item: it.id }) }),
            el('input', { class: 'input menu-price', id: priceId, testid: `menu-price-${it.id}`, inputmode: 'decimal', value: e.price ?? priceText(it.price_cents), title: money(it.price_cents, cur, i18n.lang), oninput: (ev) => edit(it, 'price', ev.target.value) })),
          el('td', null, el('button', {
            type: 'button', class: ['avail-toggle', soldOut ? 'is-sold-out' : 'is-available'], testid: `menu-avail-${it.id}`,
            'aria-pressed': soldOut ? 'true' : 'false', dataset: { available: soldOut ? 'false' : 'true' },
            onclick: () => ctx.toggleAvailability(it, soldOut),
          }, el('span', { class: 'avail-dot', 'aria-hidden': 'true' }), el('span', { text: soldOut ? t('sold_out') : t('available') }))),
          el('td', null, el('button', {
            type: 'button', class: 'btn btn-primary btn-sm menu-save', testid: `menu-save-${it.id}`, disabled: saving || !(e.name !== undefined || e.price !== undefined),
            onclick: () => saveItem(it),
          }, el('span', { text: saving ? t('saving') : t('save_typed') }))));
      })))));
  }

  function init() {
    $('#menu-file').addEventListener('change', async (ev) => {
      await importFile(ev.target.files?.[0]);
      ev.target.value = '';
    });
    $('#menu-search').addEventListener('input', (ev) => { S.search = ev.target.value; render(); });
  }

  return { init, load, render };
}
