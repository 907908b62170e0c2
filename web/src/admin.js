// Admin 管理员: grid units on the map (the grid_cells tiles, coloured by whether the unit
// has an officer) with their officers, the units list, and the grid audit: unsupervised
// enterprises' cells and uncovered communities highlighted, units without an officer and
// every officer's workload.
import { Popup } from 'maplibre-gl';
import { call, esc, qs } from './api.js';
import { t, fmtNum, onLangChange } from './i18n.js';
import { revealMap } from './ui.js';
import { initConsole } from './console.js';
import { dossierButton } from './dossier.js'; // enterprise dossier
import { setGeoJSON, addLayerOnce, renderLegend, emptyFC, cellFeatures, bboxOf, fitTo, tileURL } from './map.js';

const PAGE = 50;
const UNIT_COLORS = ['#9ecae1', '#a1d99b', '#bcbddc', '#c994c7', '#c6dbef', '#c7e9c0', '#dadaeb', '#9ebcda', '#d9f0a3', '#99d8c9'];
let mapRef = null;
let street = '';
let units = { items: [], total: 0 };
let unitOffset = 0;
let audit = null;

export async function start(ctx) {
  const { map } = ctx;
  mapRef = map;
  map.addSource('grid-units', { type: 'vector', tiles: [tileURL('grid_cells')], minzoom: 11, maxzoom: 16 });
  addLayerOnce(map, {
    id: 'grid-units-fill', type: 'fill', source: 'grid-units', 'source-layer': 'grid_cells',
    // Units with an officer take a colour by their code's last digit, so neighbouring units
    // (numbered in order within a street) differ; units without an officer are orange.
    paint: {
      'fill-color': ['case', ['==', ['get', 'officer'], ''], '#f16913',
        ['match', ['slice', ['get', 'unit_code'], ['-', ['length', ['get', 'unit_code']], 1]],
          ...UNIT_COLORS.flatMap((c, i) => [String(i), c]), UNIT_COLORS[0]]],
      'fill-opacity': 0.45,
    },
  });
  addLayerOnce(map, {
    id: 'grid-units-line', type: 'line', source: 'grid-units', 'source-layer': 'grid_cells',
    paint: { 'line-color': '#4292c6', 'line-width': 0.6 },
  });
  addLayerOnce(map, {
    id: 'audit-communities-fill', type: 'fill', source: 'areas', 'source-layer': 'areas',
    filter: ['==', ['get', 'code'], '__none__'], paint: { 'fill-color': '#e31a1c', 'fill-opacity': 0.25 },
  });
  setGeoJSON(map, 'audit-cells', emptyFC());
  addLayerOnce(map, {
    id: 'audit-cells-fill', type: 'fill', source: 'audit-cells',
    paint: { 'fill-color': '#e31a1c', 'fill-opacity': 0.6, 'fill-outline-color': '#67000d' },
  });
  setGeoJSON(map, 'unit-selected', emptyFC());
  addLayerOnce(map, {
    id: 'unit-selected-line', type: 'line', source: 'unit-selected', paint: { 'line-color': '#08306b', 'line-width': 2.5 },
  });
  renderLegend(map, document.getElementById('legend'), [{ items: [
    { key: 'grid_assigned', color: UNIT_COLORS[0], shape: 'fill', toggle: 'grid-units', layers: ['grid-units-fill', 'grid-units-line'] },
    { key: 'grid_unassigned', color: '#f16913', shape: 'fill' },
    { key: 'audit_cells', color: '#e31a1c', shape: 'fill', toggle: 'audit', layers: ['audit-cells-fill', 'audit-communities-fill'] },
    { key: 'selected_unit', color: '#08306b', shape: 'line' },
  ] }]);

  const hint = document.getElementById('map-hint');
  const updateHint = () => {
    hint.textContent = t('zoom_in_cells');
    hint.hidden = map.getZoom() >= 11;
  };
  map.on('zoomend', updateHint);
  onLangChange(() => { updateHint(); drawUnits(); drawAudit(); });
  updateHint();

  let popup = null;
  map.on('click', 'grid-units-fill', (e) => {
    const p = e.features[0].properties;
    if (popup) popup.remove();
    popup = new Popup({ maxWidth: '260px' }).setLngLat(e.lngLat)
      .setHTML(`<b>${esc(p.unit_name)}</b><br>${esc(p.unit_code)}<br>${esc(t('officer'))}: ${esc(p.officer || t('no_officer'))}<br>${esc(t('cell'))}: ${esc(p.cell)}`)
      .addTo(map);
  });
  map.on('mouseenter', 'grid-units-fill', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'grid-units-fill', () => { map.getCanvas().style.cursor = ''; });

  document.getElementById('admin-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    street = document.getElementById('admin-street').value.trim();
    unitOffset = 0;
    Promise.all([loadUnits(), loadAudit()]);
  });
  document.getElementById('units-prev').addEventListener('click', () => { unitOffset = Math.max(0, unitOffset - PAGE); loadUnits(); });
  document.getElementById('units-next').addEventListener('click', () => { if (unitOffset + PAGE < units.total) { unitOffset += PAGE; loadUnits(); } });

  document.getElementById('import-form').addEventListener('submit', (e) => { e.preventDefault(); runImport(); });

  initConsole(map);
  await Promise.all([loadUnits(), loadAudit()]);
}

// runImport sends the chosen file as the request body; the wait shows as the busy state
// and a running count of seconds.
async function runImport() {
  const file = document.getElementById('import-file').files[0];
  if (!file) return;
  const kind = document.getElementById('import-kind').value;
  const out = document.getElementById('import-result');
  const btn = document.getElementById('import-run');
  const type = /\.csv$/i.test(file.name) ? 'text/csv' : 'application/geo+json';
  const started = Date.now();
  const tick = () => { out.textContent = t('importing', { f: file.name, s: Math.round((Date.now() - started) / 1000) }); };
  tick();
  const timer = setInterval(tick, 1000);
  btn.disabled = true;
  try {
    const res = await call(`/api/v1/import/${kind}` + qs({
      crs: document.getElementById('import-crs').value,
      skip_invalid: document.getElementById('import-skip').checked ? 'true' : '',
    }), { method: 'POST', body: file, headers: { 'Content-Type': type } });
    out.innerHTML = esc(t('import_done', { r: res.read, i: res.inserted, u: res.updated, x: res.rejected })) +
      (res.rejections || []).slice(0, 50).map((r) => `<br><small>${esc(t('row'))} ${r.row}: ${esc(r.field || '')} ${esc(r.reason || '')}</small>`).join('');
    await loadAudit();
  } catch (err) {
    out.textContent = err.message;
  } finally {
    clearInterval(timer);
    btn.disabled = false;
  }
}

async function loadUnits() {
  units = await call('/api/v1/grid/units' + qs({ street, limit: PAGE, offset: unitOffset }));
  drawUnits();
}

function drawUnits() {
  document.getElementById('units-total').textContent = units.total;
  document.getElementById('units-page').textContent = units.total
    ? t('page_of', { a: unitOffset + 1, b: Math.min(unitOffset + PAGE, units.total), n: units.total }) : '';
  const tb = document.querySelector('#units-table tbody');
  tb.innerHTML = '';
  for (const u of units.items) {
    const tr = document.createElement('tr');
    tr.dataset.code = u.code;
    tr.innerHTML = `<td>${esc(u.name)}<br><small>${esc(u.code)}</small></td><td class="${u.officer ? '' : 'warn'}">${esc(u.officer || t('no_officer'))}</td>` +
      `<td>${u.cells}</td><td>${u.enterprises}</td>`;
    tr.addEventListener('click', () => showUnit(u.code));
    tb.appendChild(tr);
  }
}

async function showUnit(code) {
  const u = await call(`/api/v1/grid/units/${encodeURIComponent(code)}`);
  revealMap(mapRef);
  const fc = cellFeatures(u.cell_ids || [], () => ({ unit: u.code }));
  setGeoJSON(mapRef, 'unit-selected', fc);
  fitTo(mapRef, bboxOf(fc), { maxZoom: 15, duration: 600 });
}

async function loadAudit() {
  audit = await call('/api/v1/grid/audit' + qs({ street, limit: 1000 }));
  const cells = [...new Set(audit.unsupervised_enterprises.items.map((e) => e.cell))];
  setGeoJSON(mapRef, 'audit-cells', cellFeatures(cells));
  const codes = audit.uncovered_communities.items.map((c) => c.code);
  mapRef.setFilter('audit-communities-fill', codes.length
    ? ['in', ['get', 'code'], ['literal', codes]] : ['==', ['get', 'code'], '__none__']);
  drawAudit();
}

function drawAudit() {
  if (!audit) return;
  const set = (id, n) => { document.getElementById(id).textContent = n; };
  set('audit-ent-total', audit.unsupervised_enterprises.total);
  set('audit-com-total', audit.uncovered_communities.total);
  set('audit-units-total', audit.units_without_officer.total);
  set('audit-work-total', audit.workloads.total);
  const list = (id, items, line) => {
    const ul = document.getElementById(id);
    ul.innerHTML = items.length ? '' : `<li class="muted">${esc(t('none'))}</li>`;
    for (const it of items) {
      const li = document.createElement('li');
      li.innerHTML = line(it);
      ul.appendChild(li);
      if (it.cell) {
        li.dataset.cell = it.cell;
        li.addEventListener('click', () => fitTo(mapRef, bboxOf(cellFeatures([it.cell])), { maxZoom: 15, duration: 600 }));
      }
      if (it.code && id === 'audit-units') li.addEventListener('click', () => showUnit(it.code));
    }
  };
  list('audit-enterprises', audit.unsupervised_enterprises.items, (e) =>
    `<b>${esc(e.name)}</b> <small>${esc(t('risk_' + e.risk_level))} · ${esc(e.uscc)}${e.unit ? ' · ' + esc(e.unit) : ''}</small> ${dossierButton(e.id)}`);
  list('audit-communities', audit.uncovered_communities.items, (c) =>
    `<b>${esc(c.name)}</b> <small>${esc(c.code)} · ${esc(t('m_enterprises'))} ${c.enterprises}</small>`);
  list('audit-units', audit.units_without_officer.items, (u) =>
    `<b>${esc(u.name)}</b> <small>${esc(u.code)} · ${esc(t('cells'))} ${u.cells} · ${esc(t('m_enterprises'))} ${u.enterprises}</small>`);
  const tb = document.querySelector('#audit-workloads tbody');
  tb.innerHTML = '';
  for (const w of audit.workloads.items) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${esc(w.officer)}</td><td>${w.units}</td><td>${w.cells}</td><td>${w.enterprises}</td><td>${fmtNum(w.weighted)}</td>`;
    tb.appendChild(tr);
  }
}
