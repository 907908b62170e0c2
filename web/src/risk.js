// Risk map 风险四色图 (docs/RISK.md): for street offices, district bureaus, planners and
// admins, opened from the top bar (#risk-toggle), which swaps the side bar to #view-risk and
// the map to the risk layers (GET /api/v1/risk/tiles.json: areas by zoom, cells at high
// zoom, coloured 红橙黄蓝). The ranked areas of a level with their change since the previous
// snapshot, a click (on the map or a row) for an area's or a cell's breakdown, the trend
// between two snapshot dates (GET /risk/compare) with the areas that went up outlined, the
// early warnings 预警 (acknowledge and close with a note), the joint-control zone 联动联控区
// switch (zone= on every read) with the zone's major hazard installations, and the list's
// XLSX and GeoJSON. Every read is the caller's own scope; the server decides it.
import { call, download, esc, qs, toast } from './api.js';
import { addStrings, t, tv, fmtNum, fmtPct, fmtDate, onLangChange } from './i18n.js';
import { addLayerOnce, bboxOf, fitTo, setGeoJSON, emptyFC, point, SHANGHAI } from './map.js';
import { showPanel, panelLoading, panelError, closePanel, revealMap } from './ui.js';
import { dossierButton } from './dossier.js'; // enterprise dossier
import { showPage } from './console.js';
import { riskConfig } from './riskconfig.js'; // the admin's configuration editor

addStrings({
  rk_toggle: ['风险四色图', 'Risk map'],
  rk_toggle_short: ['四色图', 'Risk'],
  rk_title: ['风险四色图', 'Four-colour risk map'],
  rk_scope_all: ['全市', 'Whole city'],
  rk_snapshot: ['快照日期', 'Snapshot of'],
  rk_no_snapshot: ['尚无风险快照', 'No risk snapshot yet'],
  rk_previous: ['对比上期 {d}', 'against {d}'],
  rk_red: ['重大风险', 'Major risk'],
  rk_orange: ['较大风险', 'Considerable risk'],
  rk_yellow: ['一般风险', 'Moderate risk'],
  rk_blue: ['低风险', 'Low risk'],
  rk_c_red: ['红', 'red'],
  rk_c_orange: ['橙', 'orange'],
  rk_c_yellow: ['黄', 'yellow'],
  rk_c_blue: ['蓝', 'blue'],
  rk_colour_label: ['{l}（{c}）', '{l} ({c})'],
  rk_rise_legend: ['上升一级的区域', 'Rose a colour'],
  rk_major_legend: ['重大危险源（联动联控区）', 'Major hazard installations (zone)'],
  rk_zone: ['联动联控区', 'Joint-control zone'],
  rk_zone_own: ['本辖区', 'My own area'],
  rk_zone_major: ['区内重大危险源（有未销号或逾期隐患）', 'Major hazard installations in the zone (open or overdue hazards)'],
  rk_zone_major_none: ['无', 'None'],
  rk_zone_open: ['未销号 {n}', '{n} open'],
  rk_zone_overdue: ['逾期 {n}', '{n} overdue'],
  rk_zone_major_overdue: ['重大隐患逾期 {n}', '{n} 重大 overdue'],
  rk_zone_warnings: ['未关闭预警 {n}', '{n} open warnings'],
  rk_zone_cell: ['所在单元', 'its cell'],
  rk_areas_title: ['区域风险排名', 'Areas ranked by risk'],
  rk_level: ['层级', 'Level'],
  rk_level_district: ['区', 'Districts'],
  rk_level_street: ['街道/镇', 'Streets and towns'],
  rk_level_community: ['居委/村', 'Communities'],
  rk_col_rank: ['排名', 'Rank'],
  rk_col_area: ['区域', 'Area'],
  rk_col_colour: ['等级', 'Level'],
  rk_col_score: ['风险值', 'Score'],
  rk_col_change: ['变化', 'Change'],
  rk_change_up: ['上升', 'up'],
  rk_change_down: ['下降', 'down'],
  rk_change_same: ['持平', 'same'],
  rk_change_new: ['新增', 'new'],
  rk_change_removed: ['已撤销', 'removed'],
  rk_export_xlsx: ['导出 Excel', 'Export Excel'],
  rk_export_geojson: ['导出 GeoJSON', 'Export GeoJSON'],
  rk_exported: ['已导出', 'Exported'],
  rk_trend_title: ['风险趋势', 'Trend'],
  rk_from: ['从', 'From'],
  rk_to: ['至', 'To'],
  rk_compare_run: ['对比', 'Compare'],
  rk_compare_heading: ['上升一级的街镇', 'Areas that rose a colour'],
  rk_compare_summary: ['{f} → {t}：{n} 个区域变化，其中 {u} 个上升一级', '{f} → {t}: {n} areas changed, {u} rose a colour'],
  rk_compare_none: ['两个快照之间没有变化', 'No change between the two snapshots'],
  rk_col_from_to: ['等级变化', 'Colour'],
  rk_col_reason: ['原因', 'Reason'],
  rk_warnings_title: ['预警', 'Early warnings'],
  rk_warn_status: ['状态', 'Status'],
  rk_ws_new: ['新预警', 'New'],
  rk_ws_acknowledged: ['已确认', 'Acknowledged'],
  rk_ws_closed: ['已关闭', 'Closed'],
  rk_rule_colour_rise: ['升色预警', 'Colour rise'],
  rk_rule_turned_red: ['转为红色', 'Turned red'],
  rk_rule_major_hazard_overdue: ['重大危险源隐患逾期', 'Major hazard installation overdue'],
  rk_rule_hazard_burst: ['隐患集中出现', 'Hazard burst'],
  rk_warn_none: ['没有预警', 'No warnings'],
  rk_warn_ack: ['确认', 'Acknowledge'],
  rk_warn_close: ['关闭', 'Close'],
  rk_warn_note: ['说明（必填）', 'Note (required)'],
  rk_warn_submit_ack: ['确认预警', 'Acknowledge'],
  rk_warn_submit_close: ['关闭预警', 'Close warning'],
  rk_warn_cancel: ['取消', 'Cancel'],
  rk_warn_note_required: ['请填写说明', 'A note is required'],
  rk_warn_acked: ['预警已确认', 'Warning acknowledged'],
  rk_warn_closed: ['预警已关闭', 'Warning closed'],
  rk_warn_raised: ['发出', 'Raised'],
  rk_warn_ack_by: ['{u} 于 {d} 确认：{n}', 'Acknowledged by {u} on {d}: {n}'],
  rk_warn_close_by: ['{u} 于 {d} 关闭：{n}', 'Closed by {u} on {d}: {n}'],
  rk_bd_area: ['区域风险构成', 'Area risk breakdown'],
  rk_bd_cell: ['网格单元风险构成', 'Cell risk breakdown'],
  rk_bd_score: ['风险值', 'Score'],
  rk_bd_colour: ['风险等级', 'Colour'],
  rk_bd_score_colour: ['按分值', 'By score'],
  rk_bd_floor: ['企业等级下限', 'Enterprise floor'],
  rk_bd_floor_lifted: ['{c}（区域内最高企业风险等级，高于按分值的{s}）', '{c} (the highest enterprise risk level inside, above {s} by score)'],
  rk_bd_rank: ['排名', 'Rank'],
  rk_bd_previous: ['上期', 'Previous'],
  rk_bd_own: ['本格分值', 'Own points'],
  rk_bd_spill: ['邻域溢出', 'Spill-over'],
  rk_bd_fire: ['消防响应（分钟）', 'Fire response (min)'],
  rk_bd_parts: ['分项', 'Parts'],
  rk_bd_counts: ['计数', 'Counts'],
  rk_bd_top: ['主要风险来源', 'Top contributors'],
  rk_bd_top_none: ['无', 'None'],
  rk_part_enterprises: ['企业', 'Enterprises'],
  rk_part_hazards: ['隐患', 'Hazards'],
  rk_part_pipelines: ['油气管道', 'Pipelines'],
  rk_part_gas_sites: ['燃气占压', 'Gas occupancy sites'],
  rk_part_underground: ['地下空间', 'Underground spaces'],
  rk_part_spill: ['邻域溢出', 'Spill-over'],
  rk_bd_fire_factor: ['消防响应加权', 'Fire response factor'],
  rk_bd_cells: ['网格单元等级分布', 'Cells by colour'],
  rk_count_enterprises: ['企业（按风险等级）', 'Enterprises by risk level'],
  rk_count_major_hazards: ['重大危险源', 'Major hazard installations'],
  rk_count_hazchem: ['危化品企业', 'Hazardous-chemical enterprises'],
  rk_count_hazards_open: ['未销号隐患', 'Open hazards'],
  rk_count_hazards_overdue: ['逾期隐患', 'Overdue hazards'],
  rk_count_hazards_major_open: ['未销号重大隐患', 'Open 重大 hazards'],
  rk_count_pipeline_km: ['油气管道（公里）', 'Pipelines (km)'],
  rk_count_gas_sites: ['燃气占压点', 'Gas occupancy sites'],
  rk_count_underground_spaces: ['地下空间', 'Underground spaces'],
  rk_count_cells: ['网格单元', 'Cells'],
  rk_kind_enterprise: ['企业', 'Enterprise'],
  rk_kind_hazard: ['隐患', 'Hazard'],
  rk_kind_pipeline: ['管道', 'Pipeline'],
  rk_kind_gas_site: ['燃气占压点', 'Gas occupancy site'],
  rk_kind_underground_space: ['地下空间', 'Underground space'],
  rk_kind_spill: ['邻域溢出', 'Spill-over'],
  rk_points: ['{p} 分', '{p} points'],
  rk_cell_name: ['H3 单元 {h}', 'H3 cell {h}'],
});

// COLOURS are the four-colour map's colours, highest first.
export const COLOURS = { red: '#e53935', orange: '#fb8c00', yellow: '#fdd835', blue: '#1e88e5' };
const ORDER = ['red', 'orange', 'yellow', 'blue'];
const RANK = { red: 3, orange: 2, yellow: 1, blue: 0 };
const RISE = '#6a1b9a';
const MAJOR = '#4a148c'; // a zone's major hazard installations
const ARROWS = { up: '↑', down: '↓', same: '→', new: '＋', removed: '×' };
// PARTS are the components in the order of docs/RISK.md; a part the list does not know
// follows them. FACTORS are figures of parts that are not points (no bar).
const PARTS = ['enterprises', 'hazards', 'pipelines', 'gas_sites', 'underground', 'spill'];
const FACTORS = new Set(['fire_factor', 'fire_minutes']);
const WRITERS = ['district', 'street', 'admin']; // may acknowledge and close warnings
const ROLES = ['street', 'district', 'planner', 'admin'];
// Layers of the base map that stay visible under the risk layers.
const BASE = new Set(['water', 'land', 'community-line', 'street-line', 'district-line', 'label-community', 'label-street', 'label-district']);
const WARN_PAGE = 50;
const $ = (id) => document.getElementById(id);

const S = {
  me: null, map: null, hooks: null, open: false, started: null,
  level: 'street', zone: '', zones: [], snapshots: [],
  answer: null, // the last GET /risk/areas drawn
  compare: null, rises: [],
  warnings: null, warnOffset: 0,
  major: null,
  breakdown: null, // {kind, key, data}
  hidden: [], // role layers hidden while the risk map shows: [id, visibility]
  tilejson: null,
};

// initRisk shows #risk-toggle to the roles that read the risk map and installs the hooks.
export function initRisk({ me, map, hooks }) {
  if (!ROLES.includes(me.role)) return;
  S.me = me;
  S.map = map;
  S.hooks = hooks;
  S.level = me.role === 'street' ? 'community' : 'street';
  const toggle = $('risk-toggle');
  toggle.hidden = false;
  toggle.addEventListener('click', () => setOpen(!S.open).catch(() => {}));
  hooks.openRisk = () => setOpen(true);
  hooks.closeRisk = () => setOpen(false);
  hooks.risk = () => ({
    areas: S.answer, compare: S.compare, warnings: S.warnings, zone: S.zone, zones: S.zones,
    snapshots: S.snapshots, breakdown: S.breakdown && S.breakdown.data, major: S.major, tilejson: S.tilejson,
  });
  hooks.openRiskArea = (code) => openArea(code);
  hooks.openRiskCell = (h3) => openCell(h3);
  if (me.role === 'admin') hooks.riskConfig = () => riskConfig();
  document.body.dataset.view = 'role';
}

async function setOpen(on) {
  S.open = on;
  document.body.dataset.view = on ? 'risk' : 'role';
  $('risk-toggle').setAttribute('aria-pressed', on ? 'true' : 'false');
  $('view-' + S.me.role).hidden = on;
  $('view-risk').hidden = !on;
  closePanel();
  if (on && S.me.role === 'admin' && document.body.dataset.console && document.body.dataset.console !== 'map') await showPage('map');
  if (on) {
    if (!S.started) {
      S.started = start();
      S.started.catch(() => { S.started = null; });
    }
    await S.started;
    hideRoleLayers();
  } else {
    restoreRoleLayers();
  }
  setRiskVisibility(on);
}

function hideRoleLayers() {
  S.hidden = [];
  for (const l of S.map.getStyle().layers) {
    if (BASE.has(l.id) || l.id.startsWith('risk-')) continue;
    const v = S.map.getLayoutProperty(l.id, 'visibility') || 'visible';
    S.hidden.push([l.id, v]);
    S.map.setLayoutProperty(l.id, 'visibility', 'none');
  }
}

function restoreRoleLayers() {
  for (const [id, v] of S.hidden) if (S.map.getLayer(id)) S.map.setLayoutProperty(id, 'visibility', v);
  S.hidden = [];
}

function setRiskVisibility(on) {
  for (const l of S.map.getStyle().layers) {
    if (l.id.startsWith('risk-')) S.map.setLayoutProperty(l.id, 'visibility', on ? 'visible' : 'none');
  }
}

// start wires the view and draws its first data (once, on the first opening).
async function start() {
  $('risk-level').value = S.level;
  $('risk-level').addEventListener('change', () => {
    S.level = $('risk-level').value;
    Promise.all([loadAreas(), S.compare ? runCompare() : null]).catch(() => {});
  });
  $('risk-zone').addEventListener('change', () => setZone($('risk-zone').value).catch(() => {}));
  $('risk-xlsx').addEventListener('click', () => exportAs('xlsx'));
  $('risk-geojson').addEventListener('click', () => exportAs('geojson'));
  $('risk-compare-form').addEventListener('submit', (e) => { e.preventDefault(); runCompare().catch(() => {}); });
  $('risk-warn-status').addEventListener('change', () => { S.warnOffset = 0; loadWarnings().catch(() => {}); });
  $('risk-warn-prev').addEventListener('click', () => {
    if (S.warnOffset > 0) { S.warnOffset = Math.max(0, S.warnOffset - WARN_PAGE); loadWarnings().catch(() => {}); }
  });
  $('risk-warn-next').addEventListener('click', () => {
    if (S.warnings && S.warnOffset + WARN_PAGE < S.warnings.total) { S.warnOffset += WARN_PAGE; loadWarnings().catch(() => {}); }
  });
  $('risk-legend').addEventListener('click', (e) => { if (e.target.closest('h3')) $('risk-legend').classList.toggle('collapsed'); });
  if (window.matchMedia('(max-width: 760px)').matches) $('risk-legend').classList.add('collapsed');

  const [zones, snaps] = await Promise.all([
    call('/api/v1/risk/zones').then((z) => z.zones || []),
    call('/api/v1/risk/snapshots' + qs({ limit: 100 })).then((s) => s.snapshots || []),
  ]);
  S.zones = zones;
  S.snapshots = snaps;
  drawZones();
  fillDates();
  await addRiskLayers();
  wireMap();
  await Promise.all([loadAreas(), loadWarnings(), fitScope()]);
  onLangChange(() => { drawLegend(); drawAreas(); drawCompare(); drawWarnings(); drawZones(); drawMajor(); });
}

// ---- map --------------------------------------------------------------------------------

function colourExpr() {
  return ['match', ['get', 'colour'], ...ORDER.flatMap((c) => [c, COLOURS[c]]), '#bdbdbd'];
}

async function tileJSON() {
  const tj = await call('/api/v1/risk/tiles.json' + qs({ zone: S.zone }));
  S.tilejson = tj;
  // MapLibre needs absolute URLs; a zone's picture carries zone= on every tile.
  // (Strings, not URL objects: those would escape the template's {z}/{x}/{y}.)
  return (tj.tiles || []).map((u) => {
    let url = /^https?:\/\//.test(u) ? u : location.origin + (u.startsWith('/') ? '' : '/') + u;
    if (S.zone && !/[?&]zone=/.test(url)) url += (url.includes('?') ? '&' : '?') + 'zone=' + encodeURIComponent(S.zone);
    return url;
  });
}

async function addRiskLayers() {
  const map = S.map;
  const tiles = await tileJSON();
  const tj = S.tilejson;
  map.addSource('risk', {
    type: 'vector', tiles, minzoom: tj.minzoom ?? 0, maxzoom: tj.maxzoom ?? 16,
    ...(Array.isArray(tj.bounds) ? { bounds: tj.bounds } : {}),
    ...(tj.attribution ? { attribution: tj.attribution } : {}),
  });
  addLayerOnce(map, {
    id: 'risk-areas-fill', type: 'fill', source: 'risk', 'source-layer': 'risk_areas',
    paint: { 'fill-color': colourExpr(), 'fill-opacity': 0.55 },
  });
  addLayerOnce(map, {
    id: 'risk-areas-line', type: 'line', source: 'risk', 'source-layer': 'risk_areas',
    paint: { 'line-color': '#ffffff', 'line-width': 1 },
  });
  addLayerOnce(map, {
    id: 'risk-cells-fill', type: 'fill', source: 'risk', 'source-layer': 'risk_cells',
    paint: { 'fill-color': colourExpr(), 'fill-opacity': 0.6, 'fill-outline-color': 'rgba(255,255,255,0.6)' },
  });
  addLayerOnce(map, {
    id: 'risk-rise-line', type: 'line', source: 'risk', 'source-layer': 'risk_areas',
    filter: ['in', ['get', 'code'], ['literal', []]],
    paint: { 'line-color': RISE, 'line-width': 3.5, 'line-dasharray': [2, 1] },
  });
  addLayerOnce(map, {
    id: 'risk-selected-line', type: 'line', source: 'risk', 'source-layer': 'risk_areas',
    filter: ['==', ['get', 'code'], '__none__'],
    paint: { 'line-color': '#111111', 'line-width': 3 },
  });
  setGeoJSON(map, 'risk-major', emptyFC());
  addLayerOnce(map, {
    id: 'risk-major-point', type: 'circle', source: 'risk-major',
    paint: { 'circle-radius': 6, 'circle-color': MAJOR, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 },
  });
}

async function reloadTiles() {
  const tiles = await tileJSON();
  const src = S.map.getSource('risk');
  if (src && src.setTiles) src.setTiles(tiles);
}

function wireMap() {
  const map = S.map;
  map.on('click', (e) => {
    if (!S.open) return;
    const hit = map.queryRenderedFeatures(e.point, { layers: ['risk-cells-fill', 'risk-areas-fill'] });
    if (!hit.length) return;
    const f = hit[0];
    if (f.layer.id === 'risk-cells-fill') openCell(String(f.properties.h3));
    else openArea(String(f.properties.code));
  });
  for (const id of ['risk-cells-fill', 'risk-areas-fill']) {
    map.on('mouseenter', id, () => { if (S.open) map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
  }
}

// fitScope flies the map to the caller's own area (or the zone): the bounds of its
// outline as the API's GeoJSON gives it; planners and admins see the city.
async function fitScope() {
  let level = '';
  if (S.zone) level = 'district';
  else if (S.me.role === 'district') level = 'district';
  else if (S.me.role === 'street') level = 'street';
  if (!level) {
    fitTo(S.map, SHANGHAI);
    return;
  }
  const fc = await call('/api/v1/risk/areas' + qs({ level, zone: S.zone, format: 'geojson' }));
  const bbox = bboxOf(fc);
  if (bbox) fitTo(S.map, bbox);
}

function highlightRises() {
  if (!S.map.getLayer('risk-rise-line')) return;
  S.map.setFilter('risk-rise-line', ['in', ['get', 'code'], ['literal', S.rises]]);
}

function selectOnMap(code) {
  if (S.map.getLayer('risk-selected-line')) S.map.setFilter('risk-selected-line', ['==', ['get', 'code'], code || '__none__']);
}

// ---- legend -----------------------------------------------------------------------------

function drawLegend() {
  const el = $('risk-legend');
  const snap = S.answer && S.answer.snapshot;
  el.innerHTML = `<h3>${esc(t('legend'))}</h3>` +
    ORDER.map((c) => `<div class="legend-row" data-colour="${c}"><span class="swatch fill" style="--c:${COLOURS[c]}"></span>` +
      `<span>${esc(colourName(c))}</span></div>`).join('') +
    `<div class="legend-row" data-legend="rise"><span class="swatch line" style="--c:${RISE}"></span><span>${esc(t('rk_rise_legend'))}</span></div>` +
    (S.zone ? `<div class="legend-row" data-legend="major"><span class="swatch dot" style="--c:${MAJOR}"></span><span>${esc(t('rk_major_legend'))}</span></div>` : '') +
    `<p class="muted" id="risk-legend-date" data-id="${snap ? snap.id : ''}">${esc(t('rk_snapshot'))}: ${esc(snap ? snap.taken_on : t('rk_no_snapshot'))}</p>`;
  el.hidden = false;
}

// ---- zones ------------------------------------------------------------------------------

function drawZones() {
  const box = $('risk-zone-box');
  box.hidden = S.zones.length === 0;
  const sel = $('risk-zone');
  sel.innerHTML = `<option value="">${esc(t('rk_zone_own'))}</option>` +
    S.zones.map((z) => `<option value="${esc(z.code)}">${esc(z.name)}</option>`).join('');
  sel.value = S.zone;
}

async function setZone(code) {
  S.zone = code;
  S.warnOffset = 0;
  closePanel();
  S.breakdown = null;
  selectOnMap('');
  await reloadTiles();
  const jobs = [loadAreas(), loadWarnings(), fitScope(), loadMajor()]; // loadAreas redraws the legend
  if (S.compare) jobs.push(runCompare());
  await Promise.all(jobs);
}

// loadMajor reads the zone's major hazard installations 重大危险源 (none outside a zone).
async function loadMajor() {
  if (!S.zone) {
    S.major = null;
    setGeoJSON(S.map, 'risk-major', emptyFC());
    drawMajor();
    return;
  }
  const out = await call(`/api/v1/risk/zones/${encodeURIComponent(S.zone)}/major-hazards`);
  S.major = out;
  const items = listOf(out);
  setGeoJSON(S.map, 'risk-major', {
    type: 'FeatureCollection',
    features: items.map((m) => lonLat(m)).filter(Boolean).map(([lon, lat], i) => point(lon, lat, { i })),
  });
  drawMajor();
}

// listOf is the zone's major hazard installations in the answer {zone, major_hazards}.
function listOf(out) {
  return (out && out.major_hazards) || [];
}

function lonLat(m) {
  return typeof m.lon === 'number' && typeof m.lat === 'number' ? [m.lon, m.lat] : null;
}

function drawMajor() {
  const box = $('risk-major');
  box.hidden = !S.zone;
  if (!S.zone || !S.major) return;
  const items = listOf(S.major);
  const ul = $('risk-major-list');
  $('risk-major-total').textContent = items.length;
  if (!items.length) {
    ul.innerHTML = `<li class="muted" id="risk-major-none">${esc(t('rk_zone_major_none'))}</li>`;
    return;
  }
  ul.innerHTML = items.map((m) => {
    const figures = [t('rk_zone_open', { n: m.open_hazards }), t('rk_zone_overdue', { n: m.overdue_hazards }),
      m.major_overdue_hazards ? t('rk_zone_major_overdue', { n: m.major_overdue_hazards }) : '',
      m.open_warnings ? t('rk_zone_warnings', { n: m.open_warnings }) : ''].filter(Boolean).join(' · ');
    return `<li data-id="${esc(m.id)}" data-uscc="${esc(m.uscc)}" data-open="${m.open_hazards}" data-overdue="${m.overdue_hazards}">` +
      `${swatch(m.risk_colour)}<b>${esc(m.name)}</b> <small>${esc([m.uscc, m.industry, tv('risk_', m.risk_level), m.district_code, m.street_code].filter(Boolean).join(' · '))}` +
      `${m.cell_colour ? ' · ' + esc(t('rk_zone_cell')) + ' ' + swatch(m.cell_colour) + esc(t('rk_c_' + m.cell_colour)) : ''}` +
      `<br><span class="${m.overdue_hazards ? 'warn' : ''}">${esc(figures)}</span></small> ${dossierButton(m.id)}</li>`;
  }).join('');
  ul.querySelectorAll('li[data-id]').forEach((li, i) => {
    li.addEventListener('click', () => {
      const ll = lonLat(items[i]);
      if (ll) { revealMap(S.map); S.map.flyTo({ center: ll, zoom: Math.max(S.map.getZoom(), 14), duration: 600 }); }
    });
  });
}

// ---- ranked areas -----------------------------------------------------------------------

function readParams() {
  const p = { level: S.level, zone: S.zone };
  if (S.answer && S.answer.snapshot) p.snapshot = S.answer.snapshot.id;
  return p;
}

async function loadAreas() {
  S.answer = await call('/api/v1/risk/areas' + qs({ level: S.level, zone: S.zone }));
  $('view-risk').dataset.level = S.level;
  $('view-risk').dataset.zone = S.zone;
  drawAreas();
  drawLegend();
}

function swatch(c) {
  return c ? `<span class="swatch fill" style="--c:${COLOURS[c] || '#bdbdbd'}"></span>` : '';
}

function colourName(c) {
  return c ? t('rk_colour_label', { l: t('rk_' + c), c: t('rk_c_' + c) }) : '—';
}

function drawAreas() {
  const a = S.answer;
  if (!a) return;
  const snap = a.snapshot;
  const info = $('risk-snapshot');
  info.dataset.id = snap ? snap.id : '';
  info.dataset.date = snap ? snap.taken_on : '';
  info.textContent = snap ? `${t('rk_snapshot')} ${snap.taken_on}` + (a.previous ? ` · ${t('rk_previous', { d: a.previous.taken_on })}` : '')
    : t('rk_no_snapshot');
  const scope = S.zone ? (S.zones.find((z) => z.code === S.zone) || {}).name
    : S.me.role === 'district' || S.me.role === 'street' ? (S.me.display_name || '') : t('rk_scope_all');
  $('risk-scope').textContent = scope || '';
  const tb = document.querySelector('#risk-areas tbody');
  tb.innerHTML = '';
  for (const r of a.areas || []) {
    const tr = document.createElement('tr');
    tr.dataset.code = r.code;
    tr.dataset.colour = r.colour;
    tr.dataset.change = r.change || '';
    if (S.breakdown && S.breakdown.kind === 'area' && S.breakdown.key === r.code) tr.className = 'selected';
    tr.innerHTML = `<td data-metric="rank" data-value="${r.rank ?? ''}">${r.rank ?? ''}</td><td>${esc(r.name || r.code)}</td>` +
      `<td data-field="colour" data-value="${esc(r.colour)}" class="rk-colour">${swatch(r.colour)}${esc(t('rk_c_' + r.colour))}</td>` +
      `<td data-metric="score" data-value="${r.score}">${esc(fmtNum(r.score, 1))}</td>` +
      `<td data-field="change" data-value="${esc(r.change || '')}" class="rk-change rk-change-${esc(r.change || '')}" title="${esc(tv('rk_change_', r.change))}` +
      `${r.previous_score != null ? ' · ' + esc(fmtNum(r.previous_score, 1)) : ''}">${esc(ARROWS[r.change] || '')} ${esc(tv('rk_change_', r.change))}</td>`;
    tr.addEventListener('click', () => openArea(r.code));
    tb.appendChild(tr);
  }
  $('risk-areas-total').textContent = (a.areas || []).length;
}

async function exportAs(format) {
  const p = readParams();
  const resp = await download('/api/v1/risk/areas' + qs({ ...p, format }), `risk-areas-${p.level}.${format}`);
  if (resp) toast(t('rk_exported'), 'ok');
}

// ---- breakdown --------------------------------------------------------------------------

async function openArea(code) {
  return openBreakdown('area', code, `/api/v1/risk/areas/${encodeURIComponent(code)}`);
}

async function openCell(h3) {
  return openBreakdown('cell', h3, `/api/v1/risk/cells/${encodeURIComponent(h3)}`);
}

async function openBreakdown(kind, key, path) {
  revealMap(S.map);
  panelLoading();
  selectOnMap(kind === 'area' ? key : '');
  for (const tr of document.querySelectorAll('#risk-areas tbody tr')) tr.classList.toggle('selected', kind === 'area' && tr.dataset.code === key);
  const p = readParams();
  try {
    const data = await call(path + qs({ snapshot: p.snapshot, zone: S.zone }), { quiet: true });
    S.breakdown = { kind, key, data };
    showPanel((b) => drawBreakdown(b, kind, data));
    return data;
  } catch (err) {
    S.breakdown = null;
    panelError(err.message);
    return null;
  }
}

function floorLifted(d) {
  return d.floor_colour && (RANK[d.floor_colour] ?? -1) > (RANK[d.score_colour] ?? -1);
}

function drawBreakdown(b, kind, d) {
  const code = kind === 'area' ? d.code : d.h3;
  const rows = [
    ['score', t('rk_bd_score'), fmtNum(d.score, 2), d.score],
    ['colour', t('rk_bd_colour'), colourName(d.colour), d.colour, d.colour],
    ['score_colour', t('rk_bd_score_colour'), colourName(d.score_colour), d.score_colour, d.score_colour],
  ];
  if (floorLifted(d)) {
    rows.push(['floor_colour', t('rk_bd_floor'), t('rk_bd_floor_lifted', { c: colourName(d.floor_colour), s: colourName(d.score_colour) }),
      d.floor_colour, d.floor_colour]);
  }
  if (kind === 'area') {
    if (d.rank != null) rows.push(['rank', t('rk_bd_rank'), String(d.rank), d.rank]);
    if (d.previous_score != null || d.previous_colour) {
      rows.push(['previous', t('rk_bd_previous'), `${fmtNum(d.previous_score, 2)} · ${colourName(d.previous_colour)} · ${ARROWS[d.change] || ''} ${tv('rk_change_', d.change)}`,
        d.previous_score ?? '']);
    }
  } else {
    rows.push(['own', t('rk_bd_own'), fmtNum(d.own, 2), d.own]);
    rows.push(['spill', t('rk_bd_spill'), fmtNum(d.spill, 2), d.spill]);
    if (d.fire_minutes != null) rows.push(['fire_minutes', t('rk_bd_fire'), fmtNum(d.fire_minutes, 1), d.fire_minutes]);
  }
  const factor = d.parts && d.parts.fire_factor;
  if (typeof factor === 'number') rows.push(['fire_factor', t('rk_bd_fire_factor'), '×' + fmtNum(factor, 2), factor]);
  const dl = rows.map(([f, label, text, value, colour]) => `<dt>${esc(label)}</dt><dd data-field="${f}" data-value="${esc(value ?? '')}">` +
    `${colour ? swatch(colour) : ''}${esc(text)}</dd>`).join('');
  const pos = (k) => (PARTS.includes(k) ? PARTS.indexOf(k) : PARTS.length);
  const parts = Object.entries(d.parts || {}).filter(([k, v]) => typeof v === 'number' && !FACTORS.has(k))
    .sort(([a], [b]) => pos(a) - pos(b));
  const max = Math.max(...parts.map(([, v]) => v), 0);
  const partsHTML = parts.map(([k, v]) => `<li data-part="${esc(k)}" data-value="${v}"><span class="rk-part-label">${esc(tv('rk_part_', k))}</span>` +
    `<span class="rk-bar"><span style="width:${max > 0 ? ((100 * v) / max).toFixed(1) : 0}%"></span></span><span class="rk-part-value">${esc(fmtNum(v, 1))}</span></li>`).join('');
  const counts = Object.entries(d.counts || {}).filter(([, v]) => typeof v === 'number' || (v && typeof v === 'object'));
  const countsHTML = counts.map(([k, v]) => {
    if (typeof v === 'number') return `<li data-count="${esc(k)}" data-value="${v}">${esc(tv('rk_count_', k))}: ${esc(fmtNum(v, Number.isInteger(v) ? 0 : 1))}</li>`;
    return `<li data-count="${esc(k)}">${esc(tv('rk_count_', k))}: ${Object.entries(v).map(([c, n]) =>
      `<span data-count="${esc(k)}.${esc(c)}" data-value="${esc(n)}">${RANK[c] != null ? swatch(c) + esc(t('rk_c_' + c)) : esc(c)} ${esc(typeof n === 'number' ? fmtNum(n) : n)}</span>`).join(' ')}</li>`;
  }).join('');
  // An area's cells by colour (GET /risk/areas/{code}).
  const cells = d.cells && typeof d.cells === 'object' ? ORDER.filter((c) => c in d.cells) : [];
  const cellsHTML = cells.map((c) => `<li data-colour="${c}" data-value="${d.cells[c]}">${swatch(c)}${esc(t('rk_c_' + c))} ${esc(fmtNum(d.cells[c]))}</li>`).join('');
  const top = d.top || [];
  const topHTML = top.length ? top.map((c) => {
    const dossier = c.kind === 'enterprise' && (c.id || c.code) ? ' ' + dossierButton(c.id || c.code) : '';
    return `<li data-kind="${esc(c.kind)}" data-code="${esc(c.code || '')}" data-id="${esc(c.id ?? '')}" data-share="${c.share}" data-points="${c.points}">` +
      `<span class="rk-bar rk-share"><span style="width:${(100 * Math.min(1, Math.max(0, c.share || 0))).toFixed(1)}%"></span></span>` +
      `<b>${esc(fmtPct(c.share))}</b> ${esc(tv('rk_kind_', c.kind))} <b>${esc(c.name || c.code || '')}</b>` +
      `<br><small>${esc([c.code && c.name ? c.code : '', c.detail, t('rk_points', { p: fmtNum(c.points, 1) })].filter(Boolean).join(' · '))}</small>${dossier}</li>`;
  }).join('') : `<li class="muted" id="risk-top-none">${esc(t('rk_bd_top_none'))}</li>`;
  const title = kind === 'area' ? `${d.name || d.code} (${d.code})` : t('rk_cell_name', { h: d.h3 });
  b.innerHTML = `<section id="risk-breakdown" data-kind="${kind}" data-code="${esc(code)}" data-colour="${esc(d.colour)}">` +
    `<h3>${swatch(d.colour)}${esc(title)}</h3><p class="muted">${esc(t(kind === 'area' ? 'rk_bd_area' : 'rk_bd_cell'))}` +
    `${S.answer && S.answer.snapshot ? ' · ' + esc(t('rk_snapshot')) + ' ' + esc(S.answer.snapshot.taken_on) : ''}</p>` +
    `<dl class="kv">${dl}</dl>` +
    (parts.length ? `<h4>${esc(t('rk_bd_parts'))}</h4><ul id="risk-parts" class="rk-parts">${partsHTML}</ul>` : '') +
    (cells.length ? `<h4>${esc(t('rk_bd_cells'))}</h4><ul id="risk-cells" class="rk-cells">${cellsHTML}</ul>` : '') +
    (counts.length ? `<h4>${esc(t('rk_bd_counts'))}</h4><ul id="risk-counts" class="rk-counts">${countsHTML}</ul>` : '') +
    `<h4>${esc(t('rk_bd_top'))}</h4><ol id="risk-top" class="rk-top">${topHTML}</ol></section>`;
}

// ---- trend ------------------------------------------------------------------------------

// dates are the distinct Shanghai days of the snapshots, newest first.
function dates() {
  return [...new Set(S.snapshots.map((s) => s.taken_on))];
}

function fillDates() {
  const ds = dates();
  for (const id of ['risk-from', 'risk-to']) {
    const sel = $(id);
    sel.innerHTML = ds.map((d) => `<option value="${esc(d)}">${esc(d)}</option>`).join('');
  }
  if (ds.length) {
    $('risk-to').value = ds[0];
    $('risk-from').value = ds[Math.min(1, ds.length - 1)];
  }
  $('risk-compare-run').disabled = ds.length === 0;
}

async function runCompare() {
  const from = $('risk-from').value;
  const to = $('risk-to').value;
  if (!from || !to) return;
  S.compare = await call('/api/v1/risk/compare' + qs({ from, to, level: S.level, zone: S.zone }));
  S.rises = (S.compare.changes || []).filter(rose).map((c) => c.code);
  highlightRises();
  drawCompare();
}

function rose(c) {
  return (RANK[c.to_colour] ?? -1) > (RANK[c.from_colour] ?? -1);
}

function drawCompare() {
  const box = $('risk-compare-box');
  const c = S.compare;
  box.hidden = !c;
  if (!c) return;
  const changes = c.changes || [];
  const snapDate = (x) => (x && (x.snapshot ? x.snapshot.taken_on : x.taken_on)) || '';
  $('risk-compare-summary').textContent = changes.length
    ? t('rk_compare_summary', { f: snapDate(c.from), t: snapDate(c.to), n: changes.length, u: S.rises.length })
    : t('rk_compare_none');
  const tb = document.querySelector('#risk-compare tbody');
  tb.innerHTML = '';
  for (const ch of changes) {
    const tr = document.createElement('tr');
    tr.dataset.code = ch.code;
    tr.dataset.change = ch.change || '';
    tr.dataset.rise = String(rose(ch));
    tr.innerHTML = `<td>${esc(ch.name || ch.code)}</td>` +
      `<td data-field="from_to" data-from="${esc(ch.from_colour || '')}" data-to="${esc(ch.to_colour || '')}">${swatch(ch.from_colour)}${esc(ch.from_colour ? t('rk_c_' + ch.from_colour) : '—')}` +
      ` → ${swatch(ch.to_colour)}${esc(ch.to_colour ? t('rk_c_' + ch.to_colour) : '—')}</td>` +
      `<td data-metric="to_score" data-value="${ch.to_score ?? ''}" title="${esc(fmtNum(ch.from_score, 1))} → ${esc(fmtNum(ch.to_score, 1))}">` +
      `${esc(ARROWS[ch.change] || '')} ${esc(fmtNum(ch.to_score, 1))}</td><td data-field="reason">${esc(ch.reason || '')}</td>`;
    tr.addEventListener('click', () => openArea(ch.code));
    tb.appendChild(tr);
  }
}

// ---- warnings ---------------------------------------------------------------------------

async function loadWarnings() {
  S.warnings = await call('/api/v1/risk/warnings' + qs({ status: $('risk-warn-status').value, zone: S.zone, limit: WARN_PAGE, offset: S.warnOffset }));
  drawWarnings();
}

function drawWarnings() {
  const w = S.warnings;
  if (!w) return;
  $('risk-warn-total').textContent = w.total;
  $('risk-warn-page').textContent = w.total
    ? t('page_of', { a: S.warnOffset + 1, b: Math.min(S.warnOffset + WARN_PAGE, w.total), n: w.total }) : '';
  $('risk-warn-prev').disabled = S.warnOffset === 0;
  $('risk-warn-next').disabled = S.warnOffset + WARN_PAGE >= w.total;
  const ul = $('risk-warnings');
  ul.innerHTML = '';
  if (!w.warnings.length) {
    ul.innerHTML = `<li class="muted" id="risk-warnings-none">${esc(t('rk_warn_none'))}</li>`;
    return;
  }
  const writer = WRITERS.includes(S.me.role);
  for (const x of w.warnings) {
    const li = document.createElement('li');
    li.dataset.id = x.id;
    li.dataset.status = x.status;
    li.dataset.version = x.version;
    li.dataset.rule = x.rule;
    li.dataset.area = x.area_code;
    const notes = [];
    if (x.acknowledged_at) notes.push(t('rk_warn_ack_by', { u: x.acknowledged_by || '', d: fmtDate(x.acknowledged_at), n: x.ack_note || '' }));
    if (x.closed_at) notes.push(t('rk_warn_close_by', { u: x.closed_by || '', d: fmtDate(x.closed_at), n: x.close_note || '' }));
    li.innerHTML = `<div><span class="rk-status rk-status-${esc(x.status)}" data-field="status">${esc(tv('rk_ws_', x.status))}</span> ` +
      `<b data-field="title">${esc(x.title)}</b></div>` +
      `<small>${esc(tv('rk_rule_', x.rule))} · ${esc(x.area_name || x.area_code)} · ${esc(t('rk_warn_raised'))} ${esc(fmtDate(x.raised_at))}</small>` +
      `<div class="rk-reason" data-field="reason">${esc(x.reason)}</div>` +
      notes.map((n) => `<div class="muted rk-note">${esc(n)}</div>`).join('');
    if (writer && x.status !== 'closed') {
      const row = document.createElement('div');
      row.className = 'row';
      if (x.status === 'new') row.appendChild(actionButton(li, x, 'acknowledge'));
      row.appendChild(actionButton(li, x, 'close'));
      li.appendChild(row);
    }
    li.addEventListener('click', (e) => {
      if (e.target.closest('button, form, textarea')) return;
      if (x.area_level !== 'cell') openArea(x.area_code);
      else openCell(x.area_code);
    });
    ul.appendChild(li);
  }
}

function actionButton(li, x, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset[action === 'acknowledge' ? 'ack' : 'close'] = x.id;
  b.textContent = t(action === 'acknowledge' ? 'rk_warn_ack' : 'rk_warn_close');
  b.addEventListener('click', () => warnForm(li, x, action));
  return b;
}

// warnForm is the note form of acknowledging or closing x, inside its list item; a refusal
// (409 on a stale version, 400 on a bad note) shows the server's words in .warn-error.
function warnForm(li, x, action) {
  for (const f of li.querySelectorAll('form.warn-form')) f.remove();
  const form = document.createElement('form');
  form.className = 'form warn-form';
  form.dataset.action = action;
  form.innerHTML = `<label>${esc(t('rk_warn_note'))}<textarea name="note" rows="2" maxlength="2000" required></textarea></label>` +
    `<p class="error warn-error" role="alert"></p>` +
    `<div class="row"><button type="submit" class="warn-submit">${esc(t(action === 'acknowledge' ? 'rk_warn_submit_ack' : 'rk_warn_submit_close'))}</button>` +
    `<button type="button" class="warn-cancel">${esc(t('rk_warn_cancel'))}</button></div>`;
  form.querySelector('.warn-cancel').addEventListener('click', () => form.remove());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const note = form.querySelector('textarea').value.trim();
    const errEl = form.querySelector('.warn-error');
    errEl.textContent = '';
    if (!note) {
      errEl.textContent = t('rk_warn_note_required');
      return;
    }
    const btn = form.querySelector('.warn-submit');
    btn.disabled = true;
    try {
      await call(`/api/v1/risk/warnings/${x.id}/${action}`, { method: 'POST', body: { note, version: x.version } });
      toast(t(action === 'acknowledge' ? 'rk_warn_acked' : 'rk_warn_closed'), 'ok');
      await loadWarnings();
    } catch (err) {
      errEl.textContent = err.message; // call() has shown it in #toast too
      btn.disabled = false;
    }
  });
  li.appendChild(form);
  form.querySelector('textarea').focus();
}
