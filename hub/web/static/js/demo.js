/**
 * The demo's devices page (/demo/devices): the simulated button board's call buttons with
 * their LEDs, and the bump buttons per station. A press is POSTed to the hub, which presses
 * the mock pin; the LEDs are read back from the board every second. Text via textContent only.
 */
import { $, ApiError, api, el, replaceChildren, sleep } from './common.js';

const CALL_LABEL = { waiter: 'Waiter', bill: 'Bill', water: 'Water' };
const ACTION_LABEL = { bump: 'Bump', recall: 'Recall' };

function showError(message) {
  const box = $('#error');
  box.textContent = message || '';
  box.hidden = !message;
}

async function press(pin, button) {
  button.disabled = true;
  try {
    await api(`/api/v1/demo/buttons/${encodeURIComponent(pin)}/press`, { method: 'POST', staff: true });
    showError('');
  } catch (err) {
    showError(err instanceof ApiError ? err.message : String(err));
  } finally {
    button.disabled = false;
  }
}

function pressButton(b, label) {
  const button = el('button', {
    type: 'button', class: 'btn demo-press', text: label,
    testid: `press-${b.pin}`, dataset: { pin: b.pin },
  });
  button.addEventListener('click', () => press(b.pin, button));
  return button;
}

function render(buttons) {
  const tables = new Map();
  const stations = new Map();
  for (const b of buttons) {
    if (b.kind === 'call' || b.kind === 'led') {
      if (!tables.has(b.table)) tables.set(b.table, { calls: [], led: null });
      if (b.kind === 'call') tables.get(b.table).calls.push(b);
      else tables.get(b.table).led = b;
    } else if (b.kind === 'bump') {
      if (!stations.has(b.station)) stations.set(b.station, []);
      stations.get(b.station).push(b);
    }
  }
  replaceChildren($('#tables'), [...tables].map(([table, t]) => el('li',
    { class: 'demo-card', testid: `demo-table-${table}` },
    el('div', { class: 'demo-card-head' },
      el('span', { class: 'demo-name', text: table }),
      el('span', {
        class: ['demo-led', t.led && t.led.lit ? 'is-lit' : ''],
        testid: `led-${table}`, dataset: { lit: t.led && t.led.lit ? 'on' : 'off' },
        role: 'img', 'aria-label': `LED ${t.led && t.led.lit ? 'on' : 'off'}`,
      })),
    el('div', { class: 'demo-buttons' },
      t.calls.map((b) => pressButton(b, CALL_LABEL[b.call] || b.call))))));
  replaceChildren($('#stations'), [...stations].map(([station, list]) => el('li',
    { class: 'demo-card', testid: `demo-station-${station}` },
    el('div', { class: 'demo-card-head' }, el('span', { class: 'demo-name', text: station })),
    el('div', { class: 'demo-buttons' },
      list.map((b) => pressButton(b, ACTION_LABEL[b.action] || b.action))))));
}

function updateLeds(buttons) {
  for (const b of buttons) {
    if (b.kind !== 'led') continue;
    const led = document.querySelector(`[data-testid="led-${CSS.escape(b.table)}"]`);
    if (!led) continue;
    led.classList.toggle('is-lit', !!b.lit);
    led.dataset.lit = b.lit ? 'on' : 'off';
    led.setAttribute('aria-label', `LED ${b.lit ? 'on' : 'off'}`);
  }
}

async function main() {
  let first = true;
  for (;;) {
    try {
      const { buttons } = await api('/api/v1/demo/buttons', { staff: true });
      if (first) { render(buttons); first = false; } else updateLeds(buttons);
      showError('');
    } catch (err) {
      showError(err instanceof ApiError && err.status === 401
        ? 'This screen is not paired: open the demo link the hub printed.'
        : `The hub does not answer (${err.message || err}); retrying.`);
    }
    await sleep(1000);
  }
}

main();
