// The map: MapLibre over the service's own vector tiles. The base map is the areas layer
// (districts as land over a water-coloured background, streets and communities outlined,
// Chinese names drawn with the browser's CJK fonts); the role views add their layers.
import * as maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { cellToBoundary } from 'h3-js';
import { getToken } from './api.js';
import { t, onLangChange } from './i18n.js';

/* global __LABEL_FONT__ */
maplibregl.setWorkerUrl('/assets/maplibre-gl-worker.mjs');

export const SHANGHAI = [[120.85, 30.67], [122.0, 31.88]];
export const ATTRIBUTION = '© OpenStreetMap contributors, geoBoundaries';
export const LABEL_FONT = ['SafeGrid Sans'];

// tileURL is the absolute template of one /tiles layer (MapLibre needs absolute URLs).
export function tileURL(layer) {
  return `${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt`;
}

function baseStyle() {
  const style = {
    version: 8,
    sources: {
      areas: {
        type: 'vector', tiles: [tileURL('areas')], minzoom: 0, maxzoom: 16,
        bounds: [120.85, 30.67, 122.0, 31.88], attribution: ATTRIBUTION,
      },
    },
    layers: [
      { id: 'water', type: 'background', paint: { 'background-color': '#b7d0e3' } },
      {
        id: 'land', type: 'fill', source: 'areas', 'source-layer': 'areas',
        filter: ['==', ['get', 'level'], 'district'], paint: { 'fill-color': '#f3f0e8' },
      },
      {
        id: 'community-line', type: 'line', source: 'areas', 'source-layer': 'areas', minzoom: 12,
        filter: ['==', ['get', 'level'], 'community'],
        paint: { 'line-color': '#b9b2a6', 'line-width': 0.6, 'line-dasharray': [3, 2] },
      },
      {
        id: 'street-line', type: 'line', source: 'areas', 'source-layer': 'areas', minzoom: 9,
        filter: ['==', ['get', 'level'], 'street'], paint: { 'line-color': '#9c9486', 'line-width': 0.9 },
      },
      {
        id: 'district-line', type: 'line', source: 'areas', 'source-layer': 'areas',
        filter: ['==', ['get', 'level'], 'district'], paint: { 'line-color': '#6f665a', 'line-width': 1.6 },
      },
    ],
  };
  // The label layers go on top of everything (see addLabels), so role layers never hide them.
  if (__LABEL_FONT__) {
    style['font-faces'] = { [LABEL_FONT[0]]: [{ url: location.origin + __LABEL_FONT__ }] };
  }
  return style;
}

function labelLayer(id, level, minzoom, maxzoom, size, color) {
  return {
    id, type: 'symbol', source: 'areas', 'source-layer': 'areas', minzoom, maxzoom,
    filter: ['==', ['get', 'level'], level],
    layout: {
      'text-field': ['get', 'name'], 'text-font': LABEL_FONT, 'text-size': size,
      'text-max-width': 8, 'symbol-avoid-edges': false, 'text-padding': 4,
    },
    paint: { 'text-color': color, 'text-halo-color': '#ffffff', 'text-halo-width': 1.4 },
  };
}

// addLabels (re)adds the area names on top of the other layers.
export function addLabels(map) {
  for (const id of ['label-community', 'label-street', 'label-district']) {
    if (map.getLayer(id)) map.removeLayer(id);
  }
  map.addLayer(labelLayer('label-community', 'community', 14, 24, 11, '#6d665c'));
  map.addLayer(labelLayer('label-street', 'street', 10.5, 14, 12, '#4d463d'));
  map.addLayer(labelLayer('label-district', 'district', 0, 10.5, 14, '#2f2a24'));
}

// createMap builds the map in #map; the promise resolves once the style has loaded.
export function createMap(container) {
  const map = new maplibregl.Map({
    container,
    style: baseStyle(),
    bounds: SHANGHAI,
    maxBounds: [[119.5, 30.0], [123.3, 32.6]],
    localIdeographFontFamily: '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif',
    attributionControl: { compact: false },
    // The service's tiles (and the risk map's, under /api/v1/risk/tiles) need the bearer
    // token; nothing else is ever fetched.
    transformRequest: (url) => {
      if ((url.startsWith(location.origin + '/tiles/') || url.startsWith(location.origin + '/api/v1/risk/tiles/')) && getToken()) {
        return { url, headers: { Authorization: 'Bearer ' + getToken() } };
      }
      return { url };
    },
    canvasContextAttributes: { preserveDrawingBuffer: true }, // so screenshots see the map
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  const loaded = new Promise((resolve) => map.once('load', () => {
    addLabels(map);
    resolve(map);
  }));
  return { map, loaded };
}

// idle resolves when the map has drawn everything it has been given.
export function idle(map) {
  return new Promise((resolve) => {
    if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) {
      // One more frame, in case a source was set in this tick.
      map.once('idle', () => resolve());
      map.triggerRepaint();
    } else {
      map.once('idle', () => resolve());
    }
  });
}

// setGeoJSON creates or updates a GeoJSON source.
export function setGeoJSON(map, id, data, extra = {}) {
  const src = map.getSource(id);
  if (src) src.setData(data);
  else map.addSource(id, { type: 'geojson', data, ...extra });
}

// addLayerOnce adds a layer unless it exists, below the labels.
export function addLayerOnce(map, layer) {
  if (map.getLayer(layer.id)) return;
  const before = map.getLayer('label-community') ? 'label-community' : undefined;
  map.addLayer(layer, before);
}

export function removeLayers(map, ids) {
  for (const id of ids) if (map.getLayer(id)) map.removeLayer(id);
}

export function emptyFC() {
  return { type: 'FeatureCollection', features: [] };
}

// bboxOf returns [[w,s],[e,n]] of a FeatureCollection's coordinates, or null.
export function bboxOf(fc) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(visit);
  };
  for (const f of fc.features || []) if (f.geometry) visit(f.geometry.coordinates);
  return Number.isFinite(w) ? [[w, s], [e, n]] : null;
}

export function fitTo(map, bbox, opts = {}) {
  if (!bbox) return;
  map.fitBounds(bbox, { padding: 40, maxZoom: 16, duration: 0, ...opts });
}

// cellFeatures turns H3 cell ids into hexagon features (properties per cell from props).
export function cellFeatures(cells, props = () => ({})) {
  return {
    type: 'FeatureCollection',
    features: cells.map((c) => {
      const ring = cellToBoundary(c, true);
      return { type: 'Feature', properties: { cell: c, ...props(c) }, geometry: { type: 'Polygon', coordinates: [ring] } };
    }),
  };
}

// circle is a polygon approximating a circle of radius metres around [lon, lat].
export function circle(lon, lat, radiusM, props = {}, steps = 48) {
  const ring = [];
  const dLat = radiusM / 111320;
  const dLon = radiusM / (111320 * Math.cos((lat * Math.PI) / 180));
  for (let i = 0; i <= steps; i++) {
    const a = (2 * Math.PI * i) / steps;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return { type: 'Feature', properties: props, geometry: { type: 'Polygon', coordinates: [ring] } };
}

export function point(lon, lat, props = {}) {
  return { type: 'Feature', properties: props, geometry: { type: 'Point', coordinates: [lon, lat] } };
}

// Legend: rows of swatches, optionally with a toggle that shows or hides map layers.
// items: [{key, color, shape: 'dot'|'line'|'fill', layers?: [ids], toggle?: name, checked?}]
export function renderLegend(map, el, sections) {
  const draw = () => {
    el.innerHTML = '';
    const h = document.createElement('h3');
    h.textContent = t('legend');
    h.title = t('legend');
    h.addEventListener('click', () => el.classList.toggle('collapsed'));
    el.appendChild(h);
    for (const sec of sections) {
      if (sec.title) {
        const st = document.createElement('h4');
        st.textContent = t(sec.title);
        el.appendChild(st);
      }
      for (const it of sec.items) {
        const row = document.createElement('label');
        row.className = 'legend-row';
        if (it.toggle) {
          const cb = document.createElement('input');
          cb.type = 'checkbox';
          cb.className = 'layer-toggle';
          cb.dataset.layer = it.toggle;
          cb.checked = it.checked !== false;
          cb.addEventListener('change', () => {
            it.checked = cb.checked;
            for (const id of it.layers || []) {
              if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', cb.checked ? 'visible' : 'none');
            }
          });
          row.appendChild(cb);
        }
        const sw = document.createElement('span');
        sw.className = 'swatch ' + (it.shape || 'dot');
        sw.style.setProperty('--c', it.color);
        row.appendChild(sw);
        const tx = document.createElement('span');
        tx.textContent = it.label ? it.label() : t(it.key);
        row.appendChild(tx);
        el.appendChild(row);
        for (const sub of it.sub || []) {
          const r2 = document.createElement('div');
          r2.className = 'legend-sub';
          const s2 = document.createElement('span');
          s2.className = 'swatch ' + (sub.shape || 'dot');
          s2.style.setProperty('--c', sub.color);
          r2.appendChild(s2);
          r2.appendChild(document.createTextNode(t(sub.key)));
          el.appendChild(r2);
        }
      }
    }
    el.hidden = false;
  };
  // On a phone the legend starts folded (a tap on its title opens it).
  if (window.matchMedia('(max-width: 760px)').matches) el.classList.add('collapsed');
  draw();
  return onLangChange(draw);
}
