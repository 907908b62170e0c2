// Enterprise dossier 一企一档: one enterprise's file over the map (GET
// /api/v1/enterprises/{id}/dossier): attributes, place, inspections, hazards with their
// steps, risk level changes, nearest fire stations, nearby pipelines and gas occupancy
// sites; printable on A4 (dossier.css) and downloadable as Excel. Any element with
// data-dossier="<id or USCC>" opens it (dossierButton writes one); hooks in web/CONTRACT.md.
import './dossier.css';
import { Popup } from 'maplibre-gl';
import { api, call, download, esc, qs } from './api.js';
import { addStrings, t, tv, fmtDate, fmtNum, onLangChange } from './i18n.js';

addStrings({
  dossier_open: ['一企一档', 'Dossier'],
  dossier_title: ['企业档案（一企一档）', 'Enterprise dossier'],
  dossier_print: ['打印', 'Print'],
  dossier_xlsx: ['导出 Excel', 'Export Excel'],
  dossier_close: ['返回地图', 'Back to the map'],
  dossier_radius: ['周边范围（米）', 'Radius (m)'],
  dossier_apply: ['刷新', 'Refresh'],
  dossier_basic: ['基本信息', 'Attributes'],
  dossier_place: ['位置与网格', 'Location and grid'],
  dossier_inspections: ['检查记录', 'Inspections'],
  dossier_hazards: ['隐患', 'Hazards'],
  dossier_risk: ['风险等级变更', 'Risk level changes'],
  dossier_stations: ['最近消防站', 'Nearest fire stations'],
  dossier_pipelines: ['周边管线', 'Pipelines nearby'],
  dossier_gas: ['周边燃气占压', 'Gas occupancy sites nearby'],
  dossier_none: ['无', 'None'],
  dossier_generated: ['生成时间', 'Generated'],
  dossier_uscc: ['统一社会信用代码', 'USCC'],
  dossier_name: ['企业名称', 'Name'],
  dossier_employees: ['从业人员', 'Employees'],
  dossier_major_hazard: ['重大危险源', 'Major hazard source'],
  dossier_district: ['区', 'District'],
  dossier_street: ['街道', 'Street'],
  dossier_community: ['居委/村', 'Community'],
  dossier_lonlat: ['经纬度', 'Lon/lat'],
  dossier_cell: ['H3 网格单元', 'H3 cell'],
  dossier_unit: ['网格', 'Grid unit'],
  dossier_officer: ['网格员', 'Officer'],
  dossier_updated: ['更新时间', 'Updated'],
  dossier_at: ['时间', 'When'],
  dossier_result: ['结果', 'Result'],
  dossier_found: ['发现隐患', 'Found'],
  dossier_inspector: ['检查人', 'Inspector'],
  dossier_notes: ['备注', 'Notes'],
  dossier_link: ['关联', 'Link'],
  dossier_link_feature: ['关联企业', 'Tied to it'],
  dossier_link_location: ['位于企业', 'At its site'],
  dossier_distance: ['距离（米）', 'Distance (m)'],
  dossier_steps: ['处理记录', 'Steps'],
  dossier_from: ['原等级', 'From'],
  dossier_to: ['新等级', 'To'],
  dossier_actor: ['操作人', 'By'],
  dossier_first: ['首次', 'First'],
  dossier_minutes: ['出警时间（分钟）', 'Response (min)'],
  dossier_in_reach: ['{m} 分钟可达', 'Within {m} min'],
  dossier_travel: ['出警模型：直线距离 × {d} ÷ {s} km/h，{m} 分钟可达 {r} 米', 'Travel model: straight line × {d} at {s} km/h; {m} min reach {r} m'],
  dossier_medium: ['介质', 'Medium'],
  dossier_pressure: ['压力', 'Pressure'],
  dossier_diameter: ['管径（毫米）', 'Diameter (mm)'],
  dossier_operator: ['运营单位', 'Operator'],
  dossier_occupant: ['占压单位', 'Occupant'],
  dossier_pipeline: ['管线编号', 'Pipeline'],
  dossier_closed_at: ['销号时间', 'Closed'],
  dossier_locate: ['在地图上查看', 'Show on the map'],
  dossier_label: ['名称', 'Name'],
  dossier_checkin: ['签到', 'Check-in'],
  dossier_checkin_located: ['已定位', 'Located'],
  dossier_checkin_far: ['距离过远', 'Far'],
  dossier_checkin_inaccurate: ['精度不足', 'Inaccurate'],
  dossier_checkin_unlocated: ['未定位', 'Unlocated'],
  dossier_checkin_detail: ['距企业 {m} 米，精度 ±{a} 米', '{m} m from it, ±{a} m'],
  dossier_photos: ['照片', 'Photos'],
  dossier_photo_far: ['拍摄位置距离过远', 'taken far away'],
  // licences 证照
  dossier_licences: ['证照', 'Licences'],
  dossier_licence_type: ['证照类型', 'Type'],
  dossier_licence_number: ['证书编号', 'Number'],
  dossier_licence_authority: ['发证机关', 'Issued by'],
  dossier_licence_issued: ['发证日期', 'Issued on'],
  dossier_licence_until: ['有效期至', 'Valid until'],
  dossier_licence_status: ['状态', 'Status'],
  dossier_licence_valid: ['有效', 'Valid'],
  dossier_licence_expiring: ['即将到期（{n} 天）', 'Expiring ({n} days)'],
  dossier_licence_expired: ['已过期（{n} 天）', 'Expired ({n} days ago)'],
  dossier_licence_today: ['按 {d}（上海）计算', 'As of {d} (Shanghai)'],
  'licence_安全生产许可证': ['安全生产许可证', 'Work safety licence'],
  'licence_危险化学品经营许可证': ['危险化学品经营许可证', 'Hazardous chemicals trading licence'],
  'licence_危险化学品安全使用许可证': ['危险化学品安全使用许可证', 'Hazardous chemicals safe-use licence'],
  'licence_危险化学品登记证': ['危险化学品登记证', 'Hazardous chemicals registration'],
  'licence_非药品类易制毒化学品经营备案证明': ['非药品类易制毒化学品经营备案证明', 'Non-pharmaceutical precursor chemicals trading record'],
  licence_其他: ['其他', 'Other'],
});

let current = null; // the last answer drawn
let hooksRef = null;

function root() {
  let el = document.getElementById('dossier');
  if (!el) {
    el = document.createElement('section');
    el.id = 'dossier';
    el.hidden = true;
    el.setAttribute('aria-labelledby', 'dossier-heading');
    document.body.appendChild(el);
  }
  return el;
}

// initDossier installs the hooks and the page-wide opener of [data-dossier] elements.
export function initDossier(hooks) {
  hooksRef = hooks;
  hooks.openDossier = (key, opts) => openDossier(key, opts);
  hooks.dossier = () => current;
  // Capture: the button wins over the list item around it (which would do its own thing).
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('button[data-dossier], a[data-dossier]');
    if (!b) return;
    e.preventDefault();
    e.stopPropagation();
    openDossier(b.dataset.dossier);
  }, true);
  onLangChange(() => { if (current && !root().hidden) render(); });
}

// dossierButton is the markup of a button that opens key's dossier.
export function dossierButton(key) {
  return `<button type="button" class="dossier-open" data-dossier="${esc(key)}">${esc(t('dossier_open'))}</button>`;
}

// enterprisePopups makes a click on an enterprise of the map (layer enterprises-point) show
// a popup with its name and the dossier button, unless a layer of before is hit too (that
// click is the view's own).
export function enterprisePopups(map, before = []) {
  let popup = null;
  map.on('click', 'enterprises-point', (e) => {
    if (before.length && map.queryRenderedFeatures(e.point, { layers: before.filter((id) => map.getLayer(id)) }).length) return;
    const p = e.features[0].properties;
    if (!p.uscc) return;
    if (popup) popup.remove();
    popup = new Popup({ maxWidth: '260px', className: 'enterprise-popup' }).setLngLat(e.lngLat)
      .setHTML(`<b>${esc(p.name || p.uscc)}</b><br><small>${esc(p.uscc)} · ${esc(tv('risk_', p.risk_level))}</small><br>${dossierButton(p.uscc)}`)
      .addTo(map);
  });
  map.on('mouseenter', 'enterprises-point', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'enterprises-point', () => { map.getCanvas().style.cursor = ''; });
}

// openDossier reads and shows the dossier of key (id or USCC); it resolves with the API's
// answer, or null after showing the server's words (#dossier[data-state="error"]).
export async function openDossier(key, { radius } = {}) {
  const el = root();
  el.hidden = false;
  document.body.dataset.dossierOpen = 'true';
  el.dataset.state = 'loading';
  const r = radius ?? (current && String(current.enterprise.id) === String(key) ? current.radius_m : undefined);
  try {
    current = await call(`/api/v1/enterprises/${encodeURIComponent(key)}/dossier${qs({ radius_m: r })}`);
  } catch (err) {
    el.dataset.state = 'error';
    el.innerHTML = `<div class="dossier-bar"><button id="dossier-close" type="button">${esc(t('dossier_close'))}</button></div>` +
      `<p class="error">${esc(err.message)}</p>`;
    el.querySelector('#dossier-close').addEventListener('click', closeDossier);
    return null;
  }
  render();
  return current;
}

export function closeDossier() {
  root().hidden = true;
  document.body.dataset.dossierOpen = '';
  if (hooksRef && hooksRef.map) hooksRef.map.resize();
}

const dash = (v) => (v === null || v === undefined || v === '' ? '—' : v);
const who = (o) => (o ? (o.display_name ? `${o.display_name} (${o.username})` : o.username) : '—');

function table(id, head, rows, attrs) {
  if (!rows.length) return `<p class="muted" id="${id}-none">${esc(t('dossier_none'))}</p>` + `<table id="${id}" class="grid-table" hidden><tbody></tbody></table>`;
  return `<table id="${id}" class="grid-table"><thead><tr>${head.map((h) => `<th>${esc(t(h))}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r, i) => `<tr ${attrs(i)}>${r.map((c) => (typeof c === 'object' && c !== null ? `<td ${c.attr || ''}>${c.html ?? esc(c.text)}</td>` : `<td>${esc(dash(c))}</td>`)).join('')}</tr>`).join('') +
    '</tbody></table>';
}

function kvList(id, rows) {
  return `<dl class="kv" id="${id}">` + rows.map(([k, v, key]) => `<dt>${esc(t(k))}</dt><dd${key ? ` data-field="${key}"` : ''}>${esc(dash(v))}</dd>`).join('') + '</dl>';
}

function render() {
  const d = current;
  const e = d.enterprise;
  const loc = d.location;
  const el = root();
  el.dataset.state = 'ok';
  el.dataset.id = e.id;
  el.dataset.uscc = e.uscc;
  const area = (name, code) => (code ? `${name || ''} ${code}`.trim() : '—');
  const unit = loc.unit ? `${loc.unit.name} (${loc.unit.code})` : '—';
  const tr = d.travel;
  el.innerHTML = `
<div class="dossier-bar">
  <button id="dossier-close" type="button">${esc(t('dossier_close'))}</button>
  <button id="dossier-locate" type="button">${esc(t('dossier_locate'))}</button>
  <label>${esc(t('dossier_radius'))} <input id="dossier-radius" type="number" min="1" max="2000" step="50" value="${d.radius_m}"></label>
  <button id="dossier-radius-apply" type="button">${esc(t('dossier_apply'))}</button>
  <span class="grow"></span>
  <button id="dossier-print" type="button">${esc(t('dossier_print'))}</button>
  <button id="dossier-xlsx" type="button">${esc(t('dossier_xlsx'))}</button>
</div>
<article class="dossier-doc">
<header><h2 id="dossier-heading">${esc(t('dossier_title'))}</h2>
<h3 id="dossier-name">${esc(e.name)}</h3>
<p class="muted">${esc(t('dossier_uscc'))} ${esc(e.uscc)} · ${esc(t('dossier_generated'))} ${esc(fmtDate(d.generated_at))}</p></header>
<section><h4>${esc(t('dossier_basic'))}</h4>${kvList('dossier-enterprise', [
    ['dossier_name', e.name, 'name'], ['dossier_uscc', e.uscc, 'uscc'], ['f_industry', e.industry, 'industry'],
    ['f_risk_level', tv('risk_', e.risk_level), 'risk_level'], ['dossier_major_hazard', e.major_hazard ? t('yes') : t('no'), 'major_hazard'],
    ['dossier_employees', e.employees, 'employees'], ['f_address', e.address, 'address'], ['dossier_updated', fmtDate(e.updated_at), 'updated_at'],
  ])}</section>
<section><h4>${esc(t('dossier_place'))}</h4>${kvList('dossier-location', [
    ['dossier_district', area(e.district_name, e.district_code), 'district'], ['dossier_street', area(e.street_name, e.street_code), 'street'],
    ['dossier_community', area(e.community_name, e.community_code), 'community'],
    ['dossier_lonlat', `${loc.lon.toFixed(6)}, ${loc.lat.toFixed(6)}`, 'lonlat'], ['dossier_cell', loc.cell, 'cell'],
    ['dossier_unit', unit, 'unit'], ['dossier_officer', who(loc.unit && loc.unit.officer), 'officer'],
  ])}</section>
<section><h4>${esc(t('dossier_licences'))} (<span id="dossier-licences-count">${(d.licences || []).length}</span>)</h4>
<p class="muted" id="dossier-licences-today">${esc(t('dossier_licence_today', { d: d.today }))}</p>${licencesTable(d.licences || [])}</section>
<section><h4>${esc(t('dossier_inspections'))} (<span id="dossier-inspections-count">${d.inspections.length}</span>)</h4>${table('dossier-inspections',
    ['dossier_at', 'dossier_result', 'dossier_found', 'dossier_inspector', 'dossier_notes', 'dossier_checkin', 'dossier_photos'],
    d.inspections.map((i) => [fmtDate(i.inspected_at), tv('result_', i.result), i.hazards_found, who(i.officer), i.notes,
      { text: checkinText(i.checkin), attr: `data-metric="checkin" data-value="${esc(i.checkin.status)}"` },
      { html: photosHTML(i.photos), attr: `data-metric="photos" data-value="${i.photos.length}"` }]),
    (i) => `data-id="${d.inspections[i].id}"`)}</section>
<section><h4>${esc(t('dossier_hazards'))} (<span id="dossier-hazards-count">${d.hazards.length}</span>)</h4>${hazardsTable(d.hazards)}</section>
<section><h4>${esc(t('dossier_risk'))}</h4>${table('dossier-risk', ['dossier_at', 'dossier_from', 'dossier_to', 'dossier_actor'],
    d.risk_levels.map((r) => [fmtDate(r.at), r.from ? tv('risk_', r.from) : t('dossier_first'), tv('risk_', r.to), r.actor]),
    (i) => `data-to="${esc(d.risk_levels[i].to)}"`)}</section>
<section><h4>${esc(t('dossier_stations'))}</h4>
<p class="muted" id="dossier-travel">${esc(t('dossier_travel', { d: tr.detour, s: tr.speed_kmh, m: tr.minutes, r: fmtNum(tr.reach_m, 1) }))}</p>
${table('dossier-stations', ['code', 'dossier_label', 'f_type', 'dossier_distance', 'dossier_minutes', 'dossier_in_reach'],
    d.fire_stations.map((s) => [s.code, s.name, s.type,
      { text: fmtNum(s.distance_m, 1), attr: `data-metric="distance_m" data-value="${s.distance_m}"` },
      { text: fmtNum(s.minutes, 2), attr: `data-metric="minutes" data-value="${s.minutes}"` },
      { text: s.in_reach ? t('yes') : t('no'), attr: `data-metric="in_reach" data-value="${s.in_reach}"` }]),
    (i) => `data-code="${esc(d.fire_stations[i].code)}"`).replace(esc(t('dossier_in_reach')), esc(t('dossier_in_reach', { m: tr.minutes })))}</section>
<section><h4>${esc(t('dossier_pipelines'))} (${esc(t('dossier_radius'))} ${d.radius_m})</h4>${table('dossier-pipelines',
    ['code', 'dossier_label', 'dossier_medium', 'dossier_pressure', 'dossier_diameter', 'dossier_operator', 'dossier_distance'],
    d.pipelines.map((p) => [p.code, p.name, tv('', p.medium), p.pressure, p.diameter_mm, p.operator,
      { text: fmtNum(p.distance_m, 1), attr: `data-metric="distance_m" data-value="${p.distance_m}"` }]),
    (i) => `data-code="${esc(d.pipelines[i].code)}"`)}</section>
<section><h4>${esc(t('dossier_gas'))}</h4>${table('dossier-gas',
    ['code', 'dossier_occupant', 'status', 'dossier_pipeline', 'deadline', 'dossier_distance'],
    d.gas_occupancy_sites.map((g) => [g.code, g.occupant, g.status, g.pipeline_code, g.deadline,
      { text: fmtNum(g.distance_m, 1), attr: `data-metric="distance_m" data-value="${g.distance_m}"` }]),
    (i) => `data-code="${esc(d.gas_occupancy_sites[i].code)}"`)}</section>
</article>`;
  loadThumbs(el);
  el.querySelector('#dossier-close').addEventListener('click', closeDossier);
  el.querySelector('#dossier-print').addEventListener('click', () => window.print());
  el.querySelector('#dossier-locate').addEventListener('click', () => {
    closeDossier();
    const m = hooksRef && hooksRef.map;
    if (m) m.jumpTo({ center: [loc.lon, loc.lat], zoom: Math.max(m.getZoom(), 16) });
  });
  el.querySelector('#dossier-xlsx').addEventListener('click', () =>
    download(`/api/v1/enterprises/${e.id}/dossier${qs({ format: 'xlsx', radius_m: d.radius_m })}`, `dossier-${e.uscc}.xlsx`));
  const apply = () => openDossier(e.id, { radius: el.querySelector('#dossier-radius').value.trim() });
  el.querySelector('#dossier-radius-apply').addEventListener('click', apply);
  el.querySelector('#dossier-radius').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') apply(); });
}

function hazardsTable(hazards) {
  if (!hazards.length) return `<p class="muted" id="dossier-hazards-none">${esc(t('dossier_none'))}</p><table id="dossier-hazards" hidden><tbody></tbody></table>`;
  const head = ['code', 'level', 'category', 'description', 'status', 'deadline', 'reported_at', 'dossier_closed_at', 'dossier_link', 'dossier_distance'];
  return `<table id="dossier-hazards" class="grid-table"><thead><tr>${head.map((h) => `<th>${esc(t(h))}</th>`).join('')}</tr></thead><tbody>` +
    hazards.map((h) => `<tr data-id="${h.id}" data-status="${esc(h.status)}" data-link="${esc(h.link)}">` +
      [h.code, tv('lvl_', h.level), h.category, h.description, tv('status_', h.status) + (h.overdue ? ` · ${t('overdue')}` : ''),
        h.deadline, fmtDate(h.reported_at), h.closed_at ? fmtDate(h.closed_at) : null, t('dossier_link_' + h.link)]
        .map((c) => `<td>${esc(dash(c))}</td>`).join('') +
      `<td data-metric="distance_m" data-value="${h.distance_m}">${esc(fmtNum(h.distance_m, 1))}</td></tr>` +
      `<tr class="steps" data-steps-of="${h.id}"><td colspan="${head.length}"><ol class="history">` +
      h.steps.map((s) => `<li data-step="${esc(s.to_status)}">${esc(fmtDate(s.at))} · <b>${esc(s.actor_name ? `${s.actor_name} (${s.actor})` : s.actor)}</b>: ` +
        `${esc(s.from_status ? tv('status_', s.from_status) + ' → ' : '')}${esc(tv('status_', s.to_status))}${s.note ? ' — ' + esc(s.note) : ''}` +
        `${s.photos.length ? photosHTML(s.photos) : ''}</li>`).join('') +
      '</ol></td></tr>').join('') + '</tbody></table>';
}

// licencesTable lists the licences 证照, an expired one marked red and an expiring one
// amber (dossier.css).
function licencesTable(licences) {
  const status = (l) => (l.status === 'valid' ? t('dossier_licence_valid')
    : t('dossier_licence_' + l.status, { n: Math.abs(l.days_left) }));
  return table('dossier-licences',
    ['dossier_licence_type', 'dossier_licence_number', 'dossier_licence_authority', 'dossier_licence_issued', 'dossier_licence_until', 'dossier_licence_status'],
    licences.map((l) => [tv('licence_', l.type), l.number, l.authority, l.issued_on, l.valid_until,
      { text: status(l), attr: `class="licence-status licence-${esc(l.status)}" data-metric="status" data-value="${esc(l.status)}"` }]),
    (i) => `data-type="${esc(licences[i].type)}" data-number="${esc(licences[i].number)}" data-status="${esc(licences[i].status)}"`);
}

function checkinText(c) {
  const s = t('dossier_checkin_' + c.status);
  return c.distance_m != null ? `${s} (${t('dossier_checkin_detail', { m: fmtNum(c.distance_m), a: fmtNum(c.accuracy_m) })})` : s;
}

// photosHTML lists photos as thumbnails, which loadThumbs fetches with the caller's token
// (an <img> cannot send it).
function photosHTML(photos) {
  if (!photos.length) return '—';
  return '<span class="dossier-photos">' + photos.map((p) =>
    `<img class="dossier-thumb${p.far ? ' far' : ''}" data-photo="${p.id}" data-thumb="${esc(p.thumb_url)}" alt="${esc(t('dossier_photos'))} ${p.id}"` +
    ` title="${esc(p.taken_at ? fmtDate(p.taken_at) : '')}${p.far ? ' · ' + esc(t('dossier_photo_far')) : ''}" width="64" height="48">`).join('') + '</span>';
}

const thumbs = new Map(); // thumbnail URL -> object URL, for the page's life

async function loadThumbs(el) {
  for (const img of el.querySelectorAll('img[data-thumb]')) {
    const url = img.dataset.thumb;
    if (!thumbs.has(url)) {
      thumbs.set(url, api(url).then((r) => (r.ok ? r.blob() : null)).then((b) => (b ? URL.createObjectURL(b) : '')).catch(() => ''));
    }
    thumbs.get(url).then((src) => { if (src) { img.src = src; img.dataset.loaded = 'true'; } });
  }
}
