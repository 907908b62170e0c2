// Package geo holds SafeGrid's pure spatial code: H3 indexing of geometries,
// Chinese web-map coordinate systems, geometry validation and the "is this in
// Shanghai" test. It talks to neither the database nor the network.
package geo

import (
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

// SupervisionRes is the H3 resolution of a supervision cell (about 0.1 km² in
// Shanghai); coarser views aggregate to parents of these cells.
const SupervisionRes = 9

// PointCell returns the cell containing p ({lon, lat}) at res.
func PointCell(p orb.Point, res int) h3.Cell {
	return h3.LatLngToCell(h3.LatLng{Lat: p[1], Lng: p[0]}, res)
}

// CellPolygon returns the hexagon (or pentagon, with distortion vertices where
// the cell straddles an icosahedron edge) of c as a closed lon/lat ring.
func CellPolygon(c h3.Cell) orb.Polygon {
	b := h3.CellToBoundary(c)
	ring := make(orb.Ring, 0, len(b)+1)
	for _, ll := range b {
		ring = append(ring, orb.Point{ll.Lng, ll.Lat})
	}
	if len(ring) > 0 {
		ring = append(ring, ring[0])
	}
	return orb.Polygon{ring}
}

// Cells returns the sorted, unique cells of g at res: a Point -> its cell; a
// MultiPoint -> each; LineString/MultiLineString -> every cell the line
// crosses (exact segment/hexagon intersection, so the chain is gap-free);
// Polygon/MultiPolygon (and Ring, Bound) -> every cell the area overlaps: the
// centre-in-polygon fill, union the cells crossed by each ring, union the cell
// of each vertex, so a polygon much smaller than a cell still gets one.
// A Collection is the union of its members. The math is planar in lon/lat,
// which is accurate to millimetres at res 9 in Shanghai. Coordinates that are
// not finite or out of range, and segments crossing the antimeridian, are
// skipped: validate first.
func Cells(g orb.Geometry, res int) []h3.Cell {
	ix := newCellIndexer(res)
	ix.add(g)
	out := make([]h3.Cell, 0, len(ix.set))
	for c := range ix.set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// LinePath returns the cells a line passes through in travel order, each
// consecutive pair being neighbours; a cell re-entered later appears again.
// It is the ordered counterpart of Cells for one LineString, used where the
// order matters (drawing a pipeline, checking continuity).
func LinePath(ls orb.LineString, res int) []h3.Cell {
	if len(ls) == 0 {
		return nil
	}
	ix := newCellIndexer(res)
	var path []h3.Cell
	push := func(c h3.Cell) {
		if len(path) == 0 || path[len(path)-1] != c {
			path = append(path, c)
		}
	}
	if len(ls) == 1 {
		if !usable(ls[0]) {
			return nil
		}
		return []h3.Cell{PointCell(ls[0], res)}
	}
	for i := 0; i+1 < len(ls); i++ {
		hits := ix.segment(ls[i], ls[i+1])
		sort.SliceStable(hits, func(a, b int) bool {
			if hits[a].t0 != hits[b].t0 {
				return hits[a].t0 < hits[b].t0
			}
			return hits[a].t1 < hits[b].t1
		})
		for _, h := range hits {
			push(h.cell)
		}
	}
	return path
}

// cellIndexer walks the segments of one geometry. The hexagons and neighbour lists it
// asks for come from cellShapes, shared by all geometries: district rings have
// thousands of short edges that revisit the same few cells, the lines of an import
// revisit the cells of one city, and every cgo call costs far more than the geometry
// math (167,000 pipelines: 8.5 of 17 CPU s in CellToBoundary before the cache).
type cellIndexer struct {
	res  int
	set  map[h3.Cell]struct{}
	hex  map[h3.Cell][]orb.Point // this geometry's, in front of cellShapes (a plain map is faster)
	nbrs map[h3.Cell][]h3.Cell
}

func newCellIndexer(res int) *cellIndexer {
	return &cellIndexer{
		res:  res,
		set:  make(map[h3.Cell]struct{}),
		hex:  make(map[h3.Cell][]orb.Point),
		nbrs: make(map[h3.Cell][]h3.Cell),
	}
}

// cellShapes caches, process-wide, each cell's hexagon (counter-clockwise lon/lat
// vertices) and its disk of radius 1. Entries are never changed once stored, so readers
// share them. It holds at most maxCellShapes cells of each, some 50 MB in all (about
// 60,000 res-9 cells cover Shanghai); past that, cells are computed each time.
var cellShapes struct {
	hex, nbrs   sync.Map // h3.Cell -> []orb.Point; h3.Cell -> []h3.Cell
	nHex, nNbrs atomic.Int64
}

const maxCellShapes = 1 << 17

// usable reports whether p can be indexed. Cells skips coordinates that are
// not finite or out of range rather than handing them to h3, whose answer for
// them is undefined; ValidateGeometry is where such input is rejected.
func usable(p orb.Point) bool {
	return p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90
}

func (ix *cellIndexer) addCell(c h3.Cell) {
	if c != 0 {
		ix.set[c] = struct{}{}
	}
}

func (ix *cellIndexer) add(g orb.Geometry) {
	switch g := g.(type) {
	case nil:
	case orb.Point:
		if usable(g) {
			ix.addCell(PointCell(g, ix.res))
		}
	case orb.MultiPoint:
		for _, p := range g {
			if usable(p) {
				ix.addCell(PointCell(p, ix.res))
			}
		}
	case orb.LineString:
		ix.line(g)
	case orb.MultiLineString:
		for _, ls := range g {
			ix.line(ls)
		}
	case orb.Ring:
		ix.polygon(orb.Polygon{g})
	case orb.Polygon:
		ix.polygon(g)
	case orb.MultiPolygon:
		for _, p := range g {
			ix.polygon(p)
		}
	case orb.Bound:
		ix.polygon(g.ToPolygon())
	case orb.Collection:
		for _, m := range g {
			ix.add(m)
		}
	}
}

func (ix *cellIndexer) line(ls orb.LineString) {
	if len(ls) == 0 {
		return
	}
	// The vertex cells come from h3 itself, so a vertex lying within floating
	// noise of a hexagon edge still lands in the cell PointCell gives it. Each is
	// computed once: it seeds the segments on both sides of the vertex.
	cells := make([]h3.Cell, len(ls))
	for i, p := range ls {
		if usable(p) {
			cells[i] = PointCell(p, ix.res)
			ix.addCell(cells[i])
		}
	}
	for i := 0; i+1 < len(ls); i++ {
		for _, h := range ix.segmentCells(ls[i], ls[i+1], cells[i], cells[i+1]) {
			ix.addCell(h.cell)
		}
	}
}

func (ix *cellIndexer) polygon(p orb.Polygon) {
	if len(p) == 0 || len(p[0]) == 0 {
		return
	}
	for _, r := range p {
		ix.line(orb.LineString(closeRing(r)))
	}
	// Cells lying wholly inside the polygon touch no ring; h3's centre fill
	// finds them. Cells whose centre is near a ring are found by the ring walk
	// either way, so any disagreement between h3's and our planar centre test
	// cannot lose a cell.
	if !eachPoint(p, usable) {
		return
	}
	gp := h3.GeoPolygon{GeoLoop: toGeoLoop(p[0])}
	for _, hole := range p[1:] {
		if len(hole) > 0 {
			gp.Holes = append(gp.Holes, toGeoLoop(hole))
		}
	}
	if len(gp.GeoLoop) >= 3 {
		for _, c := range h3.PolygonToCells(gp, ix.res) {
			ix.addCell(c)
		}
	}
}

func closeRing(r orb.Ring) orb.Ring {
	if len(r) > 0 && r[0] != r[len(r)-1] {
		c := make(orb.Ring, len(r), len(r)+1)
		copy(c, r)
		return append(c, r[0])
	}
	return r
}

func toGeoLoop(r orb.Ring) h3.GeoLoop {
	n := len(r)
	if n > 1 && r[0] == r[n-1] {
		n--
	}
	loop := make(h3.GeoLoop, n)
	for i := 0; i < n; i++ {
		loop[i] = h3.LatLng{Lat: r[i][1], Lng: r[i][0]}
	}
	return loop
}

func (ix *cellIndexer) hexagon(c h3.Cell) []orb.Point {
	if v, ok := ix.hex[c]; ok {
		return v
	}
	if v, ok := cellShapes.hex.Load(c); ok {
		ix.hex[c] = v.([]orb.Point)
		return ix.hex[c]
	}
	b := h3.CellToBoundary(c)
	v := make([]orb.Point, len(b))
	for i, ll := range b {
		v[i] = orb.Point{ll.Lng, ll.Lat}
	}
	// Cyrus-Beck below assumes counter-clockwise order in the lon/lat plane.
	if signedArea(v) < 0 {
		slices.Reverse(v)
	}
	if cellShapes.nHex.Load() < maxCellShapes {
		if _, loaded := cellShapes.hex.LoadOrStore(c, v); !loaded {
			cellShapes.nHex.Add(1)
		}
	}
	ix.hex[c] = v
	return v
}

func (ix *cellIndexer) neighbours(c h3.Cell) []h3.Cell {
	if v, ok := ix.nbrs[c]; ok {
		return v
	}
	if v, ok := cellShapes.nbrs.Load(c); ok {
		ix.nbrs[c] = v.([]h3.Cell)
		return ix.nbrs[c]
	}
	v := h3.GridDisk(c, 1)
	if cellShapes.nNbrs.Load() < maxCellShapes {
		if _, loaded := cellShapes.nbrs.LoadOrStore(c, v); !loaded {
			cellShapes.nNbrs.Add(1)
		}
	}
	ix.nbrs[c] = v
	return v
}

type segmentHit struct {
	cell   h3.Cell
	t0, t1 float64
}

// segment returns every cell whose hexagon meets the closed segment a-b, with
// the parameter interval [t0, t1] of the segment inside it. It floods out from
// the endpoint cells through neighbours that meet the segment: the cells a
// segment meets form a connected patch, so nothing is skipped, and only the
// ring of cells around the segment is ever examined.
func (ix *cellIndexer) segment(a, b orb.Point) []segmentHit {
	// A segment spanning more than half the globe in longitude would cross
	// the antimeridian, where straight lines in lon/lat mean nothing.
	if !usable(a) || !usable(b) || math.Abs(b[0]-a[0]) > 180 {
		return nil
	}
	return ix.segmentCells(a, b, PointCell(a, ix.res), PointCell(b, ix.res))
}

// segmentCells is segment with the cells of a and b (PointCell's) known.
func (ix *cellIndexer) segmentCells(a, b orb.Point, ca, cb h3.Cell) []segmentHit {
	if !usable(a) || !usable(b) || math.Abs(b[0]-a[0]) > 180 {
		return nil
	}
	seen := map[h3.Cell]bool{}
	var hits []segmentHit
	var queue []h3.Cell
	visit := func(c h3.Cell, seed bool, tSeed float64) {
		if c == 0 || seen[c] {
			return
		}
		seen[c] = true
		t0, t1, ok := clipSegment(ix.hexagon(c), a, b)
		if !ok && seed {
			// h3 put the endpoint here although our straight-edged hexagon
			// misses it by floating noise: keep the cell, as Cells does.
			t0, t1, ok = tSeed, tSeed, true
		}
		if ok {
			hits = append(hits, segmentHit{c, t0, t1})
			queue = append(queue, c)
		}
	}
	visit(ca, true, 0)
	visit(cb, true, 1)
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, n := range ix.neighbours(c) {
			visit(n, false, 0)
		}
	}
	return hits
}

// clipSegment clips segment a-b to the convex counter-clockwise polygon v
// (Cyrus-Beck). Touching counts as meeting, so a segment through a vertex or
// along an edge reports every cell it touches.
func clipSegment(v []orb.Point, a, b orb.Point) (t0, t1 float64, ok bool) {
	if len(v) < 3 {
		return 0, 0, false
	}
	dx, dy := b[0]-a[0], b[1]-a[1]
	t0, t1 = 0, 1
	for i := range v {
		p, q := v[i], v[(i+1)%len(v)]
		ex, ey := q[0]-p[0], q[1]-p[1]
		num := ex*(a[1]-p[1]) - ey*(a[0]-p[0])
		den := ex*dy - ey*dx
		if den == 0 {
			if num < 0 {
				return 0, 0, false
			}
			continue
		}
		t := -num / den
		if den > 0 {
			if t > t0 {
				t0 = t
			}
		} else if t < t1 {
			t1 = t
		}
		if t0 > t1 {
			return 0, 0, false
		}
	}
	return t0, t1, true
}

func signedArea(v []orb.Point) float64 {
	s := 0.0
	for i := range v {
		p, q := v[i], v[(i+1)%len(v)]
		s += p[0]*q[1] - q[0]*p[1]
	}
	return s / 2
}

// RepresentativePoint returns one point that stands for g: a point is itself;
// a line gives the point at half its length; an area gives a point guaranteed
// inside it (the centroid when that is inside, else a scanline pick). Multi
// geometries use their largest member; nil or empty geometries give the zero
// point.
func RepresentativePoint(g orb.Geometry) orb.Point {
	switch g := g.(type) {
	case nil:
		return orb.Point{}
	case orb.Point:
		return g
	case orb.MultiPoint:
		if len(g) == 0 {
			return orb.Point{}
		}
		return g[0]
	case orb.LineString:
		return pointAlong(orb.MultiLineString{g})
	case orb.MultiLineString:
		return pointAlong(g)
	case orb.Ring:
		return polygonPoint(orb.Polygon{g})
	case orb.Polygon:
		return polygonPoint(g)
	case orb.MultiPolygon:
		best, bestArea := -1, -1.0
		for i, p := range g {
			if a := planar.Area(p); a > bestArea {
				best, bestArea = i, a
			}
		}
		if best < 0 {
			return orb.Point{}
		}
		return polygonPoint(g[best])
	case orb.Bound:
		return g.Center()
	case orb.Collection:
		// The highest-dimension member decides what the collection "is"
		// (a site polygon with an access road is an area).
		best := -1
		for i, m := range g {
			if m == nil || isEmpty(m) {
				continue
			}
			if best < 0 || m.Dimensions() > g[best].Dimensions() {
				best = i
			}
		}
		if best < 0 {
			return orb.Point{}
		}
		return RepresentativePoint(g[best])
	}
	return orb.Point{}
}

// pointAlong walks to half the total length in local metres, because a degree
// of longitude is 15% shorter than a degree of latitude in Shanghai.
func pointAlong(mls orb.MultiLineString) orb.Point {
	total := 0.0
	var first orb.Point
	found := false
	for _, ls := range mls {
		for i := range ls {
			if !found {
				first, found = ls[i], true
			}
			if i > 0 {
				total += localDist(ls[i-1], ls[i])
			}
		}
	}
	if !found {
		return orb.Point{}
	}
	if total == 0 {
		return first
	}
	half := total / 2
	for _, ls := range mls {
		for i := 1; i < len(ls); i++ {
			d := localDist(ls[i-1], ls[i])
			if d >= half && d > 0 {
				f := half / d
				return orb.Point{
					ls[i-1][0] + f*(ls[i][0]-ls[i-1][0]),
					ls[i-1][1] + f*(ls[i][1]-ls[i-1][1]),
				}
			}
			half -= d
		}
	}
	last := mls[len(mls)-1]
	return last[len(last)-1]
}

const (
	metresPerDegLat = 110574.0
	metresPerDegLon = 111320.0 // at the equator; multiply by cos(lat)
)

// localDist is an equirectangular distance in metres, exact enough over the
// few hundred metres between vertices of a Shanghai geometry.
func localDist(a, b orb.Point) float64 {
	k := math.Cos((a[1] + b[1]) / 2 * math.Pi / 180)
	dx := (b[0] - a[0]) * metresPerDegLon * k
	dy := (b[1] - a[1]) * metresPerDegLat
	return math.Hypot(dx, dy)
}

func polygonPoint(p orb.Polygon) orb.Point {
	if len(p) == 0 || len(p[0]) == 0 {
		return orb.Point{}
	}
	c, area := planar.CentroidArea(p)
	if area != 0 && planar.PolygonContains(p, c) && !onBoundary(p, c) {
		return c
	}
	return scanlinePoint(p)
}

func onBoundary(p orb.Polygon, c orb.Point) bool {
	for _, r := range p {
		for i := 0; i+1 < len(r); i++ {
			if planar.DistanceFromSegmentSquared(r[i], r[i+1], c) == 0 {
				return true
			}
		}
	}
	return false
}

// scanlinePoint picks the middle of the widest inside stretch of a horizontal
// line through the polygon. The line runs halfway between two vertex
// latitudes near the middle, so it never grazes a vertex and every crossing is
// a clean entry or exit.
func scanlinePoint(p orb.Polygon) orb.Point {
	var ys []float64
	for _, r := range p {
		for _, v := range r {
			ys = append(ys, v[1])
		}
	}
	slices.Sort(ys)
	ys = slices.Compact(ys)
	if len(ys) < 2 {
		return p[0][0]
	}
	mid := (ys[0] + ys[len(ys)-1]) / 2
	// Try the gap nearest the middle first, then move outwards: a polygon
	// can have an empty stretch at its middle latitude (a U shape).
	k := sort.SearchFloat64s(ys, mid)
	if k == 0 {
		k = 1
	}
	if k >= len(ys) {
		k = len(ys) - 1
	}
	order := []int{k}
	for d := 1; k-d >= 1 || k+d < len(ys); d++ {
		if k-d >= 1 {
			order = append(order, k-d)
		}
		if k+d < len(ys) {
			order = append(order, k+d)
		}
	}
	for _, j := range order {
		y := (ys[j-1] + ys[j]) / 2
		var xs []float64
		for _, r := range p {
			for i := 0; i+1 < len(r); i++ {
				a, b := r[i], r[i+1]
				if (a[1] < y) != (b[1] < y) {
					xs = append(xs, a[0]+(y-a[1])/(b[1]-a[1])*(b[0]-a[0]))
				}
			}
			if n := len(r); n > 1 && r[0] != r[n-1] {
				a, b := r[n-1], r[0]
				if (a[1] < y) != (b[1] < y) {
					xs = append(xs, a[0]+(y-a[1])/(b[1]-a[1])*(b[0]-a[0]))
				}
			}
		}
		slices.Sort(xs)
		bestW, bestX := 0.0, 0.0
		for i := 0; i+1 < len(xs); i += 2 {
			if w := xs[i+1] - xs[i]; w > bestW {
				bestW, bestX = w, (xs[i]+xs[i+1])/2
			}
		}
		if bestW > 0 {
			return orb.Point{bestX, y}
		}
	}
	return p[0][0]
}

func isEmpty(g orb.Geometry) bool {
	switch g := g.(type) {
	case nil:
		return true
	case orb.MultiPoint:
		return len(g) == 0
	case orb.LineString:
		return len(g) == 0
	case orb.MultiLineString:
		for _, ls := range g {
			if len(ls) > 0 {
				return false
			}
		}
		return true
	case orb.Ring:
		return len(g) == 0
	case orb.Polygon:
		return len(g) == 0 || len(g[0]) == 0
	case orb.MultiPolygon:
		for _, p := range g {
			if len(p) > 0 && len(p[0]) > 0 {
				return false
			}
		}
		return true
	case orb.Collection:
		for _, m := range g {
			if !isEmpty(m) {
				return false
			}
		}
		return true
	}
	return false
}
