/**
 * The pairing page (/static/pair.html): a device pairs with the one-time PIN a manager made
 * (POST /api/v1/pair/pin, which sets the HttpOnly session cookie), or with a staff token
 * (GET /pair). Either way it then opens `next`, a local path only.
 */
import { $, ApiError, I18n, LANGUAGE_NAMES, api, el, safeNext } from './common.js';
import { LANGS } from './i18n.js';
import { digitsOnly, pinPad, waitText } from './pinpad.js';

const PIN_DIGITS = 6;

const i18n = new I18n({ storageKey: 'tablehub.staff.lang' });
const t = (key, vars) => i18n.t(key, vars);
const params = new URLSearchParams(location.search);
let busy = false;

function showPinError(text) {
  const err = $('#pin-error');
  err.textContent = text;
  err.hidden = !text;
}

function setBusy(on) {
  busy = on;
  const btn = $('#pin-submit');
  btn.disabled = on;
  btn.setAttribute('aria-busy', on ? 'true' : 'false');
  btn.textContent = on ? t('pair_pairing') : t('pair_pin_submit');
}

async function pairWithPin(ev) {
  ev.preventDefault();
  if (busy) return;
  const input = $('#pair-pin');
  const pin = digitsOnly(input.value, PIN_DIGITS);
  input.value = pin;
  if (pin.length !== PIN_DIGITS) {
    showPinError(t('pair_pin_short'));
    input.focus();
    return;
  }
  showPinError('');
  setBusy(true);
  try {
    const next = safeNext($('#pair-next').value.trim());
    const res = await api('/api/v1/pair/pin', { method: 'POST', body: { pin, next }, staff: true });
    location.assign(safeNext(res?.next, next));
    return;
  } catch (e) {
    const error = e instanceof ApiError ? e : new ApiError(0, {});
    input.value = '';
    if (error.status === 429) showPinError(t('pair_pin_wait', { time: waitText(t, error.retryAfter || 30) }));
    else if (error.field === 'pin' && error.status === 422) showPinError(t('pair_pin_short'));
    else if (error.field === 'pin') showPinError(t('pair_pin_wrong'));
    else if (error.isNetwork) showPinError(t('pair_network'));
    else showPinError(error.message);
  }
  setBusy(false);
  input.focus();
}

function wireTokenForm() {
  const token = $('#pair-token');
  const next = $('#pair-next');
  const err = $('#pair-error');
  $('#pair-form').addEventListener('submit', (ev) => {
    token.value = token.value.trim();
    next.value = safeNext(next.value.trim());
    if (!token.value) {
      ev.preventDefault();
      err.textContent = t('pair_token_missing');
      err.hidden = false;
      token.focus();
    }
  });
  if (params.get('error')) {
    $('#token-box').open = true;
    err.textContent = t('pair_failed');
    err.hidden = false;
  }
}

function wireLanguage() {
  const sel = $('#pair-lang');
  for (const code of LANGS) sel.append(el('option', { value: code, text: LANGUAGE_NAMES[code], selected: code === i18n.lang }));
  sel.addEventListener('change', () => i18n.setLang(sel.value));
}

function init() {
  const next = $('#pair-next');
  next.value = safeNext(params.get('next'), next.value || '/admin');
  const input = $('#pair-pin');
  input.addEventListener('input', () => { input.value = digitsOnly(input.value, PIN_DIGITS); showPinError(''); });
  $('#pair-pad').append(pinPad(input, { t, testid: 'pair-key', onChange: () => showPinError('') }));
  $('#pin-form').addEventListener('submit', pairWithPin);
  wireTokenForm();
  wireLanguage();
  i18n.onChange(() => { if (!busy) setBusy(false); });
  if (params.get('error')) $('#pair-token').focus();
  else input.focus();
}

init();
