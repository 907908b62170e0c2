// The page: sign-in, then the view of the caller's role over one map. window.safegrid is
// the hook the browser tests use (web/CONTRACT.md).
import './style.css';
import { api, call, getToken, setToken, setUnauthorizedHandler, toast, clearToast } from './api.js';
import { apply, t, toggleLang } from './i18n.js';
import { createMap, idle } from './map.js';
import { initPanel, closePanel, isPhone } from './ui.js';
import * as officer from './officer.js';
import * as street from './street.js';
import * as district from './district.js'; // district bureau 区安监局
import * as planner from './planner.js';
import * as admin from './admin.js';
import { initPassword } from './console.js';
import { initNotify } from './notify.js';
import { initDossier } from './dossier.js'; // enterprise dossier
import { initAssess } from './assess.js'; // officer assessment (考核)
import { initRisk } from './risk.js'; // risk map (风险四色图)

const VIEWS = { officer, street, district, planner, admin };

let resolveReady;
let rejectReady;
const sg = {
  map: null,
  api,
  token: getToken,
  ready: new Promise((res, rej) => { resolveReady = res; rejectReady = rej; }),
};
sg.ready.catch(() => {}); // a failed view is reported in #toast; keep the console clean
window.safegrid = sg;

function $(id) {
  return document.getElementById(id);
}

function showLogin(message) {
  document.body.dataset.role = '';
  $('login-page').hidden = false;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('sidebar-toggle').hidden = true;
  $('whoami').textContent = '';
  $('login-error').textContent = message || '';
  $('login-username').focus();
}

async function login(e) {
  e.preventDefault();
  $('login-error').textContent = '';
  $('login-submit').disabled = true;
  try {
    const out = await call('/api/v1/auth/login', {
      method: 'POST', quiet: true, noLogout: true,
      body: { username: $('login-username').value.trim(), password: $('login-password').value },
    });
    setToken(out.token);
    await enter();
  } catch (err) {
    $('login-error').textContent = err.message || t('login_failed');
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logout() {
  try {
    await api('/api/v1/auth/logout', { method: 'POST' });
  } finally {
    setToken('');
    location.reload();
  }
}

// enter shows the view of the signed-in user's role and draws its first data.
async function enter() {
  const me = await call('/api/v1/me', { quiet: true, noLogout: true });
  const view = VIEWS[me.role];
  document.body.dataset.role = me.role;
  $('login-page').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('sidebar-toggle').hidden = false;
  initPassword(me);
  initNotify().catch(() => {}); // the badge is not worth failing the view for
  initAssess(me, sg); // officer assessment (考核): street, district, admin, planner
  $('whoami').textContent = `${me.display_name || me.username} · ${t('role_' + me.role)}`;
  $('whoami').dataset.role = me.role;
  for (const r of Object.keys(VIEWS)) $('view-' + r).hidden = r !== me.role;
  if (isPhone()) {
    document.body.classList.add('sidebar-collapsed');
    $('sidebar-toggle').setAttribute('aria-expanded', 'false');
  }

  const { map, loaded } = createMap($('map'));
  sg.map = map;
  await loaded;
  try {
    await view.start({ map, me, hooks: sg });
    initRisk({ map, me, hooks: sg }); // risk map (风险四色图): street, district, planner, admin
    await idle(map);
    resolveReady(me.role);
  } catch (err) {
    toast(err.message || String(err), 'error');
    rejectReady(err);
  }
}

function toggleSidebar() {
  const collapsed = document.body.classList.toggle('sidebar-collapsed');
  $('sidebar-toggle').setAttribute('aria-expanded', collapsed ? 'false' : 'true');
  if (sg.map) setTimeout(() => sg.map.resize(), 260);
}

async function boot() {
  apply();
  initPanel();
  initDossier(sg); // enterprise dossier
  $('lang-toggle').addEventListener('click', () => {
    toggleLang();
    const me = document.body.dataset.role;
    if (me) $('whoami').textContent = $('whoami').textContent.replace(/ · .*$/, ' · ' + t('role_' + me));
  });
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('sidebar-toggle').addEventListener('click', toggleSidebar);
  $('toast').addEventListener('click', clearToast);
  $('panel-close').addEventListener('click', closePanel);
  setUnauthorizedHandler(() => {
    setToken('');
    toast(t('login_failed'), 'error');
    setTimeout(() => location.reload(), 1500);
  });
  if (getToken()) {
    try {
      await enter();
      return;
    } catch {
      setToken('');
    }
  }
  showLogin();
}

boot();
