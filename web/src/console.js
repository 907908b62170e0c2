// The admin's 管理员 console over the map: people (users 用户 and their sessions 会话) and
// the audit log 操作日志, both read and written through /api/v1/admin/... The map stays
// underneath; #nav-map brings it back. Every user's own password change (#change-password)
// lives here too.
import { call, download, esc, qs, toast } from './api.js';
import { t, tv, fmtDate, onLangChange } from './i18n.js';
import { loadRiskConfig } from './riskconfig.js'; // risk index configuration 风险评估参数

const PAGE = 50;
const PAGES = ['map', 'users', 'audit', 'risk'];
const $ = (id) => document.getElementById(id);

let mapRef = null;

// ---- navigation ---------------------------------------------------------------------

// initConsole wires the admin's navigation; the users and audit pages load when first shown.
export function initConsole(map) {
  mapRef = map;
  for (const page of PAGES) $('nav-' + page).addEventListener('click', () => showPage(page));
  initUsers();
  initLog();
  onLangChange(() => { drawUsers(); drawUser(); drawSessions(); drawLog(); });
}

export async function showPage(page) {
  for (const p of PAGES) $('nav-' + p).setAttribute('aria-pressed', p === page ? 'true' : 'false');
  $('console').hidden = page === 'map';
  for (const p of PAGES.slice(1)) $('console-' + p).hidden = page !== p;
  document.body.dataset.console = page;
  if (page === 'users') await loadUsers();
  else if (page === 'audit') await loadLog();
  else if (page === 'risk') await loadRiskConfig();
  else if (mapRef) mapRef.resize();
}

// ---- users --------------------------------------------------------------------------

let userFilter = {};
let userOffset = 0;
let users = null;
let user = null; // the user in #user-detail
let sessions = null;

function initUsers() {
  $('users-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    userFilter = {
      role: $('users-role').value, street: $('users-street').value.trim(), district: $('users-district').value,
      unit: $('users-unit').value.trim(),
      disabled: $('users-disabled').value, q: $('users-q').value.trim(),
    };
    userOffset = 0;
    loadUsers();
  });
  $('users-prev').addEventListener('click', () => { if (userOffset > 0) { userOffset = Math.max(0, userOffset - PAGE); loadUsers(); } });
  $('users-next').addEventListener('click', () => { if (users && userOffset + PAGE < users.total) { userOffset += PAGE; loadUsers(); } });
  const streetField = () => {
    $('new-street-label').hidden = $('new-role').value !== 'street';
    $('new-district-label').hidden = $('new-role').value !== 'district'; // district bureau (区安监局)
  };
  $('new-role').addEventListener('change', streetField);
  streetField();
  loadDistricts();
  $('new-user-form').addEventListener('submit', (e) => { e.preventDefault(); createUser(); });
  $('edit-user-form').addEventListener('submit', (e) => { e.preventDefault(); saveUser(); });
  $('user-disable').addEventListener('click', () => userAction('disable', 'user_disabled_ok'));
  $('user-enable').addEventListener('click', () => userAction('enable', 'user_enabled_ok'));
  $('user-reset').addEventListener('click', resetPassword);
  $('user-remove').addEventListener('click', removeUser);
  $('sessions-revoke-all').addEventListener('click', async () => {
    await call(userPath(user.username) + '/sessions', { method: 'DELETE' });
    await showUser(user.username);
  });
}

// loadDistricts fills the district pickers (.district-picker) with the loaded districts,
// for district bureau users (区安监局) and the list's filter.
async function loadDistricts() {
  const out = await call('/api/v1/districts', { quiet: true }).catch(() => ({ items: [] }));
  for (const sel of document.querySelectorAll('.district-picker')) {
    sel.innerHTML = `<option value="">${esc(sel.id === 'users-district' ? t('all') : '—')}</option>` +
      out.items.map((d) => `<option value="${esc(d.code)}">${esc(d.name)} (${esc(d.code)})</option>`).join('');
  }
  if (user) $('edit-district').value = user.district_code || '';
}

const userPath = (name) => '/api/v1/admin/users/' + encodeURIComponent(name);

async function loadUsers() {
  users = await call('/api/v1/admin/users' + qs({ ...userFilter, limit: PAGE, offset: userOffset }));
  drawUsers();
}

function drawUsers() {
  if (!users) return;
  $('users-total').textContent = users.total;
  $('users-page').textContent = users.total
    ? t('page_of', { a: userOffset + 1, b: Math.min(userOffset + PAGE, users.total), n: users.total }) : '';
  const tb = document.querySelector('#users-table tbody');
  tb.innerHTML = '';
  for (const u of users.items) {
    const tr = document.createElement('tr');
    tr.dataset.username = u.username;
    tr.dataset.disabled = String(u.disabled);
    if (user && user.username === u.username) tr.className = 'selected';
    tr.innerHTML = `<td>${esc(u.username)}</td><td>${esc(u.display_name)}</td><td>${esc(t('role_' + u.role))}</td>` +
      `<td>${esc(u.street_code || u.district_code || '')}</td><td>${esc((u.units || []).join(', '))}</td>` +
      `<td class="${u.disabled ? 'warn' : ''}">${esc(t(u.disabled ? 'user_disabled' : 'user_enabled'))}</td>` +
      `<td>${esc(u.last_login_at ? fmtDate(u.last_login_at) : t('never'))}</td><td data-metric="sessions">${u.sessions}</td>`;
    tr.addEventListener('click', () => showUser(u.username));
    tb.appendChild(tr);
  }
}

async function createUser() {
  const role = $('new-role').value;
  const body = { username: $('new-username').value.trim(), role };
  const display = $('new-display').value.trim();
  if (display) body.display_name = display;
  if (role === 'street') body.street_code = $('new-street').value.trim();
  if (role === 'district') body.district_code = $('new-district').value;
  const pw = $('new-password').value;
  if (pw) body.password = pw;
  $('new-password-box').hidden = true;
  const out = await call('/api/v1/admin/users', { method: 'POST', body });
  $('new-user-form').reset();
  $('new-street-label').hidden = true;
  $('new-district-label').hidden = true;
  if (out.password) {
    $('new-password-value').textContent = out.password;
    $('new-password-box').hidden = false;
  }
  toast(t('user_created', { u: out.user.username }), 'ok');
  // List the new user at once: the search shows just them, whatever page they fall on.
  $('users-filter').reset();
  $('users-q').value = out.user.username;
  userFilter = { q: out.user.username };
  userOffset = 0;
  await Promise.all([loadUsers(), showUser(out.user.username, out.user)]);
}

// showUser opens name in #user-detail with its sessions; known is the user when the
// caller already has it (the answer of a change), so only the sessions are fetched.
async function showUser(name, known) {
  const [u, s] = await Promise.all([known || call(userPath(name)), call(userPath(name) + '/sessions')]);
  if (!user || user.username !== u.username) $('reset-password-box').hidden = true;
  user = u;
  sessions = s;
  drawUser();
  drawSessions();
  for (const tr of document.querySelectorAll('#users-table tbody tr')) tr.classList.toggle('selected', tr.dataset.username === u.username);
}

function drawUser() {
  const box = $('user-detail');
  if (!user) { box.hidden = true; return; }
  box.hidden = false;
  box.dataset.username = user.username;
  box.dataset.disabled = String(user.disabled);
  $('user-detail-name').textContent = user.display_name ? `${user.display_name} (${user.username})` : user.username;
  $('user-detail-state').textContent = `${t('role_' + user.role)} · ${t(user.disabled ? 'user_disabled' : 'user_enabled')}`;
  $('edit-display').value = user.display_name || '';
  $('edit-role').value = user.role;
  $('edit-street').value = user.street_code || '';
  $('edit-district').value = user.district_code || '';
  $('user-detail-units').textContent = (user.units || []).join(', ') || t('none');
  $('user-disable').hidden = user.disabled;
  $('user-enable').hidden = !user.disabled;
}

function drawSessions() {
  if (!sessions || !user) return;
  $('sessions-total').textContent = sessions.total;
  const tb = document.querySelector('#sessions-table tbody');
  tb.innerHTML = '';
  for (const s of sessions.items) {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    tr.dataset.revoked = String(s.revoked);
    tr.innerHTML = `<td>${s.id}</td><td>${esc(fmtDate(s.created_at))}</td><td>${esc(s.last_seen_at ? fmtDate(s.last_seen_at) : '—')}</td>` +
      `<td>${esc(fmtDate(s.expires_at))}</td><td></td>`;
    const cell = tr.lastElementChild;
    if (s.revoked) {
      cell.textContent = t('revoked');
      cell.className = 'muted';
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.revoke = s.id;
      b.textContent = t('revoke');
      b.addEventListener('click', async () => {
        await call(`${userPath(user.username)}/sessions/${s.id}`, { method: 'DELETE' });
        await showUser(user.username);
      });
      cell.appendChild(b);
    }
    tb.appendChild(tr);
  }
  $('sessions-revoke-all').disabled = !sessions.items.some((s) => !s.revoked);
}

async function saveUser() {
  const role = $('edit-role').value;
  const body = { display_name: $('edit-display').value.trim(), role };
  if (role === 'street') body.street_code = $('edit-street').value.trim();
  if (role === 'district') body.district_code = $('edit-district').value;
  user = await call(userPath(user.username), { method: 'PATCH', body });
  toast(t('saved'), 'ok');
  drawUser();
  await loadUsers();
}

async function userAction(action, done) {
  const u = await call(`${userPath(user.username)}/${action}`, { method: 'POST' });
  toast(t(done, { u: u.username }), 'ok');
  await Promise.all([loadUsers(), showUser(u.username, u)]);
}

async function resetPassword() {
  if (!window.confirm(t('confirm_reset', { u: user.username }))) return;
  const out = await call(`${userPath(user.username)}/password`, { method: 'POST', body: {} });
  $('reset-password-value').textContent = out.password;
  $('reset-password-box').hidden = false;
  await showUser(user.username);
}

async function removeUser() {
  const name = user.username;
  if (!window.confirm(t('confirm_remove', { u: name }))) return;
  await call(userPath(name), { method: 'DELETE' });
  user = null;
  sessions = null;
  drawUser();
  toast(t('user_removed', { u: name }), 'ok');
  await loadUsers();
}

// ---- the audit log ------------------------------------------------------------------

let logFilter = {};
let logOffset = 0;
let log = null;

function initLog() {
  $('log-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    logFilter = readLogFilter();
    logOffset = 0;
    loadLog();
  });
  $('log-prev').addEventListener('click', () => { if (logOffset > 0) { logOffset = Math.max(0, logOffset - PAGE); loadLog(); } });
  $('log-next').addEventListener('click', () => { if (log && logOffset + PAGE < log.total) { logOffset += PAGE; loadLog(); } });
  $('log-csv').addEventListener('click', () => exportLog('csv'));
  $('log-xlsx').addEventListener('click', () => exportLog('xlsx'));
}

function readLogFilter() {
  const f = {};
  for (const k of ['actor', 'action', 'kind', 'object', 'street', 'from', 'to']) f[k] = $('log-' + k).value.trim();
  return f;
}

async function loadLog() {
  log = await call('/api/v1/admin/audit' + qs({ ...logFilter, limit: PAGE, offset: logOffset }));
  drawLog();
}

function drawLog() {
  if (!log) return;
  $('log-total').textContent = log.total;
  $('log-page').textContent = log.total
    ? t('page_of', { a: logOffset + 1, b: Math.min(logOffset + PAGE, log.total), n: log.total }) : '';
  const tb = document.querySelector('#log-table tbody');
  tb.innerHTML = '';
  for (const r of log.items) {
    const tr = document.createElement('tr');
    tr.dataset.id = r.id;
    const details = r.details && Object.keys(r.details).length ? JSON.stringify(r.details) : '';
    tr.innerHTML = `<td>${esc(fmtDate(r.at))}</td><td>${esc(r.actor)}</td><td data-action="${esc(r.action)}">${esc(tv('act_', r.action))}<br><small class="muted">${esc(r.action)}</small></td>` +
      `<td>${esc(r.kind ? tv('kind_', r.kind) : '')}</td><td>${esc(r.object || '')}</td><td>${esc(r.street_code || '')}</td>` +
      `<td class="details"><code>${esc(details)}</code></td>`;
    tb.appendChild(tr);
  }
}

// exportLog downloads what the filters on screen select (not only the page shown).
async function exportLog(format) {
  logFilter = readLogFilter();
  const resp = await download('/api/v1/admin/audit' + qs({ ...logFilter, format }), `audit.${format}`);
  if (!resp) return;
  if (resp.headers.get('X-Export-Truncated') === 'true') toast(t('export_truncated', { n: resp.headers.get('X-Export-Rows') }), 'error');
  else toast(t('exported', { n: resp.headers.get('X-Export-Rows') || resp.headers.get('X-Total-Count') || '' }), 'ok');
}

// ---- every user's own password -------------------------------------------------------

// initPassword shows #change-password for the signed-in user and wires its dialog.
export function initPassword(me) {
  const dlg = $('password-dialog');
  $('change-password').hidden = false;
  $('pw-username').value = me.username;
  $('change-password').addEventListener('click', () => {
    $('password-form').reset();
    $('pw-username').value = me.username;
    $('pw-error').textContent = '';
    dlg.showModal();
    $('pw-old').focus();
  });
  $('pw-cancel').addEventListener('click', () => dlg.close());
  $('password-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('pw-error').textContent = '';
    $('pw-submit').disabled = true;
    try {
      await call('/api/v1/me/password', {
        method: 'POST', quiet: true, noLogout: true,
        body: { old_password: $('pw-old').value, new_password: $('pw-new').value },
      });
      dlg.close();
      toast(t('password_changed'), 'ok');
    } catch (err) {
      $('pw-error').textContent = err.message;
    } finally {
      $('pw-submit').disabled = false;
    }
  });
}
