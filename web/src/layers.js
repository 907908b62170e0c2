// The supervised things as map layers over the service's vector tiles (scoped by the
// server: an officer's tiles hold their cells' features, a street office's its street's).
// Below zoom 12 enterprises and hazards come aggregated per H3 cell with a count.
import { tileURL, addLayerOnce } from './map.js';

export const RISK_COLORS = { 重大: '#d7191c', 较大: '#f17c1d', 一般: '#f2cc0c', 低: '#2b83ba' };
export const HAZARD_COLORS = { 重大: '#7a0177', 一般: '#e7298a' };
export const KIND_COLORS = {
  pipelines: '#b15928',
  gas_occupancy_sites: '#c51b7d',
  underground_spaces: '#6a51a3',
  fire_stations: '#b2182b',
  fishing_ports: '#1f78b4',
};

const isAgg = ['has', 'count'];
const isPoint = ['==', ['geometry-type'], 'Point'];
const isPolygon = ['==', ['geometry-type'], 'Polygon'];

function source(map, kind) {
  const id = 'tiles-' + kind;
  if (!map.getSource(id)) {
    map.addSource(id, { type: 'vector', tiles: [tileURL(kind)], minzoom: 0, maxzoom: 16 });
  }
  return id;
}

// The map layers of each toggle (data-layer value) and how to draw them.
export const FEATURE_LAYERS = {
  underground_spaces: (src) => [
    { id: 'underground_spaces-fill', type: 'fill', source: src, 'source-layer': 'underground_spaces',
      paint: { 'fill-color': KIND_COLORS.underground_spaces, 'fill-opacity': 0.3 } },
    { id: 'underground_spaces-line', type: 'line', source: src, 'source-layer': 'underground_spaces',
      paint: { 'line-color': KIND_COLORS.underground_spaces, 'line-width': 1 } },
  ],
  pipelines: (src) => [
    { id: 'pipelines-line', type: 'line', source: src, 'source-layer': 'pipelines',
      paint: {
        'line-color': ['match', ['get', 'medium'], 'oil', '#6b3d12', KIND_COLORS.pipelines],
        'line-width': ['match', ['get', 'pressure'], '高压', 3, '次高压', 2.4, '中压', 1.8, 1.3],
      } },
  ],
  gas_occupancy_sites: (src) => [
    { id: 'gas_occupancy_sites-fill', type: 'fill', source: src, 'source-layer': 'gas_occupancy_sites', filter: isPolygon,
      paint: { 'fill-color': KIND_COLORS.gas_occupancy_sites, 'fill-opacity': 0.45 } },
    { id: 'gas_occupancy_sites-point', type: 'circle', source: src, 'source-layer': 'gas_occupancy_sites', filter: isPoint,
      paint: { 'circle-color': KIND_COLORS.gas_occupancy_sites, 'circle-radius': 5, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } },
  ],
  fishing_ports: (src) => [
    { id: 'fishing_ports-fill', type: 'fill', source: src, 'source-layer': 'fishing_ports', filter: isPolygon,
      paint: { 'fill-color': KIND_COLORS.fishing_ports, 'fill-opacity': 0.35 } },
    { id: 'fishing_ports-point', type: 'circle', source: src, 'source-layer': 'fishing_ports', filter: isPoint,
      paint: { 'circle-color': KIND_COLORS.fishing_ports, 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } },
  ],
  enterprises: (src) => [
    { id: 'enterprises-agg', type: 'circle', source: src, 'source-layer': 'enterprises', filter: isAgg,
      paint: {
        'circle-color': ['case', ['>', ['get', 'major'], 0], RISK_COLORS['重大'], '#8c8c8c'],
        'circle-opacity': 0.75,
        'circle-radius': ['interpolate', ['linear'], ['sqrt', ['get', 'count']], 1, 3, 30, 14],
      } },
    { id: 'enterprises-point', type: 'circle', source: src, 'source-layer': 'enterprises', filter: ['!', isAgg],
      paint: {
        'circle-color': ['match', ['get', 'risk_level'], '重大', RISK_COLORS['重大'], '较大', RISK_COLORS['较大'],
          '一般', RISK_COLORS['一般'], RISK_COLORS['低']],
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 3.5, 17, 7],
        'circle-stroke-color': '#333', 'circle-stroke-width': 0.6,
      } },
  ],
  fire_stations: (src) => [
    { id: 'fire_stations-point', type: 'circle', source: src, 'source-layer': 'fire_stations',
      paint: {
        'circle-color': ['case', ['==', ['get', 'status'], 'planned'], '#ffffff', KIND_COLORS.fire_stations],
        'circle-radius': 7, 'circle-stroke-color': KIND_COLORS.fire_stations, 'circle-stroke-width': 2.5,
      } },
  ],
  hazards: (src) => [
    { id: 'hazards-agg', type: 'circle', source: src, 'source-layer': 'hazards',
      filter: ['all', isAgg, ['>', ['get', 'open'], 0]],
      paint: {
        'circle-color': HAZARD_COLORS['一般'], 'circle-opacity': 0.7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1,
        'circle-radius': ['interpolate', ['linear'], ['sqrt', ['get', 'open']], 1, 3, 30, 13],
      } },
    { id: 'hazards-point', type: 'circle', source: src, 'source-layer': 'hazards',
      filter: ['all', ['!', isAgg], ['!=', ['get', 'status'], 'closed']],
      paint: {
        'circle-color': ['match', ['get', 'level'], '重大', HAZARD_COLORS['重大'], HAZARD_COLORS['一般']],
        'circle-radius': ['match', ['get', 'level'], '重大', 6.5, 4.5],
        'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5,
      } },
  ],
};

// addFeatureLayers adds the given kinds (in drawing order) and returns kind -> layer ids.
export function addFeatureLayers(map, kinds) {
  const ids = {};
  for (const kind of kinds) {
    const src = source(map, kind);
    ids[kind] = [];
    for (const l of FEATURE_LAYERS[kind](src)) {
      addLayerOnce(map, l);
      ids[kind].push(l.id);
    }
  }
  return ids;
}

// legendItems describes the toggles and swatches of the feature layers.
export function legendItems(ids) {
  const items = [];
  const add = (kind, color, shape, sub) => {
    if (ids[kind]) items.push({ key: 'layer_' + kind, toggle: kind, layers: ids[kind], color, shape, sub });
  };
  add('enterprises', RISK_COLORS['重大'], 'dot', Object.entries(RISK_COLORS).map(([k, c]) => ({ key: 'risk_' + k, color: c })));
  add('hazards', HAZARD_COLORS['重大'], 'dot', Object.entries(HAZARD_COLORS).map(([k, c]) => ({ key: 'lvl_' + k, color: c })));
  add('pipelines', KIND_COLORS.pipelines, 'line');
  add('gas_occupancy_sites', KIND_COLORS.gas_occupancy_sites, 'dot');
  add('underground_spaces', KIND_COLORS.underground_spaces, 'fill');
  add('fire_stations', KIND_COLORS.fire_stations, 'ring');
  add('fishing_ports', KIND_COLORS.fishing_ports, 'dot');
  return items;
}

export function allLayerIds(ids) {
  return Object.values(ids).flat();
}
