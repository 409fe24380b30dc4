/**
 * The start page at / : says what this box is and links the staff pages. A screen that is
 * already paired also gets a link to each station's kitchen display (GET /api/v1/stations
 * answers only a paired screen); an unpaired one shows nothing more.
 */
import { $, I18n, LANGUAGE_NAMES, api, el, replaceChildren } from './common.js';
import { LANGS, STRINGS } from './i18n.js';
import { START_STRINGS } from './start-strings.js';

for (const lang of LANGS) Object.assign(STRINGS[lang], START_STRINGS[lang]);

const i18n = new I18n({ storageKey: 'tablehub.staff.lang' });
let stations = [];

function renderStations() {
  const list = $('#start-stations');
  list.hidden = stations.length === 0;
  replaceChildren(list, stations.map((s) => el('li', {},
    el('a', { href: `/kds/${encodeURIComponent(s.id)}`, testid: `start-station-${s.id}` },
      el('strong', { text: i18n.name(s.name) || s.id })))));
}

async function loadStations() {
  try {
    const res = await api('/api/v1/stations', { staff: true, timeoutMs: 5000 });
    stations = Array.isArray(res?.stations) ? res.stations : [];
  } catch {
    stations = []; // not paired (401) or no answer: the general links are enough
  }
  renderStations();
}

function wireLanguage() {
  const sel = $('#start-lang');
  for (const code of LANGS) sel.append(el('option', { value: code, text: LANGUAGE_NAMES[code], selected: code === i18n.lang }));
  sel.addEventListener('change', () => i18n.setLang(sel.value));
  i18n.onChange(renderStations);
}

wireLanguage();
loadStations();
