// The notification centre 通知 of every role: the unread count in the top bar
// (#notify-count) and the list (#notify-list) with mark-read, from /api/v1/me/notifications
// (docs/NOTIFY.md). The count is refreshed every minute and whenever the list is opened.
import { call, esc, qs } from './api.js';
import { t, fmtDate, onLangChange } from './i18n.js';

const PAGE = 20;
const POLL_MS = 60000;
const $ = (id) => document.getElementById(id);

let items = [];
let total = 0;
let unread = 0;
let timer = 0;

// initNotify shows the badge for the signed-in user and starts polling the count.
export function initNotify() {
  $('notify-toggle').hidden = false;
  $('notify-toggle').addEventListener('click', toggle);
  $('notify-close').addEventListener('click', () => show(false));
  $('notify-read-all').addEventListener('click', readAll);
  $('notify-unread-only').addEventListener('change', () => load(0));
  $('notify-more').addEventListener('click', () => load(items.length));
  $('notify-list').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-read]');
    if (b) readOne(Number(b.dataset.read));
  });
  onLangChange(draw);
  clearInterval(timer);
  timer = setInterval(() => refreshCount().catch(() => {}), POLL_MS);
  return refreshCount();
}

function setCount(n) {
  unread = n;
  const el = $('notify-count');
  el.textContent = n > 99 ? '99+' : String(n);
  el.dataset.count = String(n);
  $('notify-toggle').title = t('notify_unread', { n });
}

export async function refreshCount() {
  const out = await call('/api/v1/me/notifications' + qs({ unread: true, limit: 1 }), { quiet: true });
  setCount(out.unread);
}

function show(open) {
  $('notify-panel').hidden = !open;
  $('notify-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
}

async function toggle() {
  if (!$('notify-panel').hidden) {
    show(false);
    return;
  }
  show(true);
  await load(0);
}

async function load(offset) {
  const out = await call('/api/v1/me/notifications' + qs({
    unread: $('notify-unread-only').checked ? true : '', limit: PAGE, offset,
  }));
  items = offset === 0 ? out.items : items.concat(out.items);
  total = out.total;
  setCount(out.unread);
  draw();
}

function draw() {
  const list = $('notify-list');
  if (!list) return;
  $('notify-total').textContent = String(total);
  $('notify-more').hidden = items.length >= total;
  list.innerHTML = items.length ? items.map((n) => `
    <li data-id="${n.id}" data-kind="${esc(n.kind)}" data-read="${n.read_at ? 'true' : 'false'}">
      <div class="notify-title">${esc(n.title)}</div>
      ${n.body ? `<div class="notify-body">${esc(n.body)}</div>` : ''}
      <div class="notify-meta"><span class="muted">${esc(fmtDate(n.created_at))}</span>
        ${n.read_at ? `<span class="muted">${esc(t('notify_read'))}</span>`
          : `<button type="button" data-read="${n.id}">${esc(t('notify_mark_read'))}</button>`}</div>
    </li>`).join('') : `<li class="muted empty">${esc(t('notify_empty'))}</li>`;
}

async function readOne(id) {
  await call(`/api/v1/me/notifications/${id}/read`, { method: 'POST' });
  const n = items.find((x) => x.id === id);
  if (n && !n.read_at) {
    n.read_at = new Date().toISOString();
    if ($('notify-unread-only').checked) {
      items = items.filter((x) => x.id !== id);
      total = Math.max(0, total - 1);
    }
  }
  await refreshCount();
  draw();
}

async function readAll() {
  await call('/api/v1/me/notifications/read-all', { method: 'POST' });
  await load(0);
}
