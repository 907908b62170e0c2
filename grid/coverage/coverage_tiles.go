package coverage

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// Coverage as a tile layer. A map asks for dozens of tiles per view with the same
// parameters, so the land cells' coverage (covered, nearest station, distance) is
// computed once per parameter set and kept in a small cache (coverageCacheSize sets,
// least recently used out). A cached set is keyed by the normalised parameters and
// carries the version of what it was computed from (a digest of the stations' codes,
// types, statuses and places, and the areas' count and last change): a tile asked for
// after a station or an area changed recomputes it. The enterprises do not enter: a
// cell's coverage depends on the stations and the land alone.
//
// A tile holds the layer "coverage": at zoom CoverageFullZoom and deeper (or when the
// cells are coarse enough) one hexagon per land cell at the request's resolution, with
// covered, nearest_station, distance_m and minutes; at lower zooms the cells are
// aggregated to their H3 parents at CoverageTileRes(z) (cells, covered_cells, share,
// area_km2, covered_km2), so that a tile holds a few hundred hexagons at most. And the
// layer "coverage_stations": each counted station as a point with its service area (the
// land cells nearer to it than to any other counted station) against its cap.

const (
	// coverageCacheSize parameter sets are kept: about 10 MB each for Shanghai's 87,000
	// resolution-9 land cells.
	coverageCacheSize = 4
	// CoverageFullZoom is the zoom from which tiles show resolution-9 cells unaggregated:
	// a res-9 hexagon is about 12 pixels wide at zoom 12, and a zoom-12 tile holds some
	// 600 of them (50 KB); a zoom-11 tile would hold four times as many.
	CoverageFullZoom = 12
)

// CoverageTileRes is the H3 resolution coverage cells are shown at, zoom z: z-3 within
// 4…9 (a hexagon of 12 to 16 pixels), never finer than the request's resolution.
func CoverageTileRes(z, res int) int { return min(res, max(4, min(z-3, 9))) }

// coverageMap is the coverage of every land cell for one parameter set.
type coverageMap struct {
	key, version string
	p            CoverageParams
	cells        map[h3.Cell]*coverageCellInfo
	order        []h3.Cell // sorted, for the GeoJSON
	stations     []StationLoad
	bound        orb.Bound // of the land cells' centres, lon/lat

	mu      sync.Mutex
	parents map[aggKey]map[h3.Cell]*coverageAgg
}

type aggKey struct {
	res      int
	district string
}

type coverageCellInfo struct {
	covered          bool
	district, street string
	distM            float64 // to the nearest counted station, 0.1 m; -1 when none
	nearest          string
	km2              float64
}

// coverageAgg is a parent cell's share of its land cells.
type coverageAgg struct {
	cells, covered  int
	km2, coveredKm2 float64
}

// coverageKey is the normalised parameters: defaults filled, the stations left out sorted
// and unique. Additions keep their order (it names them ADD-1, ADD-2, …).
func coverageKey(p CoverageParams) string {
	p.Without = slices.Compact(slices.Sorted(slices.Values(p.Without)))
	b, _ := json.Marshal(p)
	return string(b)
}

// coverageVersionSQL digests what a coverage map depends on: the stations and the areas.
const coverageVersionSQL = `SELECT
  (SELECT coalesce(md5(string_agg(code || '|' || type || '|' || status || '|' || ST_AsEWKT(geom), ',' ORDER BY code)), '') FROM fire_stations)
  || '/' || (SELECT count(*)::text || '/' || coalesce(max(updated_at)::text, '') FROM areas WHERE level <> 'community')`

// coverageMapFor returns the coverage of the land cells for p (after WithDefaults and
// Validate), from the cache while nothing it depends on changed.
func (a *Analyst) coverageMapFor(ctx context.Context, p CoverageParams) (*coverageMap, error) {
	var version string
	if err := a.db.QueryRow(ctx, coverageVersionSQL).Scan(&version); err != nil {
		return nil, err
	}
	key := coverageKey(p)
	a.mu.Lock()
	for i, m := range a.covCache {
		if m.key == key && m.version == version {
			a.covCache = append(append([]*coverageMap{m}, a.covCache[:i]...), a.covCache[i+1:]...)
			a.mu.Unlock()
			return m, nil
		}
	}
	a.mu.Unlock()
	// The tiles of a new view arrive together: the first builds, the others wait for it.
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	a.mu.Lock()
	for _, m := range a.covCache {
		if m.key == key && m.version == version {
			a.mu.Unlock()
			return m, nil
		}
	}
	a.mu.Unlock()
	m, err := a.buildCoverageMap(ctx, p)
	if err != nil {
		return nil, err
	}
	m.key, m.version = key, version
	a.mu.Lock()
	defer a.mu.Unlock()
	a.covCache = slices.DeleteFunc(a.covCache, func(o *coverageMap) bool { return o.key == key })
	a.covCache = append([]*coverageMap{m}, a.covCache...)
	if len(a.covCache) > coverageCacheSize {
		a.covCache = a.covCache[:coverageCacheSize]
	}
	return m, nil
}

func (a *Analyst) buildCoverageMap(ctx context.Context, p CoverageParams) (*coverageMap, error) {
	st, err := a.countedStations(ctx, p)
	if err != nil {
		return nil, err
	}
	land, err := a.landCells(ctx, p.Resolution)
	if err != nil {
		return nil, err
	}
	rc := newReach(st, p.RadiusM())
	m := &coverageMap{p: p, cells: make(map[h3.Cell]*coverageCellInfo, len(land)), order: make([]h3.Cell, 0, len(land)),
		parents: map[aggKey]map[h3.Cell]*coverageAgg{}, bound: orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}}
	for _, lc := range land {
		c := &coverageCellInfo{covered: rc.covered(lc.x, lc.y), district: lc.district, street: lc.street, distM: -1, km2: lc.km2}
		if i := nearest(st, lc.x, lc.y); i >= 0 {
			c.distM = math.Round(math.Hypot(lc.x-st[i].x, lc.y-st[i].y)*10) / 10
			c.nearest = st[i].Code
			st[i].ServiceAreaKm2 += lc.km2
		}
		m.cells[lc.cell] = c
		m.order = append(m.order, lc.cell)
		ll := lc.cell.LatLng()
		m.bound = m.bound.Extend(orb.Point{ll.Lng, ll.Lat})
	}
	m.stations = stationLoads(st)
	return m, nil
}

// minutes is the travel time of distM straight-line metres under the map's model.
func (m *coverageMap) minutes(distM float64) float64 {
	if distM < 0 {
		return -1
	}
	return math.Round(distM*m.p.Detour/(m.p.SpeedKmh*1000/60)*100) / 100
}

// aggregate returns the land cells' coverage (of one district, or all) summed by parent
// at res.
func (m *coverageMap) aggregate(res int, district string) map[h3.Cell]*coverageAgg {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := aggKey{res, district}
	if agg := m.parents[k]; agg != nil {
		return agg
	}
	agg := map[h3.Cell]*coverageAgg{}
	for cell, c := range m.cells {
		if district != "" && c.district != district {
			continue
		}
		parent := cell.Parent(res)
		g := agg[parent]
		if g == nil {
			g = &coverageAgg{}
			agg[parent] = g
		}
		g.cells++
		g.km2 += c.km2
		if c.covered {
			g.covered++
			g.coveredKm2 += c.km2
		}
	}
	m.parents[k] = agg
	return agg
}

// CellsGeoJSON is cells as a GeoJSON FeatureCollection of hexagons with cell, covered,
// district_code, street_code, nearest_station, distance_m and minutes: the API's
// /analysis/coverage/cells and `safegrid analyze coverage --geojson`.
func CellsGeoJSON(cells []CoverageCell) *geojson.FeatureCollection {
	fc := geojson.NewFeatureCollection()
	for _, c := range cells {
		ft := geojson.NewFeature(c.Polygon)
		ft.Properties = geojson.Properties{
			"cell": c.Cell, "covered": c.Covered, "district_code": c.District, "street_code": c.Street,
			"nearest_station": c.NearestFor, "distance_m": c.DistanceM, "minutes": c.Minutes,
		}
		fc.Append(ft)
	}
	return fc
}

// CoverageCells returns the land cells with whether their centre is covered, optionally
// only those of one district.
func (a *Analyst) CoverageCells(ctx context.Context, p CoverageParams, district string) ([]CoverageCell, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m, err := a.coverageMapFor(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []CoverageCell{}
	for _, cell := range m.order {
		c := m.cells[cell]
		if district != "" && c.district != district {
			continue
		}
		out = append(out, CoverageCell{Cell: cell.String(), Polygon: geo.CellPolygon(cell), Covered: c.covered, District: c.district,
			Street: c.street, DistanceM: c.distM, NearestFor: c.nearest, Minutes: m.minutes(c.distM)})
	}
	return out, nil
}

// coverageTileFields are the attributes of the coverage tile layers, for TileJSON.
var coverageTileFields = map[string]map[string]string{
	"coverage": {
		"cell": "String", "resolution": "Number", "covered": "Boolean", "nearest_station": "String", "distance_m": "Number",
		"minutes": "Number", "district_code": "String", "street_code": "String",
		"cells": "Number", "covered_cells": "Number", "share": "Number", "area_km2": "Number", "covered_km2": "Number",
	},
	"coverage_stations": {
		"code": "String", "name": "String", "type": "String", "status": "String", "district_code": "String",
		"service_area_km2": "Number", "cap_km2": "Number", "over_cap": "Boolean",
	},
}

// CoverageBounds is the lon/lat extent of the land cells' centres for p.
func (a *Analyst) CoverageBounds(ctx context.Context, p CoverageParams) ([4]float64, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return [4]float64{}, err
	}
	m, err := a.coverageMapFor(ctx, p)
	if err != nil {
		return [4]float64{}, err
	}
	if len(m.cells) == 0 {
		return geo.ShanghaiExtent(), nil
	}
	return [4]float64{m.bound.Min[0], m.bound.Min[1], m.bound.Max[0], m.bound.Max[1]}, nil
}

// CoverageTile returns the z/x/y tile of the coverage for p, of one district's cells (or
// all): empty (no bytes) when it holds nothing.
func (a *Analyst) CoverageTile(ctx context.Context, p CoverageParams, district string, z, x, y int) ([]byte, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !geo.ValidTile(z, x, y) {
		return nil, &grid.InvalidError{Field: "z/x/y", Reason: "no such tile"}
	}
	m, err := a.coverageMapFor(ctx, p)
	if err != nil {
		return nil, err
	}
	tile := maptile.New(uint32(x), uint32(y), maptile.Zoom(z))
	res := CoverageTileRes(z, p.Resolution)
	cells := geojson.NewFeatureCollection()
	for _, cell := range coverageCandidates(tile.Bound(), m.bound, res) {
		f := geojson.NewFeature(geo.CellPolygon(cell))
		f.ID = uint64(cell)
		if res == p.Resolution {
			c := m.cells[cell]
			if c == nil || district != "" && c.district != district {
				continue
			}
			f.Properties = geojson.Properties{"cell": cell.String(), "resolution": res, "covered": c.covered,
				"nearest_station": c.nearest, "distance_m": c.distM, "minutes": m.minutes(c.distM),
				"district_code": c.district, "street_code": c.street}
		} else {
			g := m.aggregate(res, district)[cell]
			if g == nil {
				continue
			}
			f.Properties = geojson.Properties{"cell": cell.String(), "resolution": res, "cells": g.cells, "covered_cells": g.covered,
				"share":    math.Round(float64(g.covered)/float64(g.cells)*1e4) / 1e4,
				"area_km2": math.Round(g.km2*1e4) / 1e4, "covered_km2": math.Round(g.coveredKm2*1e4) / 1e4}
		}
		cells.Append(f)
	}
	stations := geojson.NewFeatureCollection()
	for _, s := range m.stations {
		if !tile.Bound().Contains(orb.Point{s.Lon, s.Lat}) {
			continue
		}
		f := geojson.NewFeature(orb.Point{s.Lon, s.Lat})
		f.Properties = geojson.Properties{"code": s.Code, "name": s.Name, "type": s.Type, "status": s.Status, "district_code": s.DistrictCode,
			"service_area_km2": math.Round(s.ServiceAreaKm2*1e4) / 1e4, "over_cap": s.OverCap}
		if s.CapKm2 != nil {
			f.Properties["cap_km2"] = *s.CapKm2
		}
		stations.Append(f)
	}
	var layers mvt.Layers
	for _, l := range []struct {
		name string
		fc   *geojson.FeatureCollection
	}{{"coverage", cells}, {"coverage_stations", stations}} {
		if len(l.fc.Features) > 0 {
			layers = append(layers, mvt.NewLayer(l.name, l.fc))
		}
	}
	if len(layers) == 0 {
		return nil, nil
	}
	layers.ProjectToTile(tile)
	layers.Clip(orb.Bound{Min: orb.Point{-geo.TileBuffer, -geo.TileBuffer}, Max: orb.Point{geo.TileExtent + geo.TileBuffer, geo.TileExtent + geo.TileBuffer}})
	layers.RemoveEmpty(0, 0)
	if len(layers) == 0 {
		return nil, nil
	}
	return mvt.Marshal(layers)
}

// coverageCandidates are the cells at res whose centres lie in the tile's bound grown by
// about two cell widths (a superset of the hexagons that touch the tile), within the land
// cells' bound grown the same.
func coverageCandidates(tb, land orb.Bound, res int) []h3.Cell {
	grow := 2.5 * geo.H3EdgeM(res) / 90000 // degrees; a degree of longitude is about 95 km here
	lo := orb.Point{max(tb.Min[0], land.Min[0]-grow) - grow, max(tb.Min[1], land.Min[1]-grow) - grow}
	hi := orb.Point{min(tb.Max[0], land.Max[0]+grow) + grow, min(tb.Max[1], land.Max[1]+grow) + grow}
	if lo[0] >= hi[0] || lo[1] >= hi[1] {
		return nil
	}
	lo[1], hi[1] = max(lo[1], -89.9), min(hi[1], 89.9)
	loop := h3.GeoLoop{{Lat: lo[1], Lng: lo[0]}, {Lat: lo[1], Lng: hi[0]}, {Lat: hi[1], Lng: hi[0]}, {Lat: hi[1], Lng: lo[0]}}
	return h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, res)
}

// CoverageTileFields are the attributes of the coverage tile layers, for TileJSON.
// Callers get a copy: the table itself is fixed.
func CoverageTileFields() map[string]map[string]string { return maps.Clone(coverageTileFields) }
