// Street office 街道办: the street with its communities outlined, per-community figures,
// the filterable hazard table (a row flies the map to its hazard), XLSX/CSV export of the
// same filters, and the lifecycle steps open to the role in #panel.
import { call, download, esc, qs, toast } from './api.js';
import { t, tv, fmtPct, fmtDate, onLangChange } from './i18n.js';
import { setGeoJSON, addLayerOnce, renderLegend, emptyFC, point, fitTo } from './map.js';
import { addFeatureLayers, legendItems } from './layers.js';
import { openHazard } from './hazards.js';
import { revealMap } from './ui.js';
import { enterprisePopups } from './dossier.js'; // enterprise dossier

const PAGE = 50;
let street = '';
let summary = null;
let rows = [];
let total = 0;
let offset = 0;
let mapRef = null;

export async function start(ctx) {
  const { map, me } = ctx;
  mapRef = map;
  street = me.street_code;

  // The street and its communities, from the base map's areas tiles.
  addLayerOnce(map, {
    id: 'my-street-fill', type: 'fill', source: 'areas', 'source-layer': 'areas',
    filter: ['all', ['==', ['get', 'level'], 'street'], ['==', ['get', 'code'], street]],
    paint: { 'fill-color': '#fff7bc', 'fill-opacity': 0.5 },
  });
  addLayerOnce(map, {
    id: 'my-communities-line', type: 'line', source: 'areas', 'source-layer': 'areas', minzoom: 11,
    filter: ['all', ['==', ['get', 'level'], 'community'], ['==', ['get', 'parent_code'], street]],
    paint: { 'line-color': '#e08214', 'line-width': 1.4 },
  });
  addLayerOnce(map, {
    id: 'my-community-selected', type: 'fill', source: 'areas', 'source-layer': 'areas', minzoom: 11,
    filter: ['==', ['get', 'code'], '__none__'],
    paint: { 'fill-color': '#e08214', 'fill-opacity': 0.15 },
  });
  addLayerOnce(map, {
    id: 'my-street-line', type: 'line', source: 'areas', 'source-layer': 'areas',
    filter: ['all', ['==', ['get', 'level'], 'street'], ['==', ['get', 'code'], street]],
    paint: { 'line-color': '#b35806', 'line-width': 3 },
  });
  const ids = addFeatureLayers(map, ['enterprises', 'hazards']);
  setGeoJSON(map, 'selected-hazard', emptyFC());
  addLayerOnce(map, {
    id: 'selected-hazard-ring', type: 'circle', source: 'selected-hazard',
    paint: { 'circle-radius': 12, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#08306b', 'circle-stroke-width': 3 },
  });
  renderLegend(map, document.getElementById('legend'), [{ items: legendItems(ids) }]);
  map.on('click', (e) => {
    const hit = map.queryRenderedFeatures(e.point, { layers: ['hazards-point'] });
    if (hit.length) selectHazard(hit[0].properties.id, hit[0].geometry.coordinates);
  });
  enterprisePopups(map, ['hazards-point']); // enterprise dossier

  // Fly to the street: the bounds of the features the office may see.
  const tj = await call('/tiles/hazards.json');
  if (tj.bounds) fitTo(map, [[tj.bounds[0], tj.bounds[1]], [tj.bounds[2], tj.bounds[3]]]);

  document.getElementById('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    offset = 0;
    loadHazards();
  });
  document.getElementById('page-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadHazards(); });
  document.getElementById('page-next').addEventListener('click', () => { if (offset + PAGE < total) { offset += PAGE; loadHazards(); } });
  document.getElementById('export-xlsx').addEventListener('click', () => exportAs('xlsx'));
  document.getElementById('export-csv').addEventListener('click', () => exportAs('csv'));
  document.getElementById('filter-community').addEventListener('change', (e) => highlightCommunity(e.target.value));

  await Promise.all([loadSummary(), loadHazards()]);
  onLangChange(() => { drawSummary(); drawHazards(); });
}

// ---- communities --------------------------------------------------------------------

async function loadSummary() {
  summary = await call(`/api/v1/streets/${street}/summary`);
  document.getElementById('street-name').textContent = `${summary.name} (${summary.street})`;
  const sel = document.getElementById('filter-community');
  for (const c of summary.communities) {
    if (!c.code) continue;
    const o = document.createElement('option');
    o.value = c.code;
    o.textContent = c.name;
    sel.appendChild(o);
  }
  drawSummary();
}

function drawSummary() {
  if (!summary) return;
  const tb = document.querySelector('#community-list tbody');
  tb.innerHTML = '';
  const line = (c, label, code) => {
    const tr = document.createElement('tr');
    if (code !== null) tr.dataset.code = code;
    else tr.className = 'total';
    tr.innerHTML = `<td>${esc(label)}</td><td data-metric="hazards">${c.hazards}</td>` +
      `<td data-metric="overdue" class="${c.overdue ? 'overdue' : ''}">${c.overdue}</td>` +
      `<td data-metric="rectification_rate" data-value="${c.rectification_rate ?? ''}">${fmtPct(c.rectification_rate)}</td>`;
    if (code) {
      tr.addEventListener('click', () => {
        document.getElementById('filter-community').value = code;
        highlightCommunity(code);
        offset = 0;
        loadHazards();
      });
    }
    tb.appendChild(tr);
  };
  for (const c of summary.communities) line(c, c.name || t('no_community'), c.code);
  line(summary.total, t('street_total'), null);
}

function highlightCommunity(code) {
  mapRef.setFilter('my-community-selected', ['==', ['get', 'code'], code || '__none__']);
}

// ---- the hazard table ---------------------------------------------------------------

function filters() {
  const v = (id) => document.getElementById(id).value.trim();
  return {
    community: v('filter-community'), level: v('filter-level'), status: v('filter-status'),
    category: v('filter-category'), from: v('filter-from'), to: v('filter-to'),
    overdue: document.getElementById('filter-overdue').checked ? 'true' : '',
  };
}

async function loadHazards() {
  const out = await call(`/api/v1/streets/${street}/hazards` + qs({ ...filters(), limit: PAGE, offset }));
  rows = out.items;
  total = out.total;
  drawHazards();
}

function drawHazards() {
  document.getElementById('hazard-total').textContent = total;
  document.getElementById('page-info').textContent = total
    ? t('page_of', { a: offset + 1, b: Math.min(offset + PAGE, total), n: total }) : '';
  document.getElementById('page-prev').disabled = offset === 0;
  document.getElementById('page-next').disabled = offset + PAGE >= total;
  const tb = document.querySelector('#hazard-table tbody');
  tb.innerHTML = '';
  for (const h of rows) {
    const tr = document.createElement('tr');
    tr.dataset.id = h.id;
    tr.dataset.lon = h.location.lon;
    tr.dataset.lat = h.location.lat;
    if (h.overdue) tr.classList.add('is-overdue');
    tr.innerHTML = `<td>${esc(h.code)}</td><td class="lvl-${esc(h.level)}">${esc(tv('lvl_', h.level))}</td>` +
      `<td>${esc(h.category)}</td><td>${esc(tv('status_', h.status))}${h.overdue ? ` <span class="overdue">${esc(t('overdue'))}</span>` : ''}</td>` +
      `<td>${esc(h.deadline || '—')}</td><td>${esc(h.community_name || '—')}</td><td>${esc(fmtDate(h.reported_at))}</td>`;
    tr.addEventListener('click', () => {
      for (const o of tb.querySelectorAll('tr.selected')) o.classList.remove('selected');
      tr.classList.add('selected');
      selectHazard(h.id, [h.location.lon, h.location.lat]);
    });
    tb.appendChild(tr);
  }
}

function selectHazard(id, coords) {
  revealMap(mapRef);
  setGeoJSON(mapRef, 'selected-hazard', { type: 'FeatureCollection', features: [point(coords[0], coords[1])] });
  mapRef.flyTo({ center: coords, zoom: Math.max(mapRef.getZoom(), 16), duration: 800 });
  openHazard(id, { onChanged: () => { loadHazards(); loadSummary2(); } });
}

async function loadSummary2() {
  summary = await call(`/api/v1/streets/${street}/summary`);
  drawSummary();
}

// ---- export -------------------------------------------------------------------------

async function exportAs(format) {
  const resp = await download(`/api/v1/streets/${street}/hazards` + qs({ ...filters(), format }), `hazards-${street}.${format}`);
  if (resp) toast(t('exported', { n: resp.headers.get('X-Total-Count') || '' }), 'ok');
}
