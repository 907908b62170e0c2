// District safety bureau 区安监局: the district outlined with its streets, the figures per
// street, its hazards across the streets (a street filter; a row flies the map to its
// hazard), XLSX/CSV export of the same filters, and in #panel the hazard with 挂牌督办
// (escalate a 一般 hazard to 重大 with a note). The bureau makes no lifecycle step.
import { call, download, esc, qs, toast } from './api.js';
import { t, tv, fmtPct, fmtDate, onLangChange, addStrings } from './i18n.js';
import { setGeoJSON, addLayerOnce, renderLegend, emptyFC, point, fitTo } from './map.js';
import { addFeatureLayers, legendItems } from './layers.js';
import { openHazard } from './hazards.js';
import { revealMap } from './ui.js';
import { enterprisePopups } from './dossier.js'; // enterprise dossier

addStrings({
  role_district: ['区安监局', 'District bureau'],
  district_title: ['区隐患督办', 'District hazards'],
  district_streets_title: ['各街道/镇', 'Streets and towns'],
  district_street: ['街道/镇', 'Street'],
  district_total: ['全区合计', 'District total'],
  no_street: ['未标注街道', 'No street'],
  district_code_district: ['区（区安监局必选）', 'District (required for a district bureau)'],
  district_code_label: ['区', 'District'],
  escalate_title: ['挂牌督办', 'Put under supervision'],
  escalate_hint: ['将一般隐患升级为重大隐患并挂牌督办，需填写督办理由。', 'Raises a 一般 hazard to 重大 and lists it for supervision; a reason is required.'],
  escalate_note: ['督办理由', 'Reason'],
  escalate_submit: ['挂牌督办', 'Escalate'],
  escalated_ok: ['已挂牌督办：{c}', 'Put under supervision: {c}'],
  escalated_step: ['挂牌督办（一般 → 重大）', 'Put under supervision (一般 → 重大)'],
  escalate_already: ['重大隐患，已挂牌督办。', 'A 重大 hazard: under supervision already.'],
  escalate_not_open: ['已验收或销号的隐患不能挂牌督办。', 'A verified or closed hazard cannot be escalated.'],
});

const PAGE = 50;
let district = '';
let summary = null;
let rows = [];
let total = 0;
let offset = 0;
let mapRef = null;
const $ = (id) => document.getElementById(id);

export async function start(ctx) {
  const { map, me } = ctx;
  mapRef = map;
  district = me.district_code;

  // The district and its streets, from the base map's areas tiles.
  addLayerOnce(map, {
    id: 'my-district-fill', type: 'fill', source: 'areas', 'source-layer': 'areas',
    filter: ['all', ['==', ['get', 'level'], 'district'], ['==', ['get', 'code'], district]],
    paint: { 'fill-color': '#fff7bc', 'fill-opacity': 0.45 },
  });
  addLayerOnce(map, {
    id: 'my-district-streets-line', type: 'line', source: 'areas', 'source-layer': 'areas', minzoom: 9,
    filter: ['all', ['==', ['get', 'level'], 'street'], ['==', ['get', 'parent_code'], district]],
    paint: { 'line-color': '#e08214', 'line-width': 1.2 },
  });
  addLayerOnce(map, {
    id: 'my-district-street-selected', type: 'fill', source: 'areas', 'source-layer': 'areas', minzoom: 9,
    filter: ['==', ['get', 'code'], '__none__'],
    paint: { 'fill-color': '#e08214', 'fill-opacity': 0.18 },
  });
  addLayerOnce(map, {
    id: 'my-district-line', type: 'line', source: 'areas', 'source-layer': 'areas',
    filter: ['all', ['==', ['get', 'level'], 'district'], ['==', ['get', 'code'], district]],
    paint: { 'line-color': '#b35806', 'line-width': 3 },
  });
  const ids = addFeatureLayers(map, ['enterprises', 'pipelines', 'underground_spaces', 'hazards']);
  setGeoJSON(map, 'selected-hazard', emptyFC());
  addLayerOnce(map, {
    id: 'selected-hazard-ring', type: 'circle', source: 'selected-hazard',
    paint: { 'circle-radius': 12, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#08306b', 'circle-stroke-width': 3 },
  });
  renderLegend(map, $('legend'), [{ items: legendItems(ids) }]);
  map.on('click', (e) => {
    const hit = map.queryRenderedFeatures(e.point, { layers: ['hazards-point'] });
    if (hit.length) selectHazard(hit[0].properties.id, hit[0].geometry.coordinates);
  });
  enterprisePopups(map, ['hazards-point']); // enterprise dossier

  // Fly to the district: the bounds of the features the bureau may see.
  const tj = await call('/tiles/hazards.json');
  if (tj.bounds) fitTo(map, [[tj.bounds[0], tj.bounds[1]], [tj.bounds[2], tj.bounds[3]]]);

  $('d-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    offset = 0;
    loadHazards();
  });
  $('d-page-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadHazards(); });
  $('d-page-next').addEventListener('click', () => { if (offset + PAGE < total) { offset += PAGE; loadHazards(); } });
  $('d-export-xlsx').addEventListener('click', () => exportAs('xlsx'));
  $('d-export-csv').addEventListener('click', () => exportAs('csv'));
  $('d-filter-street').addEventListener('change', (e) => highlightStreet(e.target.value));

  await Promise.all([loadSummary(true), loadHazards()]);
  onLangChange(() => { drawSummary(); drawHazards(); });
}

// ---- streets ------------------------------------------------------------------------

async function loadSummary(first) {
  summary = await call(`/api/v1/districts/${district}/summary`);
  $('district-name').textContent = `${summary.name} (${summary.district})`;
  if (first) {
    const sel = $('d-filter-street');
    for (const s of summary.streets) {
      if (!s.code) continue;
      const o = document.createElement('option');
      o.value = s.code;
      o.textContent = s.name;
      sel.appendChild(o);
    }
  }
  drawSummary();
}

function drawSummary() {
  if (!summary) return;
  const tb = document.querySelector('#district-streets tbody');
  tb.innerHTML = '';
  const line = (s, label, code) => {
    const tr = document.createElement('tr');
    if (code !== null) tr.dataset.code = code;
    else tr.className = 'total';
    tr.innerHTML = `<td>${esc(label)}</td><td data-metric="hazards">${s.hazards}</td>` +
      `<td data-metric="overdue" class="${s.overdue ? 'overdue' : ''}">${s.overdue}</td>` +
      `<td data-metric="rectification_rate" data-value="${s.rectification_rate ?? ''}">${fmtPct(s.rectification_rate)}</td>`;
    if (code) {
      tr.addEventListener('click', () => {
        $('d-filter-street').value = code;
        highlightStreet(code);
        offset = 0;
        loadHazards();
      });
    }
    tb.appendChild(tr);
  };
  for (const s of summary.streets) line(s, s.name || t('no_street'), s.code);
  line(summary.total, t('district_total'), null);
}

function highlightStreet(code) {
  mapRef.setFilter('my-district-street-selected', ['==', ['get', 'code'], code || '__none__']);
}

// ---- the hazard table ---------------------------------------------------------------

function filters() {
  return {
    street: $('d-filter-street').value, level: $('d-filter-level').value, status: $('d-filter-status').value,
    overdue: $('d-filter-overdue').checked ? 'true' : '',
  };
}

async function loadHazards() {
  const out = await call(`/api/v1/districts/${district}/hazards` + qs({ ...filters(), limit: PAGE, offset }));
  rows = out.items;
  total = out.total;
  drawHazards();
}

function drawHazards() {
  $('d-hazard-total').textContent = total;
  $('d-page-info').textContent = total
    ? t('page_of', { a: offset + 1, b: Math.min(offset + PAGE, total), n: total }) : '';
  $('d-page-prev').disabled = offset === 0;
  $('d-page-next').disabled = offset + PAGE >= total;
  const tb = document.querySelector('#d-hazard-table tbody');
  tb.innerHTML = '';
  for (const h of rows) {
    const tr = document.createElement('tr');
    tr.dataset.id = h.id;
    tr.dataset.lon = h.location.lon;
    tr.dataset.lat = h.location.lat;
    tr.dataset.street = h.street_code || '';
    if (h.overdue) tr.classList.add('is-overdue');
    tr.innerHTML = `<td>${esc(h.code)}</td><td class="lvl-${esc(h.level)}">${esc(tv('lvl_', h.level))}</td>` +
      `<td>${esc(h.category)}</td><td>${esc(tv('status_', h.status))}${h.overdue ? ` <span class="overdue">${esc(t('overdue'))}</span>` : ''}</td>` +
      `<td>${esc(h.deadline || '—')}</td><td>${esc(h.street_name || '—')}</td><td>${esc(fmtDate(h.reported_at))}</td>`;
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
  openHazard(id, { steps: false, extra: escalateForm });
}

// escalateForm is #hazard-escalate: 挂牌督办 of a 一般 hazard that is still open.
function escalateForm(h, reopen) {
  const form = document.createElement('form');
  form.id = 'hazard-escalate';
  form.className = 'form';
  form.dataset.id = h.id;
  form.innerHTML = `<h4>${esc(t('escalate_title'))}</h4>`;
  if (h.level !== '一般') {
    form.insertAdjacentHTML('beforeend', `<p class="muted">${esc(t('escalate_already'))}</p>`);
    return form;
  }
  if (h.status === 'verified' || h.status === 'closed') {
    form.insertAdjacentHTML('beforeend', `<p class="muted">${esc(t('escalate_not_open'))}</p>`);
    return form;
  }
  form.insertAdjacentHTML('beforeend', `<p class="muted">${esc(t('escalate_hint'))}</p>` +
    `<label>${esc(t('escalate_note'))}<textarea name="note" rows="2" maxlength="2000" required></textarea></label>` +
    `<div class="row"><button id="escalate-submit" type="submit">${esc(t('escalate_submit'))}</button></div>`);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const note = (new FormData(form).get('note') || '').trim();
    try {
      const out = await call(`/api/v1/hazards/${h.id}/escalate`, { method: 'POST', body: { note, version: h.version } });
      toast(t('escalated_ok', { c: out.code }), 'ok');
      await Promise.all([loadHazards(), loadSummary(false)]);
      await reopen();
    } catch {
      // call() has shown the server's words in #toast; the panel keeps the note.
    }
  });
  return form;
}

// ---- export -------------------------------------------------------------------------

async function exportAs(format) {
  const f = filters();
  const resp = await download(`/api/v1/districts/${district}/hazards` + qs({ ...f, format }), `hazards-${f.street || district}.${format}`);
  if (resp) toast(t('exported', { n: resp.headers.get('X-Total-Count') || '' }), 'ok');
}
