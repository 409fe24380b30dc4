/**
 * The menu item picker shared by the diner's item sheet and the floor view's staff orders: the
 * item's photo, price, description and badges, its option groups (with their min/max rules),
 * the quantity stepper and the note. It holds a draft ({qty, sel, note, tried}) and knows what
 * the chosen line costs; the page around it owns the sheet, the buttons and what "add" means.
 *
 * All text from the menu is set with textContent (see common.js `el`).
 */
import { el, icon, replaceChildren } from './common.js';

export const MAX_QTY = 99;
export const MAX_NOTE = 140;

export const maxOf = (g) => (g.max > 0 ? g.max : g.options.length);
/** Sold by weight: the menu price buys `price_per_grams` grams; the line is priced when weighed. */
export const isWeighed = (item) => Number(item?.price_per_grams) > 0;

/** One unit of `item` with these options, in cents. */
export function unitCents(item, modifierIds) {
  const ids = new Set(modifierIds);
  let cents = item.price_cents;
  for (const g of item.modifier_groups) for (const o of g.options) if (ids.has(o.id)) cents += o.price_delta_cents || 0;
  return cents;
}

/** The chosen options' names, in menu order. */
export function optionNames(item, modifierIds, i18n) {
  const ids = new Set(modifierIds);
  return item.modifier_groups.flatMap((g) => g.options.filter((o) => ids.has(o.id)).map((o) => i18n.name(o.name)));
}

/** A −/＋ stepper; `onChange(q)` gets the new quantity. */
export function stepper(qty, { t, min = 1, max = MAX_QTY, onChange, disabled = false, testid }) {
  return el('div', { class: 'stepper', testid },
    el('button', {
      type: 'button', class: 'stepper-btn', 'aria-label': t('decrease'), disabled: disabled || qty <= min,
      onclick: () => onChange(Math.max(min, qty - 1)),
    }, icon('minus')),
    el('output', { class: 'stepper-value', 'aria-live': 'polite', text: String(qty) }),
    el('button', {
      type: 'button', class: 'stepper-btn', 'aria-label': t('increase'), disabled: disabled || qty >= max,
      onclick: () => onChange(Math.min(max, qty + 1)),
    }, icon('plus')));
}

/** The item's photo (or the placeholder, also when the photo fails to load). */
export function photo(item, cls = 'item-photo') {
  const img = el('img', {
    class: [cls, !item.image && 'is-placeholder'],
    src: item.image || '/static/img/placeholder.svg',
    alt: '',
    loading: 'lazy',
    decoding: 'async',
  });
  img.addEventListener('error', () => {
    if (!img.src.endsWith('/static/img/placeholder.svg')) {
      img.src = '/static/img/placeholder.svg';
      img.classList.add('is-placeholder');
    }
  }, { once: true });
  return img;
}

/** Dietary and allergen badges; `label(kind, key)` names them, `long` adds "Contains". */
export function badges(item, { t, label }, long = false) {
  const diet = (item.dietary || []).map((d) => el('span', { class: 'badge badge-diet', text: label('dietary', d) }));
  const allergens = (item.allergens || []).map((a) => el('span', { class: 'badge badge-allergen', text: label('allergens', a) }));
  if (!diet.length && !allergens.length) return null;
  if (!long) return el('div', { class: 'badges' }, diet, allergens);
  return el('div', { class: 'badges badges-long' },
    diet,
    allergens.length ? el('span', { class: 'badges-label', text: t('contains') }) : null,
    allergens);
}

function ruleText(g, t) {
  const max = maxOf(g);
  if (g.min > 0) {
    if (g.min === max) return t('rule_required_n', { n: g.min });
    return t('rule_required_range', { min: g.min, max });
  }
  if (max === 1) return t('rule_optional');
  if (max >= g.options.length) return t('rule_optional_any');
  return t('rule_optional_up_to', { n: max });
}

/**
 * The picker for one item. `ctx`: {i18n, fmt, fmtDelta, label, priceText}. `draft` (optional)
 * starts it with a quantity, options and note (changing a line that was ordered). `onChange()`
 * runs after every edit (the page updates its buttons). Call `body()` once to get the nodes,
 * `qtyNode()` for the stepper's place (anywhere, e.g. the sheet's footer), then `update()`.
 */
export class ItemPicker {
  constructor(item, ctx, { draft = null, onChange = null, idPrefix = 'item' } = {}) {
    this.item = item;
    this.ctx = ctx;
    this.onChange = onChange;
    this.idPrefix = idPrefix;
    const chosen = new Set(draft?.modifiers || []);
    this.draft = {
      qty: Math.max(1, Math.min(MAX_QTY, Number(draft?.qty) || 1)),
      sel: new Map(item.modifier_groups.map((g) => [g.id, new Set(g.options.filter((o) => chosen.has(o.id)).map((o) => o.id))])),
      note: String(draft?.note || '').slice(0, MAX_NOTE),
      tried: false,
    };
    this.root = null;
    this.qtyBox = el('div', { id: `${idPrefix}-qty` });
  }

  get t() { return (key, vars) => this.ctx.i18n.t(key, vars); }

  /** The chosen option ids, in menu order. */
  modifiers() {
    return this.item.modifier_groups.flatMap((g) => g.options.filter((o) => this.draft.sel.get(g.id).has(o.id)).map((o) => o.id));
  }

  note() { return this.draft.note.trim().slice(0, MAX_NOTE); }

  total() { return unitCents(this.item, this.modifiers()) * this.draft.qty; }

  /** The first group still missing a choice (and marks the picker as tried), or null. */
  validate() {
    this.draft.tried = true;
    const missing = this.item.modifier_groups.find((g) => this.draft.sel.get(g.id).size < g.min) || null;
    this.update();
    if (missing) this.groupNode(missing.id)?.scrollIntoView({ block: 'center', behavior: 'smooth' });
    return missing;
  }

  qtyNode() { return this.qtyBox; }

  groupNode(id) {
    return this.root ? [...this.root.querySelectorAll('.mod-group')].find((n) => n.dataset.group === id) : null;
  }

  /** The picker's nodes: photo, details, option groups, note; `extra` goes before the note. */
  body({ hero = true, extra = null } = {}) {
    const { item } = this;
    const { i18n } = this.ctx;
    const t = this.t;
    const desc = i18n.name(item.description);
    const noteId = `${this.idPrefix}-note`;
    const note = el('textarea', {
      class: 'note-input', id: noteId, rows: '2', maxlength: String(MAX_NOTE), value: this.draft.note,
      placeholder: t('note_placeholder'), testid: `${this.idPrefix}-note`,
      oninput: (ev) => { this.draft.note = ev.target.value.slice(0, MAX_NOTE); this.update(); },
    });
    this.root = el('div', { class: 'item-picker' },
      hero && item.image ? el('div', { class: 'sheet-hero' }, photo(item, 'sheet-hero-img')) : null,
      el('div', { class: 'item-detail' },
        el('p', { class: 'item-detail-price', text: this.ctx.priceText(item) }),
        isWeighed(item) ? el('p', { class: 'notice notice-info weighed-note' }, icon('scale'), el('span', { text: t('weighed_note') })) : null,
        desc && el('p', { class: 'item-detail-desc', text: desc }),
        badges(item, { t, label: this.ctx.label }, true),
        el('p', { class: 'notice notice-danger item-unavailable', text: t('item_unavailable'), hidden: item.available })),
      item.modifier_groups.map((g) => this.group(g)),
      extra,
      el('div', { class: 'note-block' },
        el('label', { class: 'field-label', for: noteId, text: t('note_label') }),
        note,
        el('div', { class: 'note-counter' })));
    return this.root;
  }

  group(g) {
    const single = maxOf(g) === 1;
    const set = this.draft.sel.get(g.id);
    const nameId = `${this.idPrefix}-grp-${g.id}`;
    return el('fieldset', { class: 'mod-group', dataset: { group: g.id }, 'aria-labelledby': nameId },
      el('div', { class: 'mod-head' },
        el('span', { class: 'mod-name', id: nameId, text: this.ctx.i18n.name(g.name) }),
        el('span', { class: ['mod-rule', g.min > 0 && 'is-required'], text: ruleText(g, this.t) })),
      el('p', { class: 'mod-error', role: 'alert', hidden: true }),
      g.options.map((o) => {
        const input = el('input', {
          type: single ? 'radio' : 'checkbox',
          name: `${this.idPrefix}-g-${this.item.id}-${g.id}`,
          value: o.id,
          testid: `option-${o.id}`,
          checked: set.has(o.id),
        });
        input.addEventListener('click', () => this.optionClicked(g, o, input));
        return el('label', { class: 'mod-option', dataset: { option: o.id } },
          input,
          el('span', { class: 'mod-option-name', text: this.ctx.i18n.name(o.name) }),
          o.price_delta_cents ? el('span', { class: 'mod-option-price', text: this.ctx.fmtDelta(o.price_delta_cents) }) : null);
      }));
  }

  optionClicked(g, o, input) {
    const set = this.draft.sel.get(g.id);
    if (maxOf(g) === 1) {
      if (set.has(o.id) && g.min === 0) {
        set.clear();
        input.checked = false;
      } else {
        set.clear();
        set.add(o.id);
        input.checked = true;
      }
    } else if (input.checked) {
      if (set.size >= maxOf(g)) { input.checked = false; return; }
      set.add(o.id);
    } else {
      set.delete(o.id);
    }
    this.update();
  }

  /** Bring the nodes in line with the draft (disabled options, errors, stepper, counter). */
  update() {
    const { item, draft } = this;
    if (!this.root) return;
    const notice = this.root.querySelector('.item-unavailable');
    if (notice) notice.hidden = item.available;
    for (const g of item.modifier_groups) {
      const set = draft.sel.get(g.id);
      const box = this.groupNode(g.id);
      if (!box) continue;
      const full = maxOf(g) > 1 && set.size >= maxOf(g);
      for (const lab of box.querySelectorAll('.mod-option')) {
        const input = lab.querySelector('input');
        const off = full && !input.checked;
        input.disabled = off;
        lab.classList.toggle('is-disabled', off);
        lab.classList.toggle('is-checked', input.checked);
      }
      const missing = draft.tried && set.size < g.min;
      box.classList.toggle('is-invalid', missing);
      const err = box.querySelector('.mod-error');
      err.hidden = !missing;
      // "choose 1" for a group of exactly one; "at least 1" where up to 2 may be chosen
      const rule = g.min === maxOf(g) ? 'choose_exactly' : 'choose_at_least';
      err.textContent = missing ? this.t(rule, { n: g.min }) : '';
    }
    replaceChildren(this.qtyBox, stepper(draft.qty, {
      t: this.t,
      testid: `${this.idPrefix}-qty`,
      onChange: (q) => { draft.qty = q; this.update(); },
    }));
    const counter = this.root.querySelector('.note-counter');
    if (counter) counter.textContent = `${[...draft.note].length}/${MAX_NOTE}`;
    this.onChange?.(this);
  }
}
