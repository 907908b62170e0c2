// The details panel (#panel) and small rendering helpers shared by the views.
import { esc } from './api.js';
import { t, onLangChange } from './i18n.js';

const panel = () => document.getElementById('panel');
let redraw = null;
let stopLang = null;

// showPanel draws render() into #panel and redraws it on a language switch.
// state is "ok" or "error"; while loading the state is "loading".
export function showPanel(render, state = 'ok') {
  const p = panel();
  p.hidden = false;
  p.dataset.state = state;
  redraw = render;
  const body = document.getElementById('panel-body');
  body.innerHTML = '';
  render(body);
  if (!stopLang) stopLang = onLangChange(() => {
    if (redraw && !panel().hidden) {
      const b = document.getElementById('panel-body');
      b.innerHTML = '';
      redraw(b);
    }
  });
}

export function panelLoading() {
  showPanel((b) => { b.innerHTML = `<p class="muted">${esc(t('busy'))}</p>`; }, 'loading');
}

export function panelError(message) {
  showPanel((b) => {
    b.innerHTML = `<p class="error">${esc(message)}</p>`;
  }, 'error');
}

export function closePanel() {
  const p = panel();
  p.hidden = true;
  p.dataset.state = '';
  redraw = null;
}

export function initPanel() {
  document.getElementById('panel-close').addEventListener('click', closePanel);
}

// kv renders rows of [label, value] as a definition list (values escaped).
export function kv(rows) {
  return '<dl class="kv">' + rows.filter((r) => r[1] !== undefined && r[1] !== null && r[1] !== '')
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') + '</dl>';
}

export function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  if (text !== undefined) e.textContent = text;
  return e;
}

// isPhone reports a narrow screen, where the side bar covers the map.
export function isPhone() {
  return window.matchMedia('(max-width: 760px)').matches;
}

// revealMap folds the side bar on a phone, so the map shows what a click in the list did.
export function revealMap(map) {
  if (!isPhone() || document.body.classList.contains('sidebar-collapsed')) return;
  document.body.classList.add('sidebar-collapsed');
  document.getElementById('sidebar-toggle').setAttribute('aria-expanded', 'false');
  if (map) setTimeout(() => map.resize(), 260);
}
