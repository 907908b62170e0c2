package demo

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"safegrid/data"
	"safegrid/geo"
)

// People's Square, the centre the demo's density falls away from.
var peoplesSquare = orb.Point{121.4737, 31.2304}

// centralDistricts are the 7 districts of the old city (浦西 inside the inner ring).
var centralDistricts = map[string]bool{
	"310101": true, "310104": true, "310105": true, "310106": true,
	"310107": true, "310109": true, "310110": true,
}

// centralBox is the bounding box of the 7 central districts.
var centralBox = orb.Bound{Min: orb.Point{121.33, 31.14}, Max: orb.Point{121.56, 31.36}}

// area is one administrative area of the embedded areas file.
type area struct {
	code, name string
	level      int // 1 district, 2 street, 3 community
	mp         orb.MultiPolygon
	bound      orb.Bound
	district   int // index in world.districts
	street     int // index in world.streets (communities), -1 otherwise
	central    bool
	areaKm2    float64
	rep        orb.Point // a point inside
	pip        lazyPIP   // fast containment
}

// contains tells whether p lies in the area (orb/planar semantics: the boundary is in).
func (a *area) contains(p orb.Point) bool {
	if !a.bound.Contains(p) {
		return false
	}
	return a.pip.get(a.mp, a.bound).contains(p)
}

type osmPoint struct {
	id   string
	name string
	p    orb.Point
}

type industrialArea struct {
	name     string
	mp       orb.MultiPolygon
	bound    orb.Bound
	areaKm2  float64
	district int // district of the representative point, -1 when outside every district
	rep      orb.Point
	pip      lazyPIP
}

func (ia *industrialArea) contains(p orb.Point) bool {
	if !ia.bound.Contains(p) {
		return false
	}
	return ia.pip.get(ia.mp, ia.bound).contains(p)
}

type streetInfo struct {
	code, name, kind string
	label            orb.Point
	hasLabel         bool
}

// world is the immutable demo geography, loaded once from package data.
type world struct {
	areasFile   []byte
	districts   []*area
	streets     []*area
	communities []*area
	byCode      map[string]*area
	streetInfo  map[string]streetInfo // by code, from shanghai-streets.csv

	industrial []*industrialArea
	fire       []osmPoint
	rail       []osmPoint
	marinas    []osmPoint

	commIdx *bucketIndex // communities
	distIdx *bucketIndex // districts
	land    orb.Bound    // bound of all districts
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

func loadWorld() (*world, error) {
	worldOnce.Do(func() { theWorld, worldErr = buildWorld() })
	return theWorld, worldErr
}

func buildWorld() (*world, error) {
	w := &world{byCode: map[string]*area{}, streetInfo: map[string]streetInfo{}}
	var err error
	if w.areasFile, err = data.ReadFile(data.Areas); err != nil {
		return nil, err
	}
	fc, err := geojson.UnmarshalFeatureCollection(w.areasFile)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", data.Areas, err)
	}
	for _, f := range fc.Features {
		code, _ := f.Properties["code"].(string)
		name, _ := f.Properties["name"].(string)
		a := &area{code: code, name: name, street: -1}
		switch g := f.Geometry.(type) {
		case orb.MultiPolygon:
			a.mp = g
		case orb.Polygon:
			a.mp = orb.MultiPolygon{g}
		default:
			return nil, fmt.Errorf("demo: area %s is a %T", code, f.Geometry)
		}
		a.bound = a.mp.Bound()
		a.areaKm2 = areaKm2(a.mp)
		a.rep = geo.RepresentativePoint(a.mp)
		switch len(code) {
		case 6:
			a.level = 1
			a.district = len(w.districts)
			a.central = centralDistricts[code]
			w.districts = append(w.districts, a)
		case 9:
			a.level = 2
			d := w.byCode[code[:6]]
			if d == nil {
				return nil, fmt.Errorf("demo: street %s before its district", code)
			}
			a.district, a.central = d.district, d.central
			w.streets = append(w.streets, a)
		case 12:
			a.level = 3
			s := w.byCode[code[:9]]
			if s == nil {
				return nil, fmt.Errorf("demo: community %s before its street", code)
			}
			a.district, a.central = s.district, s.central
			a.street = indexOf(w.streets, s)
			w.communities = append(w.communities, a)
		default:
			return nil, fmt.Errorf("demo: area code %q", code)
		}
		if w.byCode[code] != nil {
			return nil, fmt.Errorf("demo: duplicate area code %s", code)
		}
		w.byCode[code] = a
	}
	if len(w.districts) == 0 {
		return nil, fmt.Errorf("demo: %s has no districts", data.Areas)
	}
	w.land = w.districts[0].bound
	for _, d := range w.districts[1:] {
		w.land = w.land.Union(d.bound)
	}
	w.commIdx = newBucketIndex(w.land, 0.01, w.communities)
	w.distIdx = newBucketIndex(w.land, 0.05, w.districts)

	if err := w.loadStreets(); err != nil {
		return nil, err
	}
	if err := w.loadIndustrial(); err != nil {
		return nil, err
	}
	if w.fire, err = loadPoints(data.FireStations); err != nil {
		return nil, err
	}
	if w.rail, err = loadPoints(data.RailStations); err != nil {
		return nil, err
	}
	if w.marinas, err = loadPoints(data.Marinas); err != nil {
		return nil, err
	}
	return w, nil
}

func indexOf(list []*area, a *area) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == a {
			return i
		}
	}
	return -1
}

func (w *world) loadStreets() error {
	b, err := data.ReadFile(data.Streets)
	if err != nil {
		return err
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return fmt.Errorf("demo: %s: %w", data.Streets, err)
	}
	for _, r := range rows[1:] {
		si := streetInfo{code: r[0], name: r[1], kind: r[4]}
		if lon, err1 := strconv.ParseFloat(r[5], 64); err1 == nil {
			if lat, err2 := strconv.ParseFloat(r[6], 64); err2 == nil {
				si.label, si.hasLabel = orb.Point{lon, lat}, true
			}
		}
		w.streetInfo[si.code] = si
	}
	return nil
}

func (w *world) loadIndustrial() error {
	b, err := data.ReadFile(data.Industrial)
	if err != nil {
		return err
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", data.Industrial, err)
	}
	for _, f := range fc.Features {
		ia := &industrialArea{}
		ia.name, _ = f.Properties["name"].(string)
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			ia.mp = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			ia.mp = g
		default:
			continue
		}
		ia.bound = ia.mp.Bound()
		ia.areaKm2 = areaKm2(ia.mp)
		ia.rep = geo.RepresentativePoint(ia.mp)
		ia.district = w.districtOf(ia.rep)
		if ia.areaKm2 <= 0 || ia.district < 0 {
			continue
		}
		w.industrial = append(w.industrial, ia)
	}
	return nil
}

func loadPoints(name string) ([]osmPoint, error) {
	b, err := data.ReadFile(name)
	if err != nil {
		return nil, err
	}
	fc, err := geojson.UnmarshalFeatureCollection(b)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", name, err)
	}
	var out []osmPoint
	for _, f := range fc.Features {
		p, ok := f.Geometry.(orb.Point)
		if !ok {
			continue
		}
		o := osmPoint{p: p}
		o.name, _ = f.Properties["name"].(string)
		switch id := f.Properties["osm_id"].(type) {
		case string:
			o.id = id
		case float64:
			o.id = strconv.FormatFloat(id, 'f', 0, 64)
		}
		out = append(out, o)
	}
	return out, nil
}

// ---- spatial helpers

const (
	mPerDegLat = 110_880.0 // at 31° N
	earthR     = 6_371_008.8
)

func mPerDegLon(lat float64) float64 { return 111_320.0 * math.Cos(lat*math.Pi/180) }

// distM is the distance in metres between two nearby points.
func distM(a, b orb.Point) float64 {
	lat := (a[1] + b[1]) / 2
	dx := (b[0] - a[0]) * mPerDegLon(lat)
	dy := (b[1] - a[1]) * mPerDegLat
	return math.Hypot(dx, dy)
}

// offsetM moves p by dx metres east and dy metres north.
func offsetM(p orb.Point, dx, dy float64) orb.Point {
	return orb.Point{p[0] + dx/mPerDegLon(p[1]), p[1] + dy/mPerDegLat}
}

// segDistM is the distance in metres from p to the segment ab (local plane around p).
func segDistM(p, a, b orb.Point) float64 {
	kx, ky := mPerDegLon(p[1]), mPerDegLat
	ax, ay := (a[0]-p[0])*kx, (a[1]-p[1])*ky
	bx, by := (b[0]-p[0])*kx, (b[1]-p[1])*ky
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}

// lineDistM is the distance in metres from p to a line.
func lineDistM(p orb.Point, ls orb.LineString) float64 {
	best := math.Inf(1)
	for i := 0; i+1 < len(ls); i++ {
		best = math.Min(best, segDistM(p, ls[i], ls[i+1]))
	}
	return best
}

// polyDistM is the distance in metres from p to the boundary of mp (0 inside).
func polyDistM(p orb.Point, a *area) float64 {
	if a.contains(p) {
		return 0
	}
	mp := a.mp
	best := math.Inf(1)
	for _, poly := range mp {
		for _, r := range poly {
			best = math.Min(best, lineDistM(p, orb.LineString(r)))
		}
	}
	return best
}

func areaKm2(mp orb.MultiPolygon) float64 {
	c := mp.Bound().Center()
	return math.Abs(planar.Area(mp)) * mPerDegLon(c[1]) * mPerDegLat / 1e6
}

// round6 rounds a coordinate to 6 decimals, as the files write it.
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func roundPt(p orb.Point) orb.Point { return orb.Point{round6(p[0]), round6(p[1])} }

// bucketIndex finds the areas whose bound holds a point, through a regular grid.
type bucketIndex struct {
	b        orb.Bound
	step     float64
	nx, ny   int
	buckets  [][]int32
	areas    []*area
	maxReach int
}

func newBucketIndex(b orb.Bound, step float64, areas []*area) *bucketIndex {
	ix := &bucketIndex{b: b, step: step, areas: areas}
	ix.nx = int(math.Ceil((b.Max[0]-b.Min[0])/step)) + 1
	ix.ny = int(math.Ceil((b.Max[1]-b.Min[1])/step)) + 1
	ix.buckets = make([][]int32, ix.nx*ix.ny)
	for i, a := range areas {
		x0, y0 := ix.cell(a.bound.Min)
		x1, y1 := ix.cell(a.bound.Max)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				k := y*ix.nx + x
				ix.buckets[k] = append(ix.buckets[k], int32(i))
			}
		}
	}
	return ix
}

func (ix *bucketIndex) cell(p orb.Point) (int, int) {
	x := int((p[0] - ix.b.Min[0]) / ix.step)
	y := int((p[1] - ix.b.Min[1]) / ix.step)
	return min(max(x, 0), ix.nx-1), min(max(y, 0), ix.ny-1)
}

// containing returns the index of the first area (in file order) that contains p, or -1.
func (ix *bucketIndex) containing(p orb.Point) int {
	if !ix.b.Contains(p) {
		return -1
	}
	x, y := ix.cell(p)
	for _, i := range ix.buckets[y*ix.nx+x] {
		if ix.areas[i].contains(p) {
			return int(i)
		}
	}
	return -1
}

// nearest returns the index of the area nearest to p (distance to its boundary), looking
// through buckets in growing squares; ties go to the first area in file order.
func (ix *bucketIndex) nearest(p orb.Point) int {
	if i := ix.containing(p); i >= 0 {
		return i
	}
	x, y := ix.cell(p)
	best, bestD := -1, math.Inf(1)
	seen := map[int32]bool{}
	for r := 0; r < max(ix.nx, ix.ny); r++ {
		for yy := y - r; yy <= y+r; yy++ {
			for xx := x - r; xx <= x+r; xx++ {
				if yy < 0 || xx < 0 || yy >= ix.ny || xx >= ix.nx {
					continue
				}
				if r > 0 && yy != y-r && yy != y+r && xx != x-r && xx != x+r {
					continue
				}
				for _, i := range ix.buckets[yy*ix.nx+xx] {
					if seen[i] {
						continue
					}
					seen[i] = true
					if d := polyDistM(p, ix.areas[i]); d < bestD || (d == bestD && int(i) < best) {
						best, bestD = int(i), d
					}
				}
			}
		}
		// Anything in a ring further out is at least r*step degrees away.
		if best >= 0 && bestD < float64(r)*ix.step*mPerDegLat*0.85 {
			break
		}
	}
	return best
}

// districtOf returns the district containing p (the first by code when two overlap), or -1.
func (w *world) districtOf(p orb.Point) int { return w.distIdx.containing(p) }

// communityOf returns the community containing p, or -1.
func (w *world) communityOf(p orb.Point) int { return w.commIdx.containing(p) }

// inDistrict tells whether p lies in district d.
func (w *world) inDistrict(p orb.Point, d int) bool { return w.districts[d].contains(p) }

// onLand tells whether p lies in some district.
func (w *world) onLand(p orb.Point) bool { return w.districtOf(p) >= 0 }

// lineOnLand tells whether every vertex of ls, and points every ~50 m along it, are on land.
func (w *world) lineOnLand(ls orb.LineString) bool {
	for i := 0; i+1 < len(ls); i++ {
		a, b := ls[i], ls[i+1]
		n := int(distM(a, b)/50) + 1
		for k := 0; k <= n; k++ {
			t := float64(k) / float64(n)
			if !w.onLand(orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}) {
				return false
			}
		}
	}
	return true
}

// streetShort is a street's name without 街道/镇/乡 (川沙新镇 -> 川沙), unless that would
// leave a single character (唐镇 stays 唐镇).
func streetShort(name string) string {
	for _, suf := range []string{"街道", "新镇", "镇", "乡"} {
		if s, ok := strings.CutSuffix(name, suf); ok && utf8.RuneCountInString(s) >= 2 {
			return s
		}
	}
	return name
}

// districtShort is a district's name without 区 (浦东新区 -> 浦东).
func districtShort(name string) string {
	name = strings.TrimSuffix(name, "区")
	return strings.TrimSuffix(name, "新")
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pipGrid answers point-in-polygon queries fast for polygons with many vertices: a
// raster over the bound marks each cell as outside, inside, or crossed by an edge; only
// points in crossed cells run the exact orb/planar test, so the answers are planar's.
type pipGrid struct {
	mp     orb.MultiPolygon
	b      orb.Bound
	nx, ny int
	dx, dy float64
	state  []uint8 // 0 outside, 1 inside, 2 crossed by an edge
}

const pipMinVertices = 8

// lazyPIP builds a polygon's pipGrid on first use (many polygons are never asked).
type lazyPIP struct {
	once sync.Once
	g    *pipGrid
}

func (l *lazyPIP) get(mp orb.MultiPolygon, b orb.Bound) *pipGrid {
	l.once.Do(func() { l.g = newPIPGrid(mp, b) })
	return l.g
}

func newPIPGrid(mp orb.MultiPolygon, b orb.Bound) *pipGrid {
	nv := 0
	for _, p := range mp {
		for _, r := range p {
			nv += len(r)
		}
	}
	if nv < pipMinVertices || b.Max[0] <= b.Min[0] || b.Max[1] <= b.Min[1] {
		return &pipGrid{mp: mp} // no raster: every query runs planar
	}
	n := min(max(int(math.Sqrt(float64(nv))*4), 16), 256)
	g := &pipGrid{mp: mp, b: b, nx: n, ny: n}
	g.dx = (b.Max[0] - b.Min[0]) / float64(n)
	g.dy = (b.Max[1] - b.Min[1]) / float64(n)
	g.state = make([]uint8, n*n)
	const eps = 1e-9
	for _, p := range mp {
		for _, r := range p {
			for i := 0; i+1 < len(r); i++ {
				a, c := r[i], r[i+1]
				// pieces no longer than a cell, each marking the cells its bound touches
				k := int(math.Max(math.Abs(c[0]-a[0])/g.dx, math.Abs(c[1]-a[1])/g.dy)) + 1
				for j := 0; j < k; j++ {
					t0, t1 := float64(j)/float64(k), float64(j+1)/float64(k)
					p0 := orb.Point{a[0] + t0*(c[0]-a[0]), a[1] + t0*(c[1]-a[1])}
					p1 := orb.Point{a[0] + t1*(c[0]-a[0]), a[1] + t1*(c[1]-a[1])}
					x0, y0 := g.cell(orb.Point{math.Min(p0[0], p1[0]) - eps, math.Min(p0[1], p1[1]) - eps})
					x1, y1 := g.cell(orb.Point{math.Max(p0[0], p1[0]) + eps, math.Max(p0[1], p1[1]) + eps})
					for y := y0; y <= y1; y++ {
						for x := x0; x <= x1; x++ {
							g.state[y*n+x] = 2
						}
					}
				}
			}
		}
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if g.state[y*n+x] == 2 {
				continue
			}
			c := orb.Point{b.Min[0] + (float64(x)+0.5)*g.dx, b.Min[1] + (float64(y)+0.5)*g.dy}
			if planar.MultiPolygonContains(mp, c) {
				g.state[y*n+x] = 1
			}
		}
	}
	return g
}

func (g *pipGrid) cell(p orb.Point) (int, int) {
	x := int(math.Floor((p[0] - g.b.Min[0]) / g.dx))
	y := int(math.Floor((p[1] - g.b.Min[1]) / g.dy))
	return min(max(x, 0), g.nx-1), min(max(y, 0), g.ny-1)
}

func (g *pipGrid) contains(p orb.Point) bool {
	if g.state == nil {
		return planar.MultiPolygonContains(g.mp, p)
	}
	x, y := g.cell(p)
	switch g.state[y*g.nx+x] {
	case 0:
		return false
	case 1:
		return true
	}
	return planar.MultiPolygonContains(g.mp, p)
}
