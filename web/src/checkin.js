// Inspection check-in 检查签到 (docs/FIELDWORK.md): the phone's position for the inspection
// form (browser geolocation with its accuracy), the server's verdict after recording, and
// the due list in walking order from where the officer stands. officer.js calls in here.
import { esc } from './api.js';
import { t, addStrings, fmtNum, onLangChange } from './i18n.js';

addStrings({
  checkin_locating: ['正在获取手机位置…', 'Getting the phone\'s position…'],
  checkin_fix: ['手机位置：精度 ±{a} 米', 'Phone position: accuracy ±{a} m'],
  checkin_denied: ['未获得定位权限：本次检查将记录为未定位', 'Location permission refused: the inspection will be recorded unlocated'],
  checkin_unavailable: ['无法获取手机位置：本次检查将记录为未定位', 'The phone\'s position is unavailable: the inspection will be recorded unlocated'],
  checkin_locate: ['重新定位', 'Locate again'],
  checkin_status_located: ['签到：已定位（距企业 {m} 米）', 'Check-in: located ({m} m from the enterprise)'],
  checkin_status_far: ['签到：距离过远（距企业 {m} 米）', 'Check-in: far ({m} m from the enterprise)'],
  checkin_status_inaccurate: ['签到：定位精度不足（±{a} 米）', 'Check-in: inaccurate fix (±{a} m)'],
  checkin_status_unlocated: ['签到：未定位', 'Check-in: unlocated'],
  walk_order: ['按步行顺序', 'Walking order from here'],
  walk_leg: ['上一站 {m} 米 · 累计 {c} 米', '{m} m from the last stop · {c} m walked'],
  walk_total: ['步行共 {km} 公里（直线距离）', '{km} km on foot (straight lines)'],
  walk_failed: ['无法获取当前位置，按应检查时间排序', 'No current position: listed by due date'],
});

// The browser's geolocation: high accuracy, at most 10 s, a fresh fix (the officer moves).
const GEO_OPTIONS = { enableHighAccuracy: true, timeout: 10000, maximumAge: 0 };

let last = null; // { lon, lat, accuracy_m } of the last fix, or null
let lastError = null; // 'denied' | 'unavailable' | null
let walking = false;
let onOrder = () => {};

function locate() {
  return new Promise((resolve) => {
    if (!('geolocation' in navigator)) {
      resolve({ error: 'unavailable' });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ pos: { lon: p.coords.longitude, lat: p.coords.latitude, accuracy_m: p.coords.accuracy } }),
      (e) => resolve({ error: e.code === 1 ? 'denied' : 'unavailable' }),
      GEO_OPTIONS);
  });
}

// fix asks for the position and shows it (or why there is none) in the form. Only the
// latest request shows: an older one answering late (the form opened, then submitted at
// once) does not overwrite it.
let seq = 0;
let pending = false;
async function fix() {
  const my = ++seq;
  pending = true;
  const status = document.getElementById('checkin-status');
  status.dataset.state = 'pending';
  status.textContent = t('checkin_locating');
  const r = await locate();
  if (my === seq) {
    pending = false;
    last = r.pos || null;
    lastError = r.error || null;
    renderStatus();
  }
  return r.pos || null;
}

function renderStatus() {
  const status = document.getElementById('checkin-status');
  const note = document.getElementById('checkin-note');
  if (!status || pending) return;
  if (last) {
    status.dataset.state = 'ok';
    status.dataset.accuracy = String(last.accuracy_m);
    status.textContent = t('checkin_fix', { a: fmtNum(last.accuracy_m) });
    note.hidden = true;
  } else if (lastError) {
    status.dataset.state = lastError;
    delete status.dataset.accuracy;
    status.textContent = '';
    note.hidden = false;
    note.textContent = t(lastError === 'denied' ? 'checkin_denied' : 'checkin_unavailable');
  }
}

// init adds the check-in's elements to the officer's form and due list; onOrderChange
// reloads the due list when the walking order is switched.
export function init({ onOrderChange }) {
  onOrder = onOrderChange;
  const where = document.getElementById('insp-location').closest('p');
  where.insertAdjacentHTML('afterend',
    '<p id="checkin-status" class="muted" data-state="idle"></p>' +
    '<p id="checkin-note" class="checkin-note" role="status" hidden></p>');
  const submitRow = document.getElementById('inspection-submit').closest('.row');
  submitRow.insertAdjacentHTML('afterbegin', `<button type="button" id="checkin-locate" data-i18n="checkin_locate">${esc(t('checkin_locate'))}</button>`);
  submitRow.insertAdjacentHTML('afterend', '<p id="checkin-verdict" hidden></p>');
  document.getElementById('checkin-locate').addEventListener('click', () => fix());
  // Ask when the form is opened, so the accuracy shows before sending.
  const details = document.getElementById('inspection-form').closest('details');
  if (details) details.addEventListener('toggle', () => { if (details.open) fix(); });

  const list = document.getElementById('due-list');
  list.insertAdjacentHTML('beforebegin',
    '<p class="muted"><label class="check"><input id="due-walk" type="checkbox"> ' +
    `<span data-i18n="walk_order">${esc(t('walk_order'))}</span></label> <span id="due-route-total"></span></p>`);
  document.getElementById('due-walk').addEventListener('change', (e) => {
    walking = e.target.checked;
    onOrder();
  });
  onLangChange(() => { renderStatus(); renderVerdict(); });
}

// position is the phone's position for an inspection being sent: a fresh fix, or
// undefined (recorded unlocated, and the note says so).
export async function position() {
  const p = await fix();
  return p ? { lon: p.lon, lat: p.lat, accuracy_m: p.accuracy_m } : undefined;
}

let verdict = null;

// showVerdict shows the check-in of the inspection the server recorded.
export function showVerdict(inspection) {
  verdict = inspection.checkin;
  renderVerdict();
}

function renderVerdict() {
  const el = document.getElementById('checkin-verdict');
  if (!el || !verdict) return;
  const c = verdict;
  el.hidden = false;
  el.dataset.status = c.status;
  el.className = 'checkin-verdict checkin-' + c.status;
  if (c.distance_m != null) el.dataset.distance = String(c.distance_m);
  else delete el.dataset.distance;
  el.textContent = t('checkin_status_' + c.status, { m: fmtNum(c.distance_m), a: fmtNum(c.accuracy_m) });
}

// dueQuery is what the due list's URL gets for the current order: with the walking order
// on, the current position (lon, lat); if there is none, the toggle goes off again.
export async function dueQuery() {
  const list = document.getElementById('due-list');
  if (!walking) {
    list.dataset.order = 'due';
    return '';
  }
  const p = await fix();
  if (!p) {
    walking = false;
    document.getElementById('due-walk').checked = false;
    list.dataset.order = 'due';
    document.getElementById('due-route-total').textContent = t('walk_failed');
    return '';
  }
  list.dataset.order = 'walking';
  return `&lon=${encodeURIComponent(p.lon)}&lat=${encodeURIComponent(p.lat)}`;
}

// decorateDue adds a walking-order stop's distances to its list item.
export function decorateDue(li, d) {
  if (d.leg_m == null) return;
  li.dataset.leg = String(d.leg_m);
  li.dataset.cumulative = String(d.cumulative_m);
  li.insertAdjacentHTML('beforeend', `<br><small class="walk-leg">${esc(t('walk_leg', { m: fmtNum(d.leg_m), c: fmtNum(d.cumulative_m) }))}</small>`);
}

// afterDue shows the walk's length under the toggle (the last stop's cumulative metres).
export function afterDue(items) {
  const total = document.getElementById('due-route-total');
  if (!walking) {
    if (total.textContent !== t('walk_failed')) total.textContent = '';
    return;
  }
  const end = items.length ? items[items.length - 1].cumulative_m : 0;
  total.dataset.metres = String(end);
  total.textContent = t('walk_total', { km: fmtNum(end / 1000, 2) });
}
