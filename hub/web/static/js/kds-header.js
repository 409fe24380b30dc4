/**
 * The kitchen display's header on any screen, from the Pi's 800×480 panel to a portrait
 * 800×1280: the station name always shows (it shrinks with an ellipsis but never to nothing),
 * narrow screens show the action buttons as icons (kds.css), and whatever still does not fit
 * moves into a "⋯ N more" menu whose button says how many controls it holds, so no control
 * is ever cut off or out of reach.
 */
import { $, el, icon, replaceChildren } from './common.js';

const OVERFLOW = 'is-overflow';

/** The text of a header button in the menu: its tooltip ("Sold out (86)"), else its label. */
const labelOf = (btn) => (btn.title || btn.querySelector('.kbtn-label')?.textContent || btn.getAttribute('aria-label') || '').trim();

export class HeaderFit {
  /** `t` translates keys: `more_controls` ("{n} more controls"). */
  constructor(t) {
    this.t = t;
    this.header = $('.kds-header');
    this.actions = $('#kds-actions');
    this.more = $('#header-more');
    this.menu = $('#header-menu');
    this.pending = false;
    this.fit = this.fit.bind(this);
  }

  wire() {
    if (!this.header || !this.actions || !this.more || !this.menu) return;
    this.more.addEventListener('click', (ev) => { ev.stopPropagation(); this.toggleMenu(); });
    document.addEventListener('click', (ev) => {
      if (!this.menu.hidden && !this.menu.contains(ev.target)) this.closeMenu();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !this.menu.hidden) { this.closeMenu(); this.more.focus(); }
    });
    // any change of size (a language, a printer alert, the sound button going away) refits
    const observer = new ResizeObserver(() => this.schedule());
    observer.observe(this.header);
    for (const child of this.header.children) observer.observe(child);
    this.fit();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.fit(); });
  }

  /** Show every button, then hide the last ones until the header no longer overflows. */
  fit() {
    const buttons = [...this.actions.querySelectorAll(':scope > button')];
    for (const b of buttons) b.classList.remove(OVERFLOW);
    this.more.hidden = true;
    const overflowing = () => this.header.scrollWidth > this.header.clientWidth + 1;
    if (overflowing()) {
      this.more.hidden = false;
      const visible = buttons.filter((b) => !b.hidden);
      for (let i = visible.length - 1; i >= 0 && overflowing(); i -= 1) visible[i].classList.add(OVERFLOW);
    }
    const hidden = this.hiddenButtons();
    this.more.hidden = hidden.length === 0;
    const label = this.t('more_controls', { n: hidden.length });
    this.more.setAttribute('aria-label', label);
    this.more.title = label;
    this.more.dataset.count = String(hidden.length);
    replaceChildren(this.more, icon('more'), el('span', { class: 'header-more-n', text: String(hidden.length) }));
    if (!hidden.length) this.closeMenu();
    else if (!this.menu.hidden) this.renderMenu();
  }

  hiddenButtons() {
    return [...this.actions.querySelectorAll(`:scope > button.${OVERFLOW}`)].filter((b) => !b.hidden);
  }

  toggleMenu() {
    if (this.menu.hidden) this.openMenu();
    else this.closeMenu();
  }

  openMenu() {
    this.renderMenu();
    this.menu.hidden = false;
    this.more.setAttribute('aria-expanded', 'true');
    this.menu.querySelector('button')?.focus();
  }

  closeMenu() {
    this.menu.hidden = true;
    this.more.setAttribute('aria-expanded', 'false');
  }

  renderMenu() {
    const items = this.hiddenButtons().map((btn) => {
      const glyph = btn.querySelector('svg')?.cloneNode(true);
      return el('button', {
        type: 'button',
        class: 'header-menu-item',
        role: 'menuitem',
        testid: `more-${btn.dataset.testid || btn.id}`,
        onclick: () => { this.closeMenu(); btn.click(); },
      }, glyph || null, el('span', { text: labelOf(btn) }));
    });
    replaceChildren(this.menu, items);
  }
}
