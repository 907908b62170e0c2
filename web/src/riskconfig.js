// The admin's editor of the risk index configuration 风险评估参数 (docs/RISK.md), a page of
// the admin console (#nav-risk): the configuration in force (GET /api/v1/risk/config) as
// number inputs grouped by part, saved with a note (PUT; a 400 names each refused field as
// config.<path>, shown beside its input, and nothing changes), and 立即重新计算 (POST
// /api/v1/risk/snapshots): the new snapshot, or why the recompute failed (the previous
// snapshot stays in force).
import { call, esc, qs, toast } from './api.js';
import { addStrings, t, tv, fmtDate, onLangChange } from './i18n.js';

addStrings({
  rc_nav: ['风险参数', 'Risk settings'],
  rc_title: ['风险评估参数', 'Risk index configuration'],
  rc_meta: ['当前参数 #{id}，{by} 于 {at} 设定：{note}', 'In force: #{id}, set by {by} on {at}: {note}'],
  rc_meta_defaults: ['当前使用内置默认参数', 'The built-in defaults are in force'],
  rc_note: ['修改说明（必填）', 'Note (required)'],
  rc_note_required: ['请填写修改说明', 'A note is required'],
  rc_save: ['保存参数', 'Save'],
  rc_reset: ['恢复当前参数', 'Undo changes'],
  rc_saved: ['参数已保存（#{id}）', 'Configuration saved (#{id})'],
  rc_refused: ['参数未保存，请修改标出的项', 'Not saved: correct the marked fields'],
  rc_recompute_title: ['重新计算', 'Recompute'],
  rc_recompute_hint: ['按当前参数立即计算全市风险指数，生成新的快照；失败时保留上一快照。',
    'Computes the index for the whole city with the configuration in force, as a new snapshot; a failure leaves the previous one.'],
  rc_recompute: ['立即重新计算', 'Recompute now'],
  rc_recompute_ok: ['新快照 #{id}（{d}）：{c} 个网格单元，用时 {ms} 毫秒', 'New snapshot #{id} ({d}): {c} cells in {ms} ms'],
  rc_recompute_failed: ['重新计算失败：{e}', 'Recompute failed: {e}'],
  rc_runs: ['最近的计算', 'Recent runs'],
  rc_run_ok: ['快照 #{id}', 'snapshot #{id}'],
  rc_run_running: ['进行中', 'running'],
  rc_g_enterprises: ['企业', 'Enterprises'],
  rc_g_hazards: ['隐患', 'Hazards'],
  rc_g_pipelines: ['油气管道（每公里）', 'Pipelines (per km)'],
  rc_g_gas_sites: ['燃气占压', 'Gas occupancy sites'],
  rc_g_underground: ['地下空间', 'Underground spaces'],
  rc_g_fire: ['消防响应', 'Fire response'],
  rc_g_spill: ['邻域溢出', 'Spill-over'],
  rc_g_thresholds: ['分级阈值', 'Colour thresholds'],
  rc_g_rules: ['预警规则', 'Warning rules'],
  rc_g_other: ['其他', 'Other'],
  rc_f_enterprise: ['按风险等级', 'By risk level'],
  rc_f_major_hazard: ['重大危险源加分', 'Major hazard installation'],
  rc_f_hazchem: ['危化品企业加分', 'Hazardous-chemical enterprise'],
  rc_f_hazard: ['按隐患等级', 'By hazard level'],
  rc_f_hazard_overdue: ['逾期倍数', 'Overdue multiplier'],
  rc_f_pipeline: ['按压力等级', 'By pressure class'],
  rc_f_gas_site: ['按整治状态', 'By remediation status'],
  rc_f_underground: ['按用途', 'By use'],
  rc_f_reach_minutes: ['可达时间（分钟）', 'Reach (minutes)'],
  rc_f_speed_kmh: ['速度（km/h）', 'Speed (km/h)'],
  rc_f_detour: ['绕行系数', 'Detour factor'],
  rc_f_factor: ['超时加权系数', 'Factor beyond reach'],
  rc_f_k: ['邻域步数 k', 'Rings k'],
  rc_f_share: ['溢出比例', 'Share'],
  rc_f_cell: ['网格单元', 'Cell'],
  rc_f_community: ['居委/村', 'Community'],
  rc_f_street: ['街道/镇', 'Street'],
  rc_f_district: ['区', 'District'],
  rc_f_red: ['红（重大风险）≥', 'Red (major) ≥'],
  rc_f_orange: ['橙（较大风险）≥', 'Orange (considerable) ≥'],
  rc_f_yellow: ['黄（一般风险）≥', 'Yellow (moderate) ≥'],
  rc_f_colour_rise: ['升色预警', 'Colour rise'],
  rc_f_turned_red: ['转为红色', 'Turned red'],
  rc_f_major_hazard_overdue: ['重大危险源隐患逾期', 'Major hazard installation overdue'],
  rc_f_hazard_burst: ['隐患集中出现', 'Hazard burst'],
  rc_f_enabled: ['启用', 'On'],
  rc_f_communities: ['含居委/村', 'Communities too'],
  rc_f_cell_count: ['单元内隐患数 ≥', 'Hazards in a cell ≥'],
  rc_f_street_count: ['街道内隐患数 ≥', 'Hazards in a street ≥'],
  rc_f_days: ['天数', 'Within days'],
});

// GROUPS put the configuration's top-level fields under headings; a field the list does
// not know goes under "other", so a new setting is editable without a change here.
const GROUPS = [
  ['enterprises', ['enterprise', 'major_hazard', 'hazchem']],
  ['hazards', ['hazard', 'hazard_overdue']],
  ['pipelines', ['pipeline']],
  ['gas_sites', ['gas_site']],
  ['underground', ['underground']],
  ['fire', ['fire']],
  ['spill', ['spill']],
  ['thresholds', ['thresholds']],
  ['rules', ['rules']],
];
const LEVEL_ORDER = ['cell', 'community', 'street', 'district'];
const COLOUR_ORDER = ['red', 'orange', 'yellow'];
const $ = (id) => document.getElementById(id);

let record = null; // the GET /risk/config answer in force
let wired = false;
let errors = []; // the last refusal's [{field, reason}]
let recompute = null; // {ok, snapshot | message}
let runs = null;

export function riskConfig() {
  return record;
}

// loadRiskConfig shows the console page's data (the first call wires its form).
export async function loadRiskConfig() {
  if (!wired) {
    wired = true;
    $('risk-config-form').addEventListener('submit', (e) => { e.preventDefault(); save(); });
    $('risk-config-reset').addEventListener('click', () => { errors = []; drawForm(); });
    $('risk-recompute').addEventListener('click', () => runRecompute());
    onLangChange(() => { drawMeta(); drawForm(readForm()); drawRecompute(); drawRuns(); });
  }
  const page = $('console-risk');
  page.dataset.state = 'loading';
  try {
    [record, runs] = await Promise.all([call('/api/v1/risk/config'), loadRuns()]);
  } catch (err) {
    page.dataset.state = 'error';
    throw err;
  }
  page.dataset.state = 'ok';
  errors = [];
  drawMeta();
  drawForm();
  drawRuns();
}

async function loadRuns() {
  return call('/api/v1/risk/runs' + qs({ limit: 10 }), { quiet: true }).catch(() => null);
}

function drawMeta() {
  if (!record) return;
  const el = $('risk-config-meta');
  el.dataset.id = record.id;
  el.textContent = record.id ? t('rc_meta', { id: record.id, by: record.created_by || '', at: fmtDate(record.created_at), note: record.note || '' })
    : t('rc_meta_defaults');
}

// sortKeys orders a map's keys: levels and colours in their order, the rest as given.
function sortKeys(keys) {
  const pos = (k) => {
    const l = LEVEL_ORDER.indexOf(k);
    if (l >= 0) return l;
    const c = COLOUR_ORDER.indexOf(k);
    return c >= 0 ? 10 + c : 100;
  };
  return [...keys].sort((a, b) => pos(a) - pos(b));
}

function label(seg) {
  return tv('rc_f_', seg);
}

// fieldsHTML renders value at path (config.<...>) as inputs: numbers, on/off switches and
// text, nested objects as indented groups.
function fieldsHTML(path, key, value) {
  const name = path;
  const err = `<span class="field-error" data-for="${esc(name)}"></span>`;
  if (typeof value === 'number') {
    return `<label class="rc-field"><span>${esc(label(key))}</span><input type="number" step="any" required data-path="${esc(name)}" name="${esc(name)}" value="${esc(value)}">${err}</label>`;
  }
  if (typeof value === 'boolean') {
    return `<label class="rc-field check"><input type="checkbox" data-path="${esc(name)}" name="${esc(name)}" ${value ? 'checked' : ''}> <span>${esc(label(key))}</span>${err}</label>`;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const inner = sortKeys(Object.keys(value)).map((k) => fieldsHTML(`${path}.${k}`, k, value[k])).join('');
    return `<fieldset class="rc-sub" data-path="${esc(name)}"><legend>${esc(label(key))}</legend>${inner}${err}</fieldset>`;
  }
  return `<label class="rc-field"><span>${esc(label(key))}</span><input data-path="${esc(name)}" data-kind="json" name="${esc(name)}" value="${esc(JSON.stringify(value))}">${err}</label>`;
}

// drawForm draws cfg (by default the record in force) and the refused fields' reasons.
function drawForm(cfg) {
  if (!record) return;
  const c = cfg || record.config;
  const known = new Set(GROUPS.flatMap(([, keys]) => keys));
  const groups = [...GROUPS, ['other', Object.keys(c).filter((k) => !known.has(k))]];
  $('risk-config-fields').innerHTML = groups.map(([g, keys]) => {
    const present = keys.filter((k) => k in c);
    if (!present.length) return '';
    return `<fieldset class="rc-group" data-group="${g}"><legend>${esc(t('rc_g_' + g))}</legend>` +
      present.map((k) => fieldsHTML('config.' + k, k, c[k])).join('') +
      `<span class="field-error" data-for="config.${esc(g)}"></span></fieldset>`;
  }).join('');
  showErrors();
}

// readForm is the configuration the inputs hold, in the shape of the one in force.
function readForm() {
  if (!record) return null;
  const out = structuredClone(record.config);
  for (const input of $('risk-config-fields').querySelectorAll('[data-path]')) {
    if (input.tagName === 'FIELDSET') continue;
    const segs = input.dataset.path.split('.').slice(1);
    let o = out;
    for (const s of segs.slice(0, -1)) o = o[s];
    const last = segs[segs.length - 1];
    if (input.type === 'checkbox') o[last] = input.checked;
    else if (input.type === 'number') o[last] = input.value.trim() === '' ? null : Number(input.value);
    else {
      try { o[last] = JSON.parse(input.value); } catch { o[last] = input.value; }
    }
  }
  return out;
}

// showErrors writes each refused field's reason beside the input it names (or the nearest
// group that holds it); what names no input on the page goes to #risk-config-error.
function showErrors() {
  const root = $('risk-config-form');
  for (const e of root.querySelectorAll('.field-error')) e.textContent = '';
  for (const i of root.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  const loose = [];
  for (const e of errors) {
    const field = e.field || '';
    let target = null;
    for (let f = field; f; f = f.includes('.') ? f.slice(0, f.lastIndexOf('.')) : '') {
      target = root.querySelector(`.field-error[data-for="${CSS.escape(f)}"]`);
      if (target) break;
    }
    if (!target) { loose.push(field ? `${field}: ${e.reason}` : e.reason); continue; }
    target.textContent = (target.textContent ? target.textContent + '; ' : '') + e.reason;
    const input = root.querySelector(`[data-path="${CSS.escape(target.dataset.for)}"]`);
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  if (loose.length) $('risk-config-error').textContent = loose.join('; ');
}

async function save() {
  const note = $('risk-config-note').value.trim();
  $('risk-config-error').textContent = '';
  errors = [];
  showErrors();
  if (!note) {
    $('risk-config-error').textContent = t('rc_note_required');
    $('risk-config-note').focus();
    return;
  }
  const cfg = readForm();
  const btn = $('risk-config-save');
  btn.disabled = true;
  try {
    record = await call('/api/v1/risk/config', { method: 'PUT', body: { config: cfg, note } });
    $('risk-config-note').value = '';
    toast(t('rc_saved', { id: record.id }), 'ok');
    drawMeta();
    drawForm();
  } catch (err) {
    // The server's words are in #toast; each field it names is marked beside its input.
    const list = (err.problem && Array.isArray(err.problem.errors)) ? err.problem.errors : [];
    errors = list.map((e) => ({ field: e.field || '', reason: e.reason || '' }));
    $('risk-config-error').textContent = errors.length ? t('rc_refused') : err.message;
    showErrors();
  } finally {
    btn.disabled = false;
  }
}

async function runRecompute() {
  const btn = $('risk-recompute');
  const out = $('risk-recompute-result');
  btn.disabled = true;
  out.dataset.state = 'loading';
  out.textContent = t('busy');
  try {
    const snap = await call('/api/v1/risk/snapshots', { method: 'POST', quiet: true });
    recompute = { ok: true, snapshot: snap };
  } catch (err) {
    recompute = { ok: false, message: err.message };
  } finally {
    btn.disabled = false;
  }
  runs = await loadRuns();
  drawRecompute();
  drawRuns();
}

function drawRecompute() {
  const out = $('risk-recompute-result');
  if (!recompute) return;
  out.dataset.state = recompute.ok ? 'ok' : 'error';
  out.className = recompute.ok ? 'ok' : 'error';
  if (recompute.ok) {
    const s = recompute.snapshot;
    out.dataset.id = s.id;
    out.textContent = t('rc_recompute_ok', { id: s.id, d: s.taken_on, c: s.cells, ms: s.duration_ms });
  } else {
    out.dataset.id = '';
    out.textContent = t('rc_recompute_failed', { e: recompute.message });
  }
}

function drawRuns() {
  const ul = $('risk-runs');
  const list = runs ? (Array.isArray(runs) ? runs : Object.values(runs).find(Array.isArray) || []) : [];
  ul.innerHTML = list.slice(0, 10).map((r) => {
    const state = r.error ? `<span class="warn">${esc(r.error)}</span>`
      : r.snapshot_id ? esc(t('rc_run_ok', { id: r.snapshot_id })) : esc(t('rc_run_running'));
    return `<li data-id="${esc(r.id)}" data-failed="${r.error ? 'true' : 'false'}">${esc(fmtDate(r.started_at))} · ${esc(r.trigger || '')} · ${esc(r.requested_by || '')}<br><small>${state}</small></li>`;
  }).join('');
}
