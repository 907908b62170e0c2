// Package coverage is fire-station coverage (消防站覆盖) and siting: which enterprises,
// underground spaces, occupancy sites and land a station reaches within T minutes, per
// district and street; each station's service area against its cap (GB 51080, 建标152);
// coverage as vector tiles; and where k new stations should go (MCLP, LSCP) with a bound
// on the optimum.
package coverage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"
	"github.com/uber/h3-go/v4"
	"golang.org/x/sync/errgroup"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Fire-station coverage (docs/DESIGN.md "Analysis definitions"). Everything here can be
// recomputed with plain PostGIS SQL:
//
//   - Distances are straight-line metres in UTM 51N (EPSG:32651): the geom_m columns, and
//     ST_Transform(point, 32651) for stations added in a what-if and for cell centres.
//   - R = minutes/60 × speed_kmh × 1000 ÷ detour (5 min, 30 km/h, 1.4: 1,785.7 m).
//   - A point is covered when ST_DWithin(geom_m, station.geom_m, R) for some counted
//     station; an underground space or an occupancy site (polygons too) when any part of it
//     is within R (ST_DWithin on its geom_m).
//   - Counted stations: every station of status existing (and planned when asked), of any
//     type, minus the codes left out, plus the what-if additions.
//   - Area: the H3 cells at the chosen resolution whose centre lies in a district (the
//     smallest district code wins where districts overlap); a cell is covered when its
//     centre is, and it belongs to the street whose polygon holds its centre (smallest
//     code; none when it falls in a gap between street polygons). Its area is H3's
//     cellAreaKm2.
//
// The enterprise count is the one big scan. It is exact but avoids a distance from every
// row to every station: Go sorts the resolution-9 cells near the stations into cells wholly
// within R of a station and cells partly within R (every other cell is out of reach); one
// parallel scan counts the rows per district, street and risk level by their h3 column
// (which the store keeps as the cell of geom), and the rows of the partly covered cells
// come back as UTM points that Go measures against the stations one by one.

// centralDistricts are Shanghai's seven central districts (黄浦 徐汇 长宁 静安 普陀 虹口 杨浦);
// every other district is suburban, where GB 51080 allows a station district of 15 km².
var centralDistricts = [...]string{"310101", "310104", "310105", "310106", "310107", "310109", "310110"}

// RiskWeight is an enterprise's weight in the coverage and siting analyses by its risk
// level (docs/DESIGN.md "Analysis definitions"): 重大 4, 较大 3, 一般 2, 低 1; 0 for anything
// else.
func RiskWeight(level string) float64 {
	switch level {
	case "重大":
		return 4
	case "较大":
		return 3
	case "一般":
		return 2
	case "低":
		return 1
	}
	return 0
}

// StationCap is the largest station district in km² for a station type (建标152-2017 and
// GB 51080 §4.1.3: 特勤 and 一级普通 7, 二级普通 4, 小型 2; 15 for each of these in a
// suburban district); 战勤保障 (logistics) has none.
func StationCap(typ, district string) (float64, bool) {
	var c float64
	switch typ {
	case "特勤", "一级普通":
		c = 7
	case "二级普通":
		c = 4
	case "小型":
		c = 2
	default:
		return 0, false
	}
	if !slices.Contains(centralDistricts[:], district) {
		c = 15
	}
	return c, true
}

// StationAddition is a what-if station: a place and a type.
type StationAddition struct {
	Lon  float64 `json:"lon" required:"true"`
	Lat  float64 `json:"lat" required:"true"`
	Type string  `json:"type" required:"true" maxLength:"32" doc:"特勤, 一级普通, 二级普通, 小型 or 战勤保障"`
}

// CoverageParams are the travel model and the set of counted stations.
type CoverageParams struct {
	Minutes    float64           `json:"minutes" doc:"travel time limit (default 5)"`
	SpeedKmh   float64           `json:"speed_kmh" doc:"speed in km/h (default 30)"`
	Detour     float64           `json:"detour" doc:"road distance ÷ straight-line distance (default 1.4)"`
	Resolution int               `json:"resolution" doc:"H3 resolution of the area cells, 6 to 9 (default 9)"`
	Planned    bool              `json:"planned" doc:"count planned stations too"`
	Add        []StationAddition `json:"add,omitempty" doc:"what-if stations to add"`
	Without    []string          `json:"without,omitempty" maxLength:"64" doc:"codes of stations to leave out"`
}

// WithDefaults fills zero values with docs/DESIGN.md's defaults.
func (p CoverageParams) WithDefaults() CoverageParams {
	if p.Minutes == 0 {
		p.Minutes = 5
	}
	if p.SpeedKmh == 0 {
		p.SpeedKmh = 30
	}
	if p.Detour == 0 {
		p.Detour = 1.4
	}
	if p.Resolution == 0 {
		p.Resolution = geo.SupervisionRes
	}
	return p
}

// Validate checks the parameters (after WithDefaults).
func (p CoverageParams) Validate() error {
	bad := func(v float64, lo, hi float64) bool { return math.IsNaN(v) || v <= lo || v > hi }
	switch {
	case bad(p.Minutes, 0, 120):
		return &grid.InvalidError{Field: "minutes", Reason: "must be more than 0 and at most 120"}
	case bad(p.SpeedKmh, 0, 200):
		return &grid.InvalidError{Field: "speed_kmh", Reason: "must be more than 0 and at most 200"}
	case math.IsNaN(p.Detour) || p.Detour < 1 || p.Detour > 5:
		return &grid.InvalidError{Field: "detour", Reason: "must be from 1 to 5"}
	case p.Resolution < 6 || p.Resolution > 9:
		return &grid.InvalidError{Field: "resolution", Reason: "must be from 6 to 9"}
	}
	for i, a := range p.Add {
		if err := geo.CheckRange(orb.Point{a.Lon, a.Lat}); err != nil || a.Lon < 120 || a.Lon > 123 || a.Lat < 30 || a.Lat > 32.5 {
			return &grid.InvalidError{Field: fmt.Sprintf("add[%d]", i), Reason: "lon/lat must be a WGS84 point in Shanghai"}
		}
		if !grid.IsStationType(a.Type) {
			return &grid.InvalidError{Field: fmt.Sprintf("add[%d].type", i), Reason: "must be one of " + strings.Join(grid.StationTypes(), ", ")}
		}
	}
	return nil
}

// RadiusM is the straight-line reach in metres: minutes × speed ÷ detour.
func (p CoverageParams) RadiusM() float64 {
	return p.Minutes / 60 * p.SpeedKmh * 1000 / p.Detour
}

// Share is one demand measure: how much there is, how much is covered, and the share.
type Share struct {
	Total   float64 `json:"total"`
	Covered float64 `json:"covered"`
	Share   float64 `json:"share" doc:"covered ÷ total; 0 when total is 0"`
}

func (s *Share) add(total, covered float64) { s.Total += total; s.Covered += covered }

// CoverageCounts holds every demand measure of one area.
type CoverageCounts struct {
	Enterprises         Share `json:"enterprises"`
	EnterprisesWeighted Share `json:"enterprises_weighted" doc:"risk weights 重大 4, 较大 3, 一般 2, 低 1"`
	HighRisk            Share `json:"high_risk_enterprises" doc:"重大 and 较大"`
	Underground         Share `json:"underground_spaces"`
	GasSites            Share `json:"gas_occupancy_sites"`
	AreaKm2             Share `json:"area_km2" doc:"H3 cells whose centre is in a district; covered when the centre is"`
}

func (c *CoverageCounts) plus(o *CoverageCounts) {
	c.Enterprises.add(o.Enterprises.Total, o.Enterprises.Covered)
	c.EnterprisesWeighted.add(o.EnterprisesWeighted.Total, o.EnterprisesWeighted.Covered)
	c.HighRisk.add(o.HighRisk.Total, o.HighRisk.Covered)
	c.Underground.add(o.Underground.Total, o.Underground.Covered)
	c.GasSites.add(o.GasSites.Total, o.GasSites.Covered)
	c.AreaKm2.add(o.AreaKm2.Total, o.AreaKm2.Covered)
}

func (c *CoverageCounts) finish() {
	for _, s := range []*Share{&c.Enterprises, &c.EnterprisesWeighted, &c.HighRisk, &c.Underground, &c.GasSites, &c.AreaKm2} {
		s.Share = 0
		if s.Total > 0 {
			s.Share = s.Covered / s.Total
		}
	}
}

// AreaCoverage is the coverage of one district or street.
type AreaCoverage struct {
	Code string `json:"code"`
	Name string `json:"name"`
	CoverageCounts
}

// StationLoad is a counted station, its service area and its cap.
type StationLoad struct {
	Code           string   `json:"code" doc:"the station's code; what-if additions are ADD-1, ADD-2, …"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Status         string   `json:"status" doc:"existing, planned or added"`
	DistrictCode   string   `json:"district_code"`
	Lon            float64  `json:"lon"`
	Lat            float64  `json:"lat"`
	ServiceAreaKm2 float64  `json:"service_area_km2" doc:"area of the cells whose centre is nearer to it than to any other counted station"`
	CapKm2         *float64 `json:"cap_km2" doc:"特勤/一级普通 7, 二级普通 4, 小型 2; 15 in suburban districts; null for 战勤保障"`
	OverCap        bool     `json:"over_cap"`
	WeightedDemand float64  `json:"weighted_demand" doc:"risk-weighted enterprises in its service-area cells"`
}

// CoverageResult is the answer of a coverage analysis.
type CoverageResult struct {
	Params    CoverageParams `json:"params"`
	RadiusM   float64        `json:"radius_m" doc:"straight-line reach in UTM 51N metres"`
	Overall   CoverageCounts `json:"overall"`
	Districts []AreaCoverage `json:"districts"`
	Streets   []AreaCoverage `json:"streets"`
	Stations  []StationLoad  `json:"stations"`
}

// Analyst runs the coverage and siting analyses over a store. It caches the land cells
// (which depend only on the areas), so keep one per store.
type Analyst struct {
	db       *pgxpool.Pool
	mu       sync.Mutex
	land     map[int]*landSet
	covCache []*coverageMap // most recently used first (coverage_tiles.go)
	buildMu  sync.Mutex     // one coverage map is built at a time
	geoms    cellGeoms      // cells near stations, for cellClasses
	ents     entSummary     // the enterprises per cell, for Coverage
}

// NewAnalyst returns an Analyst over st.
func NewAnalyst(st *grid.Store) *Analyst {
	return &Analyst{db: st.DB(pg.Key{}), land: map[int]*landSet{}}
}

// station is a counted station with its UTM 51N location and the local affine map from
// lon/lat to UTM around it (jx, jy: metres per degree of lon and of lat, from PostGIS).
type station struct {
	StationLoad
	x, y   float64
	jx, jy [2]float64
}

// local places ll in UTM 51N by the station's affine map: within decimetres over 2 km.
func (s *station) local(ll h3.LatLng) (float64, float64) {
	dl, dp := ll.Lng-s.Lon, ll.Lat-s.Lat
	return s.x + s.jx[0]*dl + s.jy[0]*dp, s.y + s.jx[1]*dl + s.jy[1]*dp
}

// countedStations returns the stations p counts, ordered by code, additions last.
func (a *Analyst) countedStations(ctx context.Context, p CoverageParams) ([]station, error) {
	rows, err := a.db.Query(ctx, `
SELECT code, name, type, status, district_code, ST_X(geom), ST_Y(geom), ST_X(geom_m), ST_Y(geom_m)
FROM fire_stations
WHERE (status = 'existing' OR ($1 AND status = 'planned')) AND code <> ALL ($2::text[])
ORDER BY code`, p.Planned, nonNil(p.Without))
	if err != nil {
		return nil, err
	}
	var out []station
	for rows.Next() {
		var s station
		if err := rows.Scan(&s.Code, &s.Name, &s.Type, &s.Status, &s.DistrictCode, &s.Lon, &s.Lat, &s.x, &s.y); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(p.Without) > 0 {
		var known []string
		if err := pg.Collect(ctx, a.db, &known, `SELECT code FROM fire_stations WHERE code = ANY($1)`, p.Without); err != nil {
			return nil, err
		}
		for i, c := range p.Without {
			if !slices.Contains(known, c) {
				return nil, &grid.InvalidError{Field: fmt.Sprintf("without[%d]", i), Reason: fmt.Sprintf("no fire station has the code %q", c)}
			}
		}
	}
	for i, ad := range p.Add {
		s := station{StationLoad: StationLoad{Code: fmt.Sprintf("ADD-%d", i+1), Name: fmt.Sprintf("新增消防站 %d", i+1), Type: ad.Type, Status: "added", Lon: ad.Lon, Lat: ad.Lat}}
		var dc *string
		err := a.db.QueryRow(ctx, `
SELECT ST_X(m), ST_Y(m), (area_tag(g)).district_code
FROM (SELECT g, ST_Transform(g, 32651) AS m FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS g) q) q`,
			ad.Lon, ad.Lat).Scan(&s.x, &s.y, &dc)
		if err != nil {
			return nil, err
		}
		if dc != nil {
			s.DistrictCode = *dc
		}
		out = append(out, s)
	}
	return out, a.jacobians(ctx, out)
}

// jacobians fills each station's local affine map by central differences of PostGIS's
// projection, ±0.01° around it.
func (s *Analyst) jacobians(ctx context.Context, st []station) error {
	const h = 0.01
	var lons, lats []float64
	for _, t := range st {
		lons = append(lons, t.Lon+h, t.Lon-h, t.Lon, t.Lon)
		lats = append(lats, t.Lat, t.Lat, t.Lat+h, t.Lat-h)
	}
	xs, ys, err := s.toUTM(ctx, lons, lats)
	if err != nil {
		return err
	}
	for i := range st {
		b := 4 * i
		st[i].jx = [2]float64{(xs[b] - xs[b+1]) / (2 * h), (ys[b] - ys[b+1]) / (2 * h)}
		st[i].jy = [2]float64{(xs[b+2] - xs[b+3]) / (2 * h), (ys[b+2] - ys[b+3]) / (2 * h)}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// landCell is an H3 cell whose centre lies in a district.
type landCell struct {
	cell     h3.Cell
	district string
	street   string // "" when the centre is in no street polygon
	x, y     float64
	km2      float64
}

type landSet struct {
	version string
	cells   []landCell
}

// landCells returns the land cells at res, from the cache while the areas are unchanged.
func (a *Analyst) landCells(ctx context.Context, res int) ([]landCell, error) {
	var version string
	err := a.db.QueryRow(ctx, `SELECT count(*)::text || '/' || coalesce(max(updated_at)::text, '') FROM areas WHERE level <> 'community'`).Scan(&version)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ls := a.land[res]; ls != nil && ls.version == version {
		return ls.cells, nil
	}
	cells, err := a.buildLand(ctx, res)
	if err != nil {
		return nil, err
	}
	a.land[res] = &landSet{version: version, cells: cells}
	return cells, nil
}

func (a *Analyst) buildLand(ctx context.Context, res int) ([]landCell, error) {
	fill := func(level string) (map[h3.Cell]string, error) {
		rows, err := a.db.Query(ctx, `SELECT code, geom FROM areas WHERE level = $1 ORDER BY code`, level)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[h3.Cell]string{}
		for rows.Next() {
			var code string
			var t geom.T
			if err := rows.Scan(&code, &t); err != nil {
				return nil, err
			}
			g, err := geo.FromGeom(t)
			if err != nil {
				return nil, err
			}
			for _, c := range polyfill(g, res) {
				if _, taken := out[c]; !taken { // smallest code first
					out[c] = code
				}
			}
		}
		return out, rows.Err()
	}
	var districts, streets map[h3.Cell]string
	g, _ := errgroup.WithContext(ctx)
	g.Go(func() (err error) { districts, err = fill("district"); return })
	g.Go(func() (err error) { streets, err = fill("street"); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cells := make([]landCell, 0, len(districts))
	for c, d := range districts {
		lc := landCell{cell: c, district: d, km2: h3.CellAreaKm2(c)}
		if s := streets[c]; strings.HasPrefix(s, d) {
			lc.street = s
		}
		cells = append(cells, lc)
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].cell < cells[j].cell })
	lons, lats := make([]float64, len(cells)), make([]float64, len(cells))
	for i, c := range cells {
		ll := c.cell.LatLng()
		lons[i], lats[i] = ll.Lng, ll.Lat
	}
	xs, ys, err := a.toUTM(ctx, lons, lats)
	if err != nil {
		return nil, err
	}
	for i := range cells {
		cells[i].x, cells[i].y = xs[i], ys[i]
	}
	return cells, nil
}

// polyfill returns the cells at res whose centre is in g (a Polygon or MultiPolygon).
func polyfill(g orb.Geometry, res int) []h3.Cell {
	var polys []orb.Polygon
	switch t := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{t}
	case orb.MultiPolygon:
		polys = t
	}
	var out []h3.Cell
	for _, p := range polys {
		if len(p) == 0 {
			continue
		}
		gp := h3.GeoPolygon{GeoLoop: loop(p[0])}
		for _, h := range p[1:] {
			gp.Holes = append(gp.Holes, loop(h))
		}
		out = append(out, h3.PolygonToCells(gp, res)...)
	}
	return out
}

func loop(r orb.Ring) h3.GeoLoop {
	l := make(h3.GeoLoop, 0, len(r))
	for i, p := range r {
		if i == len(r)-1 && len(r) > 1 && p == r[0] {
			break
		}
		l = append(l, h3.LatLng{Lat: p[1], Lng: p[0]})
	}
	return l
}

// toUTM projects WGS84 points to UTM 51N with PostGIS, so Go and SQL agree to the bit.
func (s *Analyst) toUTM(ctx context.Context, lons, lats []float64) (xs, ys []float64, err error) {
	xs, ys = make([]float64, len(lons)), make([]float64, len(lons))
	rows, err := s.db.Query(ctx, `
SELECT i, ST_X(m), ST_Y(m)
FROM (SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), 32651) AS m
      FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i)) q`, lons, lats)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var x, y float64
		if err := rows.Scan(&i, &x, &y); err != nil {
			return nil, nil, err
		}
		xs[i-1], ys[i-1] = x, y
	}
	return xs, ys, rows.Err()
}

// reach answers "is this UTM point within R of a station, and which station is nearest"
// with a uniform grid of buckets R wide.
type reach struct {
	r       float64
	st      []station
	buckets map[[2]int64][]int32
}

func newReach(st []station, r float64) *reach {
	rc := &reach{r: r, st: st, buckets: map[[2]int64][]int32{}}
	for i, s := range st {
		k := rc.key(s.x, s.y)
		rc.buckets[k] = append(rc.buckets[k], int32(i))
	}
	return rc
}

func (rc *reach) key(x, y float64) [2]int64 {
	return [2]int64{int64(math.Floor(x / rc.r)), int64(math.Floor(y / rc.r))}
}

// covered reports whether (x, y) is within R of a station: sqrt(dx²+dy²) ≤ R, as
// ST_DWithin computes it for two points.
func (rc *reach) covered(x, y float64) bool {
	k := rc.key(x, y)
	for dx := int64(-1); dx <= 1; dx++ {
		for dy := int64(-1); dy <= 1; dy++ {
			for _, i := range rc.buckets[[2]int64{k[0] + dx, k[1] + dy}] {
				s := &rc.st[i]
				if math.Hypot(x-s.x, y-s.y) <= rc.r {
					return true
				}
			}
		}
	}
	return false
}

// nearest returns the index of the nearest station (brute force; ties to the lower index).
func nearest(st []station, x, y float64) int {
	best, bd := -1, math.Inf(1)
	for i := range st {
		if d := math.Hypot(x-st[i].x, y-st[i].y); d < bd {
			best, bd = i, d
		}
	}
	return best
}

// cellMargin absorbs the error of the local affine UTM approximation (decimetres over
// 2 km) and the curvature of H3 cell edges in lon/lat: metres.
const cellMargin = 5.0

// cellClasses sorts the resolution-9 cells near the stations into wholly covered (full)
// and partly covered (edge); every other cell is wholly out of reach. A cell is wholly
// within a station's reach when its centre plus its largest centre-to-vertex distance
// (plus a margin) is, and out of a station's reach when its centre minus that is beyond R.
// Cell centres are placed in UTM by each station's local affine map (see station.jx).
// cellGeoms keeps the centres and corners of the cells near stations between analyses
// (h3's boundary call is most of cellClasses' time, and the cells near stations repeat).
type cellGeoms struct {
	mu sync.Mutex
	m  map[h3.Cell]*cellGeom
}

type cellGeom struct {
	centre h3.LatLng
	verts  []h3.LatLng
}

func cellClasses(st []station, r float64, cells *cellGeoms) (full, edge []int64) {
	state := map[h3.Cell]int8{} // 1 edge, 2 full
	cells.mu.Lock()
	defer cells.mu.Unlock()
	if cells.m == nil {
		cells.m = map[h3.Cell]*cellGeom{}
	}
	for _, s := range st {
		origin := geo.PointCell(orb.Point{s.Lon, s.Lat}, geo.SupervisionRes)
		// Resolution-9 cells are about 175 m on a side, so k rings reach about 260·k m. The
		// cells touching the disc are connected and hold the origin: when the outermost ring
		// touches none of it, no cell further out does either; otherwise widen and redo.
		for k := int(math.Ceil((r+400)/220)) + 1; ; k *= 2 {
			outerTouches := false
			for ring, cs := range h3.GridDiskDistances(origin, k) {
				for _, c := range cs {
					g := cells.m[c]
					if g == nil {
						g = &cellGeom{centre: c.LatLng(), verts: h3.CellToBoundary(c)}
						cells.m[c] = g
					}
					cx, cy := s.local(g.centre)
					rad := 0.0
					for _, v := range g.verts {
						vx, vy := s.local(v)
						rad = math.Max(rad, math.Hypot(vx-cx, vy-cy))
					}
					d := math.Hypot(cx-s.x, cy-s.y)
					switch {
					case d+rad+cellMargin <= r:
						state[c] = 2
					case d-rad-cellMargin <= r:
						state[c] = max(state[c], 1)
						outerTouches = outerTouches || ring == k
					}
				}
			}
			if !outerTouches {
				break
			}
		}
	}
	for c, v := range state {
		if v == 2 {
			full = append(full, int64(c))
		} else {
			edge = append(edge, int64(c))
		}
	}
	slices.Sort(full)
	slices.Sort(edge)
	return full, edge
}

// enterpriseEdgeSQL returns the enterprises in partly covered cells, for Go to measure
// against the stations one by one.
const enterpriseEdgeSQL = `
SELECT district_code, coalesce(street_code, ''), risk_level, ST_X(geom_m), ST_Y(geom_m)
FROM enterprises
WHERE h3 = ANY ($1::bigint[])`

// smallKindsSQL counts underground spaces and occupancy sites per district and street,
// covered when ST_DWithin(geom_m, station, R) for a counted station (index-driven from
// the stations' side).
const smallKindsSQL = `
WITH st AS (SELECT ST_SetSRID(ST_MakePoint(x, y), 32651) AS g FROM unnest($1::float8[], $2::float8[]) AS t(x, y)),
u AS (SELECT DISTINCT u.district_code, u.id FROM st JOIN underground_spaces u ON ST_DWithin(u.geom_m, st.g, $3)),
o AS (SELECT DISTINCT o.district_code, o.id FROM st JOIN gas_occupancy_sites o ON ST_DWithin(o.geom_m, st.g, $3))
SELECT 'underground_spaces', t.district_code, coalesce(t.street_code, ''), count(*), count(u.id)
FROM underground_spaces t LEFT JOIN u USING (district_code, id) GROUP BY 2, 3
UNION ALL
SELECT 'gas_occupancy_sites', t.district_code, coalesce(t.street_code, ''), count(*), count(o.id)
FROM gas_occupancy_sites t LEFT JOIN o USING (district_code, id) GROUP BY 2, 3`

// entCell counts the enterprises of one resolution-9 cell, district, street and risk level.
type entCell struct {
	h3                     int64
	district, street, risk string
	n                      int64
}

// entSummary is the enterprises per cell (about a fifth as many rows as enterprises),
// kept between analyses and rebuilt when the enterprises' data version (migration 00006)
// has moved: the coverage of the whole city then reads no enterprise table at all but the
// few in partly covered cells.
type entSummary struct {
	mu      sync.Mutex
	built   bool
	version int64
	cells   []entCell
}

// enterpriseCells returns the summary, read in one snapshot with the version it matches.
func (a *Analyst) enterpriseCells(ctx context.Context) ([]entCell, error) {
	a.ents.mu.Lock()
	defer a.ents.mu.Unlock()
	tx, err := a.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var v int64
	if err := tx.QueryRow(ctx, `SELECT version FROM data_versions WHERE name = 'enterprises'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("enterprises' data version: %w", err)
	}
	if a.ents.built && a.ents.version == v {
		return a.ents.cells, nil
	}
	rows, err := tx.Query(ctx, `SELECT h3, district_code, coalesce(street_code, ''), risk_level, count(*)
FROM enterprises GROUP BY 1, 2, 3, 4`)
	if err != nil {
		return nil, err
	}
	cells, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entCell, error) {
		var c entCell
		err := row.Scan(&c.h3, &c.district, &c.street, &c.risk, &c.n)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	a.ents.built, a.ents.version, a.ents.cells = true, v, cells
	return cells, nil
}

// Coverage runs the coverage analysis for the whole city.
func (a *Analyst) Coverage(ctx context.Context, p CoverageParams) (*CoverageResult, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := p.RadiusM()
	st, err := a.countedStations(ctx, p)
	if err != nil {
		return nil, err
	}
	rc := newReach(st, r)
	// The cell classes are worked out while the queries that do not need them run.
	classes := sync.OnceValues(func() ([]int64, []int64) { return cellClasses(st, r, &a.geoms) })
	xs, ys := make([]float64, len(st)), make([]float64, len(st))
	for i, s := range st {
		xs[i], ys[i] = s.x, s.y
	}

	counts := map[string]*CoverageCounts{} // by district or street code
	at := func(code string) *CoverageCounts {
		c := counts[code]
		if c == nil {
			c = &CoverageCounts{}
			counts[code] = c
		}
		return c
	}
	var mu sync.Mutex
	var land []landCell
	cellWeight := map[h3.Cell]float64{}
	g, gctx := errgroup.WithContext(ctx)
	addEnterprises := func(d, s, risk string, n, cov float64) {
		w := RiskWeight(risk)
		hi := risk == "重大" || risk == "较大"
		for _, code := range []string{d, s} {
			if code == "" {
				continue
			}
			c := at(code)
			c.Enterprises.add(n, cov)
			c.EnterprisesWeighted.add(w*n, w*cov)
			if hi {
				c.HighRisk.add(n, cov)
			}
		}
	}
	// The = ANY arrays must be constants of a custom plan to be hashed, and JIT only adds
	// compile time to these scans.
	// eachLocked runs each over rows holding mu: the sums are shared by the goroutines.
	eachLocked := func(rows pgx.Rows, each func(rows pgx.Rows) error) error {
		defer rows.Close()
		mu.Lock()
		defer mu.Unlock()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	scan := func(sql string, args []any, each func(rows pgx.Rows) error) error {
		return pgx.BeginFunc(gctx, a.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(gctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
				return err
			}
			if _, err := tx.Exec(gctx, `SET LOCAL jit = off`); err != nil {
				return err
			}
			rows, err := tx.Query(gctx, sql, args...)
			if err != nil {
				return err
			}
			return eachLocked(rows, each)
		})
	}
	// The enterprises outside the partly covered cells, from the per-cell summary: those in
	// wholly covered cells are covered. The summary also gives each cell's risk weight.
	ents := sync.OnceValues(func() ([]entCell, error) { return a.enterpriseCells(gctx) })
	g.Go(func() error {
		cells, err := ents()
		if err != nil {
			return err
		}
		full, edge := classes()
		type group struct{ d, s, risk string }
		sums := map[group][2]float64{}
		for _, c := range cells {
			if _, in := slices.BinarySearch(edge, c.h3); in {
				continue
			}
			k := group{c.district, c.street, c.risk}
			v := sums[k]
			v[0] += float64(c.n)
			if _, in := slices.BinarySearch(full, c.h3); in {
				v[1] += float64(c.n)
			}
			sums[k] = v
		}
		mu.Lock()
		defer mu.Unlock()
		for k, v := range sums {
			addEnterprises(k.d, k.s, k.risk, v[0], v[1])
		}
		return nil
	})
	g.Go(func() error {
		_, edge := classes()
		return scan(enterpriseEdgeSQL, []any{edge}, func(rows pgx.Rows) error {
			var d, s, risk string
			var x, y float64
			if err := rows.Scan(&d, &s, &risk, &x, &y); err != nil {
				return err
			}
			cov := 0.0
			if rc.covered(x, y) {
				cov = 1
			}
			addEnterprises(d, s, risk, 1, cov)
			return nil
		})
	})
	g.Go(func() error {
		rows, err := a.db.Query(gctx, smallKindsSQL, xs, ys, r)
		if err != nil {
			return err
		}
		return eachLocked(rows, func(rows pgx.Rows) error {
			var kind, d, s string
			var n, cov int64
			if err := rows.Scan(&kind, &d, &s, &n, &cov); err != nil {
				return err
			}
			for _, code := range []string{d, s} {
				if code == "" {
					continue
				}
				c := at(code)
				if kind == "underground_spaces" {
					c.Underground.add(float64(n), float64(cov))
				} else {
					c.GasSites.add(float64(n), float64(cov))
				}
			}
			return nil
		})
	})
	g.Go(func() error {
		cells, err := ents()
		if err != nil {
			return err
		}
		for _, c := range cells {
			if h3.Cell(c.h3).IsValid() {
				cellWeight[h3.Cell(c.h3).Parent(p.Resolution)] += RiskWeight(c.risk) * float64(c.n)
			}
		}
		return nil
	})
	g.Go(func() error {
		var err error
		land, err = a.landCells(gctx, p.Resolution)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Area and service areas from the land cells.
	for _, lc := range land {
		cov := 0.0
		if rc.covered(lc.x, lc.y) {
			cov = lc.km2
		}
		at(lc.district).AreaKm2.add(lc.km2, cov)
		if lc.street != "" {
			at(lc.street).AreaKm2.add(lc.km2, cov)
		}
		if i := nearest(st, lc.x, lc.y); i >= 0 {
			st[i].ServiceAreaKm2 += lc.km2
			st[i].WeightedDemand += cellWeight[lc.cell]
		}
	}

	res := &CoverageResult{Params: p, RadiusM: r, Districts: []AreaCoverage{}, Streets: []AreaCoverage{}, Stations: []StationLoad{}}
	rows, err := a.db.Query(ctx, `SELECT code, name, level FROM areas WHERE level IN ('district', 'street') ORDER BY code`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var ac AreaCoverage
		var level string
		if err := rows.Scan(&ac.Code, &ac.Name, &level); err != nil {
			return nil, err
		}
		c := counts[ac.Code]
		if level == "district" {
			if c == nil {
				c = &CoverageCounts{}
			}
			ac.CoverageCounts = *c
			ac.finish()
			res.Overall.plus(c)
			res.Districts = append(res.Districts, ac)
		} else if c != nil {
			ac.CoverageCounts = *c
			ac.finish()
			res.Streets = append(res.Streets, ac)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.Overall.finish()
	res.Stations = stationLoads(st)
	return res, nil
}

// stationLoads are the stations' loads with each one's cap (StationCap) and whether its
// service area exceeds it.
func stationLoads(st []station) []StationLoad {
	out := make([]StationLoad, 0, len(st))
	for _, s := range st {
		l := s.StationLoad
		if c, ok := StationCap(l.Type, l.DistrictCode); ok {
			l.CapKm2 = &c
			l.OverCap = l.ServiceAreaKm2 > c
		}
		out = append(out, l)
	}
	return out
}

// CoverageCell is one land cell of the coverage map.
type CoverageCell struct {
	Cell       string
	Polygon    orb.Polygon
	Covered    bool
	District   string
	Street     string
	DistanceM  float64 // to the nearest counted station; -1 when none
	NearestFor string  // code of the nearest counted station
	Minutes    float64 // DistanceM × detour ÷ speed; -1 when none
}
