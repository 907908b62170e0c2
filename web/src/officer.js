// Grid officer 网格员: their cells as hexagons, the supervised things and open hazards in
// them as toggled layers, cell and feature details, the due-inspection list, and the two
// field forms (inspection, hazard report) with a location picked on the map.
import { call, esc, toast } from './api.js';
import { t, tv, fmtDate, onLangChange } from './i18n.js';
import { attrValue } from './attrs.js';
import { setGeoJSON, addLayerOnce, bboxOf, fitTo, renderLegend, emptyFC, point } from './map.js';
import { addFeatureLayers, legendItems, allLayerIds } from './layers.js';
import { showPanel, panelLoading, panelError, kv, isPhone, revealMap } from './ui.js';
import { openHazard } from './hazards.js';
import { dossierButton } from './dossier.js'; // enterprise dossier
import * as checkin from './checkin.js'; // check-in
import { photoPicker } from './photos.js';

const KINDS = ['underground_spaces', 'pipelines', 'gas_occupancy_sites', 'fishing_ports', 'enterprises', 'fire_stations', 'hazards'];

export async function start(ctx) {
  const { map, me, hooks } = ctx;
  document.getElementById('officer-units').textContent =
    (me.units || []).map((u) => `${u.name}（${u.code}，${u.cells}）`).join('；');

  const cells = await call('/api/v1/me/cells');
  cellsFC = cells;
  setGeoJSON(map, 'my-cells', cells);
  addLayerOnce(map, {
    id: 'my-cells-fill', type: 'fill', source: 'my-cells',
    paint: { 'fill-color': ['case', ['>', ['get', 'open_hazards'], 0], '#fdd49e', '#c7e9c0'], 'fill-opacity': 0.45 },
  });
  addLayerOnce(map, { id: 'my-cells-line', type: 'line', source: 'my-cells', paint: { 'line-color': '#238b45', 'line-width': 1.5 } });
  setGeoJSON(map, 'selected-cell', emptyFC());
  addLayerOnce(map, { id: 'selected-cell-line', type: 'line', source: 'selected-cell', paint: { 'line-color': '#08306b', 'line-width': 3 } });
  const ids = addFeatureLayers(map, KINDS);
  setGeoJSON(map, 'picked', emptyFC());
  addLayerOnce(map, {
    id: 'picked-point', type: 'circle', source: 'picked',
    paint: { 'circle-radius': 8, 'circle-color': '#000', 'circle-opacity': 0.2, 'circle-stroke-color': '#000', 'circle-stroke-width': 2 },
  });
  renderLegend(map, document.getElementById('legend'), [
    { items: [{ key: 'my_cells', color: '#c7e9c0', shape: 'fill' }] },
    { items: legendItems(ids) },
  ]);
  fitTo(map, bboxOf(cells), { padding: isPhone() ? 20 : 60 });

  hooks.cellCount = () => cellsFC.features.length;
  hooks.openCell = (h3) => openCell(map, h3);
  // As a map click would: the form waiting for a point gets it, else both forms do.
  hooks.pickLocation = (lon, lat) => {
    if (picking) setPicked(map, lon, lat);
    else { setPicked(map, lon, lat, 'inspection'); setPicked(map, lon, lat, 'hazard'); }
  };

  const featureLayers = allLayerIds(ids);
  map.on('click', (e) => {
    if (picking) {
      setPicked(map, e.lngLat.lng, e.lngLat.lat);
      return;
    }
    const hits = map.queryRenderedFeatures(e.point, { layers: featureLayers.filter((id) => map.getLayer(id)) });
    if (hits.length) {
      openFeature(map, hits[0], e.lngLat);
      return;
    }
    const cellHit = map.queryRenderedFeatures(e.point, { layers: ['my-cells-fill'] });
    if (cellHit.length) openCell(map, cellHit[0].properties.cell);
  });
  for (const id of [...featureLayers, 'my-cells-fill']) {
    map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
  }

  initForms(map);
  checkin.init({ onOrderChange: () => loadDue(map) }); // check-in
  await loadDue(map);
  onLangChange(() => loadDue(map, true));
}

let cellsFC = emptyFC();

async function refreshCells(map) {
  cellsFC = await call('/api/v1/me/cells');
  setGeoJSON(map, 'my-cells', cellsFC);
}

// ---- cell and feature details -------------------------------------------------------

const FEATURE_FIELDS = {
  enterprises: ['risk_level', 'industry', 'major_hazard', 'employees', 'address'],
  pipelines: ['medium', 'class', 'pressure', 'diameter_mm', 'operator'],
  gas_occupancy_sites: ['occupant', 'status', 'deadline', 'pipeline_code'],
  fire_stations: ['type', 'status', 'vehicles', 'staff'],
  fishing_ports: ['level', 'vessels'],
  underground_spaces: ['use', 'levels', 'floor_area_m2', 'depth_m'],
};

function hazardList(hazards) {
  if (!hazards.length) return `<p class="muted">${esc(t('no_open_hazards'))}</p>`;
  return '<ul class="list hazards">' + hazards.map((h) =>
    `<li data-hazard="${h.id}" class="lvl-${esc(h.level)}"><b>${esc(tv('lvl_', h.level))}</b> ${esc(h.category)} · ${esc(tv('status_', h.status))}` +
    `${h.overdue ? ` · <span class="overdue">${esc(t('overdue'))}</span>` : ''}<br><small>${esc(h.code)} ${esc(h.description)}</small></li>`).join('') + '</ul>';
}

function bindHazardClicks(b, map) {
  for (const li of b.querySelectorAll('li[data-hazard]')) {
    li.addEventListener('click', () => openHazard(li.dataset.hazard, { onChanged: () => refreshTiles(map) }));
  }
}

function refreshTiles(map) {
  if (map.getSource('tiles-hazards')) map.refreshTiles('tiles-hazards');
}

async function openCell(map, h3) {
  panelLoading();
  let c;
  try {
    c = await call(`/api/v1/cells/${encodeURIComponent(h3)}`, { quiet: true });
  } catch (err) {
    panelError(err.message);
    return null;
  }
  const hex = cellsFC.features.find((x) => x.properties.cell === h3);
  setGeoJSON(map, 'selected-cell', hex ? { type: 'FeatureCollection', features: [hex] } : emptyFC());
  showPanel((b) => {
    const byKind = {};
    for (const ft of c.features) (byKind[ft.kind] ||= []).push(ft);
    b.innerHTML = `<h3>${esc(t('cell'))} ${esc(c.cell)}</h3>` +
      kv([[t('unit'), c.unit_name ? `${c.unit_name} (${c.unit_code})` : '—']]) +
      `<h4>${esc(t('open_hazards'))} (${c.hazards.length})</h4>` + hazardList(c.hazards) +
      `<h4>${esc(t('contents'))}</h4>` +
      Object.entries(byKind).map(([kind, fs]) => `<details open><summary>${esc(t('layer_' + kind))} (${fs.length})</summary><ul class="list">` +
        fs.map((ft) => `<li data-kind="${esc(kind)}" data-code="${esc(ft.code)}"><b>${esc(ft.name || ft.code)}</b><br><small>${esc(ft.code)} ` +
          `${esc((FEATURE_FIELDS[kind] || []).map((k) => attrValue(k, ft.attributes?.[k])).filter((v) => v !== '').join(' · '))}</small>` +
          `${kind === 'enterprises' ? '<br>' + dossierButton(ft.code) : ''}</li>`).join('') +
        '</ul></details>').join('');
    bindHazardClicks(b, map);
    for (const li of b.querySelectorAll('li[data-kind="enterprises"]')) {
      li.addEventListener('click', () => prefillInspection(li.dataset.code));
    }
  }, 'ok');
  return c;
}

async function openFeature(map, f, lngLat) {
  const kind = f.sourceLayer;
  const p = f.properties;
  if (p.count !== undefined) {
    // An aggregated point: zoom in to see its members.
    map.easeTo({ center: lngLat, zoom: Math.max(map.getZoom() + 2, 12.5) });
    return;
  }
  if (kind === 'hazards') {
    openHazard(p.id, { onChanged: () => refreshTiles(map) });
    return;
  }
  const code = p.uscc || p.code;
  const fields = ['name', 'uscc', 'code', ...(FEATURE_FIELDS[kind] || []), 'cell'];
  const head = (b) => {
    b.innerHTML = `<h3>${esc(t('layer_' + kind))}: ${esc(p.name || code)}</h3>` +
      kv(fields.filter((k) => p[k] !== undefined).map((k) => [t('f_' + k), attrValue(k, p[k], true)])) +
      (kind === 'enterprises' && p.uscc ? dossierButton(p.uscc) : ''); // enterprise dossier
  };
  showPanel(head, 'ok');
  if (kind === 'enterprises') prefillInspection(p.uscc, f.geometry.coordinates);
  if (!p.cell) return;
  try {
    const c = await call(`/api/v1/cells/${encodeURIComponent(p.cell)}`, { quiet: true });
    const mine = c.hazards.filter((h) => h.feature && h.feature.code === code);
    showPanel((b) => {
      head(b);
      b.insertAdjacentHTML('beforeend', `<h4>${esc(t('open_hazards'))} (${mine.length})</h4>` + hazardList(mine));
      bindHazardClicks(b, map);
    }, 'ok');
  } catch (err) {
    // A line or area reaching into another unit's cell: its details still show.
    showPanel((b) => { head(b); b.insertAdjacentHTML('beforeend', `<p class="muted">${esc(err.message)}</p>`); }, 'ok');
  }
}

// ---- due inspections ----------------------------------------------------------------

let dueItems = [];

async function loadDue(map, redrawOnly = false) {
  if (!redrawOnly) {
    const out = await call('/api/v1/me/inspections/due?limit=200' + await checkin.dueQuery()); // check-in: walking order
    dueItems = out.items;
    document.getElementById('due-total').textContent = out.total;
  }
  const ul = document.getElementById('due-list');
  ul.innerHTML = '';
  for (const d of dueItems) {
    const li = document.createElement('li');
    li.dataset.id = d.enterprise_id;
    li.dataset.uscc = d.uscc;
    li.innerHTML = `<span class="dot" style="--c:${riskColor(d.risk_level)}"></span><b>${esc(d.name)}</b><br>` +
      `<small>${esc(t('risk_' + d.risk_level))} · ${esc(t('every_' + d.every))} · ` +
      `${esc(d.due_at ? t('due_since', { d: fmtDate(d.due_at) }) : t('due_never'))}</small>`;
    li.addEventListener('click', () => {
      revealMap(map);
      map.flyTo({ center: [d.location.lon, d.location.lat], zoom: Math.max(map.getZoom(), 16) });
      prefillInspection(d.uscc, [d.location.lon, d.location.lat]);
    });
    checkin.decorateDue(li, d); // check-in
    ul.appendChild(li);
  }
  checkin.afterDue(dueItems); // check-in
}

function riskColor(level) {
  return { 重大: '#d7191c', 较大: '#f17c1d', 一般: '#f2cc0c', 低: '#2b83ba' }[level] || '#999';
}

// ---- forms and the picked location --------------------------------------------------

let picking = null; // 'inspection' | 'hazard' while waiting for a map click
const picked = { inspection: null, hazard: null };
let mapRef = null;

function setPicked(map, lon, lat, target) {
  const which = target || picking || 'hazard';
  picked[which] = [lon, lat];
  document.getElementById(which === 'inspection' ? 'insp-location' : 'hz-location').textContent = `${lon.toFixed(6)}, ${lat.toFixed(6)}`;
  setGeoJSON(map, 'picked', { type: 'FeatureCollection', features: [point(lon, lat)] });
  stopPicking(map);
}

function stopPicking(map) {
  picking = null;
  map.getCanvas().style.cursor = '';
  for (const b of document.querySelectorAll('button.pick')) b.classList.remove('active');
}

function prefillInspection(uscc, coords) {
  document.getElementById('insp-enterprise').value = uscc;
  if (coords && mapRef) setPicked(mapRef, coords[0], coords[1], 'inspection');
}

function initForms(map) {
  mapRef = map;
  // photos: each form takes the step's photos (#insp-photos, #hz-photos).
  const inspPhotos = photoPicker(document.getElementById('inspection-form'), 'insp-photos');
  const hzPhotos = photoPicker(document.getElementById('hazard-form'), 'hz-photos');
  for (const b of document.querySelectorAll('button.pick')) {
    b.addEventListener('click', () => {
      if (picking === b.dataset.target) {
        stopPicking(map);
        return;
      }
      picking = b.dataset.target;
      b.classList.add('active');
      map.getCanvas().style.cursor = 'crosshair';
      toast(t('picking'), 'info');
      revealMap(map);
    });
  }

  document.getElementById('inspection-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const loc = picked.inspection;
    if (!loc) { toast(t('need_location'), 'error'); return; }
    const body = {
      enterprise: document.getElementById('insp-enterprise').value.trim(),
      result: document.getElementById('insp-result').value,
      hazards_found: Number(document.getElementById('insp-hazards').value || 0),
      notes: document.getElementById('insp-notes').value.trim() || undefined,
      lon: loc[0], lat: loc[1],
      position: await checkin.position(), // check-in: undefined when unlocated
    };
    try {
      const photos = await inspPhotos.upload();
      if (photos.length) body.photos = photos;
      checkin.showVerdict(await call('/api/v1/inspections', { method: 'POST', body })); // check-in
      toast(t('inspection_saved'), 'ok');
      e.target.reset();
      inspPhotos.reset();
      await loadDue(map);
    } catch { /* shown in #toast */ }
  });

  document.getElementById('hazard-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const loc = picked.hazard;
    if (!loc) { toast(t('need_location'), 'error'); return; }
    const v = (id) => document.getElementById(id).value.trim();
    const body = {
      level: v('hz-level'), category: v('hz-category'), description: v('hz-description'),
      lon: loc[0], lat: loc[1],
    };
    if (v('hz-deadline')) body.deadline = v('hz-deadline');
    if (v('hz-feature-kind') && v('hz-feature-code')) {
      body.feature_kind = v('hz-feature-kind');
      body.feature_code = v('hz-feature-code');
    }
    try {
      const photos = await hzPhotos.upload();
      if (photos.length) body.photos = photos;
      const h = await call('/api/v1/hazards', { method: 'POST', body });
      toast(t('hazard_saved', { code: h.code }), 'ok');
      e.target.reset();
      hzPhotos.reset();
      refreshTiles(map);
      await refreshCells(map);
    } catch { /* shown in #toast */ }
  });
}

