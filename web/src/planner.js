// Planner 规划: fire-station coverage (form, figures per district, covered/uncovered cells
// and each station's reach on the map), siting of k new stations, what-if (add stations by
// clicking, leave stations out, re-run), and the hazard clusters and hot spots as layers.
import { Popup } from 'maplibre-gl';
import { call, esc, qs, toast } from './api.js';
import { t, tv, fmtPct, fmtNum, onLangChange } from './i18n.js';
import { setGeoJSON, addLayerOnce, renderLegend, emptyFC, point, circle, LABEL_FONT } from './map.js';
import { revealMap } from './ui.js';

const METRICS = ['enterprises', 'high_risk_enterprises', 'underground_spaces', 'gas_occupancy_sites', 'area_km2'];
const COLORS = {
  covered: '#74c476', uncovered: '#fb6a4a', reach: '#3182bd', existing: '#b2182b', planned: '#ffffff',
  added: '#2171b5', off: '#969696', site: '#6a3d9a', cluster: '#e7298a',
};
const BIN_COLORS = { 3: '#b2182b', 2: '#ef8a62', 1: '#fddbc7', 0: '#f7f7f7', '-1': '#d1e5f0', '-2': '#67a9cf', '-3': '#2166ac' };

let mapRef = null;
let lastCoverage = null;
let lastSiting = null;
const stations = new Map(); // code -> station as the API returned it (existing and planned)
const without = new Set(); // codes left out
let added = []; // [{lon, lat, type}]
let adding = false;
const summaries = {}; // redraws of the cluster and hot-spot summaries

export async function start(ctx) {
  const { map, hooks } = ctx;
  mapRef = map;
  addLayers(map);
  renderLegend(map, document.getElementById('legend'), [{ items: legend() }]);

  document.getElementById('cov-form').addEventListener('submit', (e) => { e.preventDefault(); runCoverage(); });
  document.getElementById('siting-form').addEventListener('submit', (e) => { e.preventDefault(); runSiting(); });
  document.getElementById('clusters-form').addEventListener('submit', (e) => { e.preventDefault(); runClusters(); });
  document.getElementById('hotspots-form').addEventListener('submit', (e) => { e.preventDefault(); runHotspots(); });
  document.getElementById('whatif-add').addEventListener('click', () => setAdding(!adding));
  document.getElementById('whatif-clear').addEventListener('click', () => { added = []; drawStations(); });
  document.getElementById('whatif-filter').addEventListener('input', drawStationList);

  map.on('click', (e) => {
    if (adding) {
      addStation(e.lngLat.lng, e.lngLat.lat, document.getElementById('whatif-type').value);
      return;
    }
    const hit = map.queryRenderedFeatures(e.point, { layers: ['stations-point', 'siting-sites-point', 'hazard-clusters-fill', 'hotspots-fill'] });
    if (!hit.length) return;
    const f = hit[0];
    if (f.layer.id === 'stations-point') {
      const code = f.properties.code;
      if (f.properties.status === 'added') {
        added.splice(Number(code.replace('ADD-', '')) - 1, 1);
      } else if (without.has(code)) without.delete(code);
      else without.add(code);
      drawStations();
    } else {
      popup(f, e.lngLat);
    }
  });
  for (const id of ['stations-point', 'siting-sites-point', 'hazard-clusters-fill']) {
    map.on('mouseenter', id, () => { if (!adding) map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { if (!adding) map.getCanvas().style.cursor = ''; });
  }

  hooks.addStation = (lon, lat, type) => addStation(lon, lat, type || document.getElementById('whatif-type').value);
  hooks.coverage = () => lastCoverage;
  hooks.siting = () => lastSiting;

  onLangChange(() => {
    drawCoverage(); drawSiting(); drawStationList();
    for (const fn of Object.values(summaries)) fn();
    const b = document.getElementById('whatif-add');
    b.textContent = t(b.dataset.i18n);
  });
  await runCoverage();
}

function addLayers(map) {
  for (const id of ['coverage-cells', 'station-areas', 'stations', 'siting-sites', 'siting-areas', 'hazard-clusters', 'hotspots']) {
    setGeoJSON(map, id, emptyFC());
  }
  addLayerOnce(map, {
    id: 'coverage-cells-fill', type: 'fill', source: 'coverage-cells',
    // No antialiasing: the outlines of thousands of touching hexagons would hatch the map.
    paint: { 'fill-color': ['case', ['get', 'covered'], COLORS.covered, COLORS.uncovered], 'fill-opacity': 0.45, 'fill-antialias': false },
  });
  addLayerOnce(map, {
    id: 'service-areas-fill', type: 'fill', source: 'coverage-cells', layout: { visibility: 'none' },
    paint: { 'fill-color': ['get', 'sa'], 'fill-opacity': 0.7, 'fill-antialias': false },
  });
  addLayerOnce(map, {
    id: 'hotspots-fill', type: 'fill', source: 'hotspots', filter: ['!=', ['get', 'bin'], 0], // significant cells only
    paint: {
      'fill-color': ['match', ['to-string', ['get', 'bin']], '3', BIN_COLORS[3], '2', BIN_COLORS[2], '1', BIN_COLORS[1],
        '-1', BIN_COLORS[-1], '-2', BIN_COLORS[-2], '-3', BIN_COLORS[-3], BIN_COLORS[0]],
      'fill-opacity': 0.75, 'fill-outline-color': '#999',
    },
  });
  addLayerOnce(map, {
    id: 'station-areas-line', type: 'line', source: 'station-areas',
    paint: { 'line-color': ['case', ['get', 'over_cap'], '#d94801', COLORS.reach], 'line-width': 1, 'line-opacity': 0.7 },
  });
  addLayerOnce(map, {
    id: 'siting-areas-line', type: 'line', source: 'siting-areas',
    paint: { 'line-color': COLORS.site, 'line-width': 2, 'line-dasharray': [2, 1] },
  });
  addLayerOnce(map, {
    id: 'hazard-clusters-fill', type: 'fill', source: 'hazard-clusters',
    paint: { 'fill-color': COLORS.cluster, 'fill-opacity': 0.35 },
  });
  addLayerOnce(map, {
    id: 'hazard-clusters-line', type: 'line', source: 'hazard-clusters',
    paint: { 'line-color': COLORS.cluster, 'line-width': 1.5 },
  });
  addLayerOnce(map, {
    id: 'stations-point', type: 'circle', source: 'stations',
    paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 4, 14, 8],
      'circle-color': ['match', ['get', 'state'], 'off', COLORS.off, 'planned', COLORS.planned, 'added', COLORS.added, COLORS.existing],
      'circle-stroke-color': ['match', ['get', 'state'], 'off', '#525252', 'added', '#ffffff', COLORS.existing],
      'circle-stroke-width': 2,
    },
  });
  addLayerOnce(map, {
    id: 'siting-sites-point', type: 'circle', source: 'siting-sites',
    paint: { 'circle-radius': 11, 'circle-color': COLORS.site, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
  });
  addLayerOnce(map, {
    id: 'siting-sites-label', type: 'symbol', source: 'siting-sites',
    layout: { 'text-field': ['to-string', ['get', 'rank']], 'text-font': LABEL_FONT, 'text-size': 12, 'text-allow-overlap': true },
    paint: { 'text-color': '#ffffff' },
  });
}

function legend() {
  return [
    { key: 'covered', color: COLORS.covered, shape: 'fill', toggle: 'coverage', layers: ['coverage-cells-fill'] },
    { key: 'uncovered', color: COLORS.uncovered, shape: 'fill' },
    { key: 'service_area', color: COLORS.reach, shape: 'line', toggle: 'station-areas', layers: ['station-areas-line'] },
    { key: 'service_areas', color: SA_COLORS[4], shape: 'fill', toggle: 'service-areas', layers: ['service-areas-fill'], checked: false },
    { key: 'station_existing', color: COLORS.existing, shape: 'dot', toggle: 'stations', layers: ['stations-point'],
      sub: [{ key: 'station_planned', color: COLORS.existing, shape: 'ring' }, { key: 'station_added', color: COLORS.added },
        { key: 'station_off', color: COLORS.off }] },
    { key: 'sites_layer', color: COLORS.site, shape: 'dot', toggle: 'siting', layers: ['siting-sites-point', 'siting-sites-label', 'siting-areas-line'] },
    { key: 'clusters_layer', color: COLORS.cluster, shape: 'fill', toggle: 'clusters', layers: ['hazard-clusters-fill', 'hazard-clusters-line'] },
    { key: 'hotspots_layer', color: BIN_COLORS[3], shape: 'fill', toggle: 'hotspots', layers: ['hotspots-fill'],
      sub: [{ key: 'hot99', color: BIN_COLORS[3], shape: 'fill' }, { key: 'hot95', color: BIN_COLORS[2], shape: 'fill' },
        { key: 'hot90', color: BIN_COLORS[1], shape: 'fill' }, { key: 'cold', color: BIN_COLORS[-3], shape: 'fill' }] },
    // Cells that are not significant (bin 0) are not drawn.
  ];
}

// ---- coverage -----------------------------------------------------------------------

function coverageParams() {
  const num = (id) => Number(document.getElementById(id).value);
  return {
    minutes: num('cov-minutes'), speed_kmh: num('cov-speed'), detour: num('cov-detour'),
    planned: document.getElementById('cov-planned').checked,
    add: added.map((a) => ({ ...a })), without: [...without],
  };
}

async function runCoverage() {
  const p = coverageParams();
  const query = qs({
    minutes: p.minutes, speed_kmh: p.speed_kmh, detour: p.detour, planned: p.planned, resolution: 8,
    add: p.add.map((a) => `${a.lon},${a.lat},${a.type}`), without: p.without.join(','),
  });
  const btn = document.getElementById('cov-run');
  btn.disabled = true;
  try {
    // Both requests run at once; a refusal is reported once, in the words of the POST (the
    // analysis itself), and the cells' own error only when the analysis went through.
    const cellsP = call('/api/v1/analysis/coverage/cells' + query, { quiet: true });
    cellsP.catch(() => {});
    const res = await call('/api/v1/analysis/coverage', { method: 'POST', body: p });
    let cells;
    try {
      cells = await cellsP;
    } catch (err) {
      toast(err.message, 'error');
      throw err;
    }
    lastCoverage = res;
    for (const s of res.stations) if (s.status !== 'added') stations.set(s.code, s);
    for (const f of cells.features) f.properties.sa = serviceAreaColour(f.properties.nearest_station);
    setGeoJSON(mapRef, 'coverage-cells', cells);
    setGeoJSON(mapRef, 'station-areas', {
      type: 'FeatureCollection',
      features: res.stations.map((s) => circle(s.lon, s.lat, res.radius_m, { code: s.code, over_cap: s.over_cap })),
    });
    drawCoverage();
    drawStations();
  } finally {
    btn.disabled = false;
  }
}

// serviceAreaColour picks one of SA_COLORS for a station, so each station's service area
// (the cells nearest to it) shows as a patch of one colour.
const SA_COLORS = ['#8dd3c7', '#ffffb3', '#bebada', '#fb8072', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#d9d9d9', '#bc80bd'];
function serviceAreaColour(code) {
  let h = 0;
  for (const ch of String(code || '')) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return SA_COLORS[h % SA_COLORS.length];
}

function shareCell(metric, counts) {
  const s = counts[metric];
  const title = metric === 'area_km2'
    ? `${fmtNum(s.covered, 1)} / ${fmtNum(s.total, 1)} km²` : `${fmtNum(s.covered)} / ${fmtNum(s.total)}`;
  return `<td data-metric="${metric}" data-share="${s.share}" title="${esc(title)}">${fmtPct(s.share)}</td>`;
}

function drawCoverage() {
  const res = lastCoverage;
  if (!res) return;
  document.getElementById('cov-summary').textContent =
    t('cov_summary', { r: fmtNum(res.radius_m), n: res.stations.length });
  const tb = document.querySelector('#cov-table tbody');
  tb.innerHTML = '';
  const row = (attrs, label, counts) => {
    const tr = document.createElement('tr');
    Object.assign(tr.dataset, attrs);
    tr.innerHTML = `<th scope="row">${esc(label)}</th>` + METRICS.map((m) => shareCell(m, counts)).join('');
    tb.appendChild(tr);
  };
  row({ scope: 'overall' }, t('overall'), res.overall);
  for (const d of res.districts) row({ district: d.code }, d.name, d);
}

// ---- stations and what-if -------------------------------------------------------------

function addStation(lon, lat, type) {
  added.push({ lon: Number(lon), lat: Number(lat), type });
  drawStations();
  return added.length;
}

function setAdding(on) {
  adding = on;
  const b = document.getElementById('whatif-add');
  b.setAttribute('aria-pressed', on ? 'true' : 'false');
  b.classList.toggle('active', on);
  b.dataset.i18n = on ? 'whatif_adding' : 'whatif_add';
  b.textContent = t(b.dataset.i18n);
  mapRef.getCanvas().style.cursor = on ? 'crosshair' : '';
  if (on) revealMap(mapRef);
}

function drawStations() {
  const feats = [];
  for (const s of stations.values()) {
    feats.push(point(s.lon, s.lat, { code: s.code, name: s.name, type: s.type, status: s.status,
      state: without.has(s.code) ? 'off' : s.status }));
  }
  added.forEach((a, i) => feats.push(point(a.lon, a.lat, { code: `ADD-${i + 1}`, type: a.type, status: 'added', state: 'added' })));
  setGeoJSON(mapRef, 'stations', { type: 'FeatureCollection', features: feats });
  drawStationList();
}

function drawStationList() {
  const ul = document.getElementById('whatif-stations');
  const q = document.getElementById('whatif-filter').value.trim().toLowerCase();
  ul.innerHTML = '';
  added.forEach((a, i) => {
    const li = document.createElement('li');
    li.className = 'added';
    li.innerHTML = `<label><input type="checkbox" data-id="ADD-${i + 1}" checked> ${esc(t('station_added'))} ADD-${i + 1} · ` +
      `${esc(a.type)} · ${a.lon.toFixed(4)}, ${a.lat.toFixed(4)}</label>`;
    li.querySelector('input').addEventListener('change', () => { added.splice(i, 1); drawStations(); });
    ul.appendChild(li);
  });
  const list = [...stations.values()].sort((a, b) => a.code.localeCompare(b.code));
  for (const s of list) {
    if (q && !`${s.code} ${s.name} ${s.type}`.toLowerCase().includes(q)) continue;
    const li = document.createElement('li');
    const cap = s.cap_km2 != null ? fmtNum(s.cap_km2) : '—';
    li.innerHTML = `<label><input type="checkbox" data-id="${esc(s.code)}" ${without.has(s.code) ? '' : 'checked'}> ` +
      `<b>${esc(s.name || s.code)}</b> <small>${esc(s.type)} · ${esc(t(s.status === 'planned' ? 'station_planned' : 'station_existing'))} · ` +
      `${esc(t('service_km2', { a: fmtNum(s.service_area_km2, 1), c: cap }))}${s.over_cap ? ' ⚠' : ''}</small></label>`;
    li.querySelector('input').addEventListener('change', (e) => {
      if (e.target.checked) without.delete(s.code);
      else without.add(s.code);
      drawStations();
    });
    li.addEventListener('dblclick', () => mapRef.flyTo({ center: [s.lon, s.lat], zoom: 13 }));
    ul.appendChild(li);
  }
}

// ---- siting -------------------------------------------------------------------------

async function runSiting() {
  const k = Number(document.getElementById('siting-k').value);
  const btn = document.getElementById('siting-run');
  btn.disabled = true;
  try {
    const res = await call('/api/v1/analysis/siting', { method: 'POST', body: { ...coverageParams(), k } });
    lastSiting = res;
    setGeoJSON(mapRef, 'siting-sites', {
      type: 'FeatureCollection',
      features: res.sites.map((s) => point(s.lon, s.lat, { rank: s.rank, cell: s.cell, street: s.street, district: s.district, gain_weight: s.gain_weight })),
    });
    setGeoJSON(mapRef, 'siting-areas', {
      type: 'FeatureCollection', features: res.sites.map((s) => circle(s.lon, s.lat, res.radius_m, { rank: s.rank })),
    });
    drawSiting();
  } finally {
    btn.disabled = false;
  }
}

function drawSiting() {
  const res = lastSiting;
  if (!res) return;
  document.getElementById('siting-summary').textContent = t('siting_summary', {
    b: fmtPct(res.before.share), a: fmtPct(res.after.share), u: fmtPct(res.upper_bound.share),
    c: fmtNum(res.candidates), s: res.seconds.toFixed(1),
  });
  const tb = document.querySelector('#siting-table tbody');
  tb.innerHTML = '';
  for (const s of res.sites) {
    const tr = document.createElement('tr');
    tr.dataset.cell = s.cell;
    tr.innerHTML = `<td>${s.rank}</td><td>${esc(s.district)} ${esc(s.street)}</td>` +
      `<td data-metric="gain" data-value="${s.gain_weight}">${fmtNum(s.gain_weight, 1)}</td>` +
      `<td data-metric="gain_share" data-value="${s.gain_share}">${fmtPct(s.gain_share)}</td>`;
    tr.addEventListener('click', () => { revealMap(mapRef); mapRef.flyTo({ center: [s.lon, s.lat], zoom: 12.5 }); });
    tb.appendChild(tr);
  }
}

// ---- hazard clusters and hot spots ---------------------------------------------------

async function runClusters() {
  const eps = Number(document.getElementById('clusters-eps').value);
  const min = Number(document.getElementById('clusters-min').value);
  const fc = await call('/api/v1/analysis/hazard-clusters' + qs({ eps_m: eps, min_points: min }));
  setGeoJSON(mapRef, 'hazard-clusters', fc);
  const draw = () => {
    document.getElementById('clusters-summary').textContent = t('clusters_summary', { n: fc.features.length, e: eps, m: min });
  };
  summaries.clusters = draw;
  draw();
}

async function runHotspots() {
  const r = Number(document.getElementById('hotspots-res').value);
  const k = Number(document.getElementById('hotspots-k').value);
  const weighted = document.getElementById('hotspots-weighted').checked;
  const fc = await call('/api/v1/analysis/hotspots' + qs({ resolution: r, k, weighted }));
  setGeoJSON(mapRef, 'hotspots', fc);
  const hot = fc.features.filter((f) => f.properties.bin > 0).length;
  const cold = fc.features.filter((f) => f.properties.bin < 0).length;
  const draw = () => {
    document.getElementById('hotspots-summary').textContent = t('hotspots_summary', { n: fc.features.length, h: hot, c: cold, r, k });
  };
  summaries.hotspots = draw;
  draw();
}

function popup(f, lngLat) {
  const p = f.properties;
  let html = '';
  if (f.layer.id === 'hazard-clusters-fill') {
    let levels = p.levels;
    try { levels = typeof levels === 'string' ? JSON.parse(levels) : levels; } catch { /* as is */ }
    html = `<b>${esc(t('cluster'))} ${p.id}</b><br>${esc(t('members'))}: ${p.members}<br>${esc(t('top_category'))}: ${esc(p.top_category)}` +
      (levels ? '<br>' + Object.entries(levels).map(([k, v]) => `${esc(tv('lvl_', k))} ${v}`).join(' · ') : '');
  } else if (f.layer.id === 'hotspots-fill') {
    html = `<b>${esc(p.cell)}</b><br>${esc(t('count'))}: ${p.count}<br>z = ${Number(p.z).toFixed(2)}, p = ${Number(p.p).toFixed(4)}, bin ${p.bin}`;
  } else {
    html = `<b>${esc(t('proposed_site'))} ${p.rank}</b><br>${esc(p.district)} ${esc(p.street)}<br>${esc(t('gain'))}: ${fmtNum(p.gain_weight, 1)}`;
  }
  toastPopup(html, lngLat);
}

let popupRef = null;
function toastPopup(html, lngLat) {
  if (popupRef) popupRef.remove();
  popupRef = new Popup({ maxWidth: '260px' }).setLngLat(lngLat).setHTML(html).addTo(mapRef);
}

