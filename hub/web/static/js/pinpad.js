/**
 * The numeric keypad under a PIN field, shared by the diner's table-PIN sheet and the pairing
 * page (a kitchen touchscreen has no keyboard), and the "wait 2 min" text of a lockout.
 */
import { el, icon } from './common.js';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'clear', '0', 'del'];

/** Only the digits of `value`, at most `max` of them. */
export const digitsOnly = (value, max) => String(value || '').replace(/\D+/g, '').slice(0, max);

/**
 * A 3×4 keypad that types into `input` (digits, clear, delete) and calls `onChange(value)`.
 * Keys carry `data-testid="<testid>-<key>"`.
 */
export function pinPad(input, { t, onChange, testid = 'pin-key' }) {
  const press = (key) => {
    if (input.disabled) return;
    const max = input.maxLength > 0 ? input.maxLength : 8;
    if (key === 'del') input.value = input.value.slice(0, -1);
    else if (key === 'clear') input.value = '';
    else if (input.value.length < max) input.value += key;
    onChange?.(input.value);
  };
  return el('div', { class: 'pin-pad', role: 'group', 'aria-label': t('pin_label') }, KEYS.map((key) => {
    const digit = /^\d$/.test(key);
    return el('button', {
      type: 'button',
      class: ['pin-key', !digit && 'pin-key-fn'],
      testid: `${testid}-${key}`,
      'aria-label': digit ? key : t(key === 'del' ? 'pin_delete' : 'pin_clear'),
      onclick: () => press(key),
    }, digit ? key : (key === 'del' ? icon('undo') : icon('close')));
  }));
}

/** "45 s" or "2 min", in the page's language. */
export function waitText(t, seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  return s < 90 ? t('time_seconds', { n: s }) : t('time_minutes', { n: Math.ceil(s / 60) });
}
