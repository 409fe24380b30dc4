/**
 * A walk-in's own page at /w/<token>: their place in the queue, the wait the host quoted and
 * the host's message ("Your table is ready"), read every few seconds, in the guest's language
 * (the phone's, or the one picked on the page). The token in the link is the only key; the
 * page shows the first name only.
 */
import { $, I18n, LANGUAGE_NAMES, api, el } from './common.js';
import { LANGS, STRINGS } from './i18n.js';

const WAIT_STRINGS = {
  en: {
    wait_page_title: 'Your place in the queue',
    wait_in_queue: "{name}you're in the queue",
    wait_table_ready: '{name}your table is ready',
    wait_thanks: 'Thank you for waiting',
    wait_next: 'You are next',
    wait_ahead: '{n} ahead of you',
    wait_about: 'About {left} min (quoted {quoted} min)',
    wait_not_found: 'This link is not in the queue',
    wait_updates: 'This page updates by itself. No need to refresh.',
  },
  'zh-Hans': {
    wait_page_title: '您的候位',
    wait_in_queue: '{name}您正在候位',
    wait_table_ready: '{name}您的桌位已备好',
    wait_thanks: '感谢您的耐心等候',
    wait_next: '下一位就是您',
    wait_ahead: '您前面还有 {n} 位',
    wait_about: '约 {left} 分钟（预计 {quoted} 分钟）',
    wait_not_found: '此链接不在候位名单中',
    wait_updates: '本页会自动更新，无需刷新。',
  },
  'zh-Hant': {
    wait_page_title: '您的候位',
    wait_in_queue: '{name}您正在候位',
    wait_table_ready: '{name}您的桌位已備好',
    wait_thanks: '感謝您的耐心等候',
    wait_next: '下一位就是您',
    wait_ahead: '您前面還有 {n} 位',
    wait_about: '約 {left} 分鐘（預計 {quoted} 分鐘）',
    wait_not_found: '此連結不在候位名單中',
    wait_updates: '本頁會自動更新，無需重新整理。',
  },
};
for (const lang of LANGS) Object.assign(STRINGS[lang], WAIT_STRINGS[lang]);

const EVERY_MS = 5000;
const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const i18n = new I18n({ storageKey: 'tablehub.lang' });
let last = null; // the last answer, to render again in another language
let missing = false;

function minutes(s) { return Math.max(0, Math.round(s / 60)); }

function render() {
  const hello = $('[data-testid="wait-hello"]');
  document.title = i18n.t('wait_page_title');
  if (missing) { hello.textContent = i18n.t('wait_not_found'); return; }
  if (!last) return;
  const doc = last;
  const name = doc.first_name ? `${doc.first_name}, ` : '';
  hello.textContent = doc.status === 'waiting' ? i18n.t('wait_in_queue', { name })
    : doc.status === 'seated' ? i18n.t('wait_table_ready', { name }) : i18n.t('wait_thanks');
  const pos = $('[data-testid="wait-position"]');
  pos.dataset.position = doc.position ?? '';
  pos.textContent = doc.status === 'waiting' && doc.position
    ? (doc.position === 1 ? i18n.t('wait_next') : i18n.t('wait_ahead', { n: doc.position - 1 })) : '';
  const waited = Math.floor((doc.now_ms - doc.joined_ms) / 1000);
  const left = Math.max(0, doc.quoted_wait_s - waited);
  $('[data-testid="wait-quote"]').textContent = doc.status === 'waiting'
    ? i18n.t('wait_about', { left: minutes(left), quoted: minutes(doc.quoted_wait_s) }) : '';
  const msg = $('[data-testid="wait-message"]');
  msg.hidden = !doc.message;
  msg.textContent = doc.message || '';
}

async function refresh() {
  try {
    last = await api(`/api/v1/queue/${encodeURIComponent(token)}`, { timeoutMs: 8000 });
    render();
  } catch (e) {
    if (e?.status === 404) {
      missing = true;
      render();
      return;
    }
  }
  setTimeout(refresh, EVERY_MS);
}

function wireLanguage() {
  const sel = $('#wait-lang');
  for (const code of LANGS) sel.append(el('option', { value: code, text: LANGUAGE_NAMES[code], selected: code === i18n.lang }));
  sel.addEventListener('change', () => i18n.setLang(sel.value));
  i18n.onChange(render);
}

wireLanguage();
i18n.translateStatic(document);
render();
refresh();
