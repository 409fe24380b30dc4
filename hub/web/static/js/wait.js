/**
 * A walk-in's own page at /w/<token>: their place in the queue, the wait the host quoted and
 * the host's message ("Your table is ready"), read every few seconds. The token in the link
 * is the only key; the page shows the first name only.
 */
import { api } from './common.js';

const EVERY_MS = 5000;
const token = decodeURIComponent(location.pathname.split('/').pop() || '');

function minutes(s) { return Math.max(0, Math.round(s / 60)); }

function render(doc) {
  const name = doc.first_name ? `${doc.first_name}, ` : '';
  document.querySelector('[data-testid="wait-hello"]').textContent = doc.status === 'waiting'
    ? `${name}you're in the queue` : doc.status === 'seated' ? `${name}your table is ready` : 'Thank you for waiting';
  const pos = document.querySelector('[data-testid="wait-position"]');
  pos.dataset.position = doc.position ?? '';
  pos.textContent = doc.status === 'waiting' && doc.position
    ? (doc.position === 1 ? 'You are next' : `${doc.position - 1} ahead of you`) : '';
  const waited = Math.floor((doc.now_ms - doc.joined_ms) / 1000);
  const left = Math.max(0, doc.quoted_wait_s - waited);
  document.querySelector('[data-testid="wait-quote"]').textContent = doc.status === 'waiting'
    ? `About ${minutes(left)} min (quoted ${minutes(doc.quoted_wait_s)} min)` : '';
  const msg = document.querySelector('[data-testid="wait-message"]');
  msg.hidden = !doc.message;
  msg.textContent = doc.message || '';
}

async function refresh() {
  try {
    render(await api(`/api/v1/queue/${encodeURIComponent(token)}`, { timeoutMs: 8000 }));
  } catch (e) {
    if (e?.status === 404) {
      document.querySelector('[data-testid="wait-hello"]').textContent = 'This link is not in the queue';
      return;
    }
  }
  setTimeout(refresh, EVERY_MS);
}

refresh();
