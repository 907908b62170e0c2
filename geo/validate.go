package geo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// Sentinel errors; every error this package returns about a geometry wraps at
// least one of them, so callers can map them to HTTP codes or import report
// columns with errors.Is.
var (
	ErrSwapped = errors.New("coordinates look swapped")
	ErrOutside = errors.New("outside the supported area")
	ErrRange   = errors.New("coordinate out of range")
	ErrInvalid = errors.New("invalid geometry")
	ErrEmpty   = errors.New("empty geometry")
	ErrUSCC    = errors.New("invalid unified social credit code")
)

// GeometryError explains in plain English what is wrong with a geometry and,
// where one point is to blame, where it is.
type GeometryError struct {
	Reason string
	At     *orb.Point
	kinds  []error
}

func (e *GeometryError) Error() string {
	if e.At == nil {
		return e.Reason
	}
	at := fmtPoint(*e.At)
	if strings.Contains(e.Reason, at) {
		return e.Reason
	}
	return e.Reason + " at " + at
}

// Unwrap lets errors.Is see every sentinel the error belongs to: a latitude
// of 121.47 is both out of range and a sign of swapped coordinates.
func (e *GeometryError) Unwrap() []error { return e.kinds }

func geomErr(kind error, at *orb.Point, format string, args ...any) *GeometryError {
	return &GeometryError{Reason: fmt.Sprintf(format, args...), At: at, kinds: []error{kind}}
}

func ptr(p orb.Point) *orb.Point { return &p }

// fmtPoint prints the shortest exact form, so users recognise what they typed.
func fmtPoint(p orb.Point) string {
	return "(" + fmtNum(p[0]) + ", " + fmtNum(p[1]) + ")"
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// eachPoint calls f on every coordinate of g until f returns false.
func eachPoint(g orb.Geometry, f func(orb.Point) bool) bool {
	pts := func(ps []orb.Point) bool {
		for _, p := range ps {
			if !f(p) {
				return false
			}
		}
		return true
	}
	switch g := g.(type) {
	case orb.Point:
		return f(g)
	case orb.MultiPoint:
		return pts(g)
	case orb.LineString:
		return pts(g)
	case orb.Ring:
		return pts(g)
	case orb.MultiLineString:
		for _, ls := range g {
			if !pts(ls) {
				return false
			}
		}
	case orb.Polygon:
		for _, r := range g {
			if !pts(r) {
				return false
			}
		}
	case orb.MultiPolygon:
		for _, p := range g {
			for _, r := range p {
				if !pts(r) {
					return false
				}
			}
		}
	case orb.Bound:
		return f(g.Min) && f(g.Max)
	case orb.Collection:
		for _, m := range g {
			if !eachPoint(m, f) {
				return false
			}
		}
	}
	return true
}

// CheckRange reports the first coordinate that is not a finite number or lies
// outside lon [-180, 180], lat [-90, 90]. When the pair would be in range the
// other way round, the error also wraps ErrSwapped and says so.
func CheckRange(g orb.Geometry) error {
	var err error
	eachPoint(g, func(p orb.Point) bool {
		err = checkPointRange(p)
		return err == nil
	})
	return err
}

func checkPointRange(p orb.Point) error {
	lon, lat := p[0], p[1]
	if math.IsNaN(lon) || math.IsInf(lon, 0) || math.IsNaN(lat) || math.IsInf(lat, 0) {
		return &GeometryError{
			Reason: fmt.Sprintf("coordinate (%v, %v) is not a finite number", lon, lat),
			kinds:  []error{ErrRange},
		}
	}
	lonOK := lon >= -180 && lon <= 180
	latOK := lat >= -90 && lat <= 90
	if lonOK && latOK {
		return nil
	}
	if math.Abs(lon) <= 90 && math.Abs(lat) <= 180 {
		return &GeometryError{
			Reason: fmt.Sprintf("latitude %s is out of range [-90, 90]; coordinates look swapped: %s reads as lat, lon", fmtNum(lat), fmtPoint(p)),
			At:     ptr(p),
			kinds:  []error{ErrRange, ErrSwapped},
		}
	}
	if !lonOK {
		return geomErr(ErrRange, ptr(p), "longitude %s is out of range [-180, 180]", fmtNum(lon))
	}
	return geomErr(ErrRange, ptr(p), "latitude %s is out of range [-90, 90]", fmtNum(lat))
}

// ValidateGeometry checks OGC validity: the geometry is non-empty and in
// range; lines have at least 2 distinct points; rings are closed, have at
// least 4 points and 3 distinct ones, and neither cross nor touch themselves;
// rings of one polygon do not cross or share edges and touch each other at
// most once; holes lie inside their shell and not inside each other; the
// polygons of a multipolygon do not overlap. Segment pairs are found with a
// sweep over x, so a 10,000-vertex ring takes a few milliseconds.
func ValidateGeometry(g orb.Geometry) error {
	if g == nil {
		return geomErr(ErrEmpty, nil, "geometry is missing")
	}
	if isEmpty(g) {
		return geomErr(ErrEmpty, nil, "%s is empty", typeName(g))
	}
	if err := CheckRange(g); err != nil {
		return err
	}
	switch g := g.(type) {
	case orb.Point, orb.MultiPoint:
		return nil
	case orb.LineString:
		return validateLine(g, "line")
	case orb.MultiLineString:
		for i, ls := range g {
			if len(ls) == 0 {
				return geomErr(ErrEmpty, nil, "line %d of the multi-line is empty", i+1)
			}
			if err := validateLine(ls, fmt.Sprintf("line %d of the multi-line", i+1)); err != nil {
				return err
			}
		}
		return nil
	case orb.Ring:
		return validatePolygons(orb.MultiPolygon{{g}}, false)
	case orb.Polygon:
		return validatePolygons(orb.MultiPolygon{g}, false)
	case orb.MultiPolygon:
		return validatePolygons(g, true)
	case orb.Bound:
		if g.Min[0] > g.Max[0] || g.Min[1] > g.Max[1] {
			return geomErr(ErrInvalid, ptr(g.Min), "box minimum is above its maximum")
		}
		return nil
	case orb.Collection:
		for i, m := range g {
			if m == nil || isEmpty(m) {
				continue
			}
			if err := ValidateGeometry(m); err != nil {
				var ge *GeometryError
				if errors.As(err, &ge) {
					return &GeometryError{Reason: fmt.Sprintf("member %d: %s", i+1, ge.Reason), At: ge.At, kinds: ge.kinds}
				}
				return err
			}
		}
		return nil
	}
	return geomErr(ErrInvalid, nil, "unsupported geometry type %T", g)
}

func typeName(g orb.Geometry) string {
	switch g.(type) {
	case orb.MultiPoint:
		return "multi-point"
	case orb.LineString:
		return "line"
	case orb.MultiLineString:
		return "multi-line"
	case orb.Ring:
		return "ring"
	case orb.Polygon:
		return "polygon"
	case orb.MultiPolygon:
		return "multi-polygon"
	case orb.Collection:
		return "geometry collection"
	}
	return "geometry"
}

func validateLine(ls orb.LineString, what string) error {
	for _, p := range ls[1:] {
		if p != ls[0] {
			return nil
		}
	}
	if len(ls) == 1 {
		return geomErr(ErrInvalid, ptr(ls[0]), "%s has a single point; a line needs at least 2 distinct points", what)
	}
	return geomErr(ErrInvalid, ptr(ls[0]), "%s has %d points but all are the same; a line needs at least 2 distinct points", what, len(ls))
}

// vseg is one ring edge in the validation sweep.
type vseg struct {
	a, b       orb.Point
	minX, maxX float64
	poly, ring int // ring is the index within its polygon; 0 is the shell
	edge, n    int // edge index and edge count of its ring
}

type ringKey struct{ poly, ring int }

type validator struct {
	mp    orb.MultiPolygon
	multi bool
	rings [][][]orb.Point // deduplicated rings, closed
	// touches records where two different rings of one polygon meet, since
	// OGC allows them a single common point only.
	touches    map[[2]ringKey][]orb.Point
	touchOrder [][2]ringKey
}

func (v *validator) ringName(poly, ring int) string {
	var s string
	if ring == 0 {
		s = "shell"
	} else {
		s = fmt.Sprintf("hole %d", ring)
	}
	if v.multi {
		s = fmt.Sprintf("polygon %d %s", poly+1, s)
	}
	return s
}

func validatePolygons(mp orb.MultiPolygon, multi bool) error {
	v := &validator{mp: mp, multi: multi, touches: map[[2]ringKey][]orb.Point{}}
	var segs []vseg
	v.rings = make([][][]orb.Point, len(mp))
	for pi, p := range mp {
		if len(p) == 0 || len(p[0]) == 0 {
			if multi {
				return geomErr(ErrEmpty, nil, "polygon %d of the multi-polygon is empty", pi+1)
			}
			return geomErr(ErrEmpty, nil, "polygon is empty")
		}
		v.rings[pi] = make([][]orb.Point, len(p))
		for ri, r := range p {
			name := v.ringName(pi, ri)
			if len(r) == 0 {
				return geomErr(ErrInvalid, nil, "%s is empty", name)
			}
			if r[0] != r[len(r)-1] {
				return geomErr(ErrInvalid, ptr(r[0]), "%s is not closed: it starts at %s but ends at %s", name, fmtPoint(r[0]), fmtPoint(r[len(r)-1]))
			}
			if len(r) < 4 {
				return geomErr(ErrInvalid, ptr(r[0]), "%s has only %d points; a closed ring needs at least 4", name, len(r))
			}
			// Repeated consecutive points are legal in OGC; dropping them
			// keeps a duplicated vertex from looking like a spike.
			d := make([]orb.Point, 0, len(r))
			for _, pt := range r {
				if len(d) == 0 || d[len(d)-1] != pt {
					d = append(d, pt)
				}
			}
			if len(d) < 4 {
				return geomErr(ErrInvalid, ptr(r[0]), "%s has fewer than 3 distinct points and so no area", name)
			}
			v.rings[pi][ri] = d
			n := len(d) - 1
			for i := 0; i < n; i++ {
				// The ring turns straight back at d[i]: its neighbours lie
				// on the same side along one line.
				p, q, r := d[(i+n-1)%n], d[i], d[i+1]
				if orientSign(p, q, r) == 0 && orientSign(q, r, p) == 0 &&
					(p[0]-q[0])*(r[0]-q[0])+(p[1]-q[1])*(r[1]-q[1]) > 0 {
					return geomErr(ErrInvalid, ptr(q), "%s doubles back on itself (a spike)", name)
				}
			}
			for i := 0; i < n; i++ {
				a, b := d[i], d[i+1]
				segs = append(segs, vseg{a: a, b: b, minX: math.Min(a[0], b[0]), maxX: math.Max(a[0], b[0]),
					poly: pi, ring: ri, edge: i, n: n})
			}
		}
	}
	if err := v.sweep(segs); err != nil {
		return err
	}
	return v.containment()
}

// sweep tests every pair of segments that share a cell of a uniform grid.
// Each segment is entered only in the cells its line actually passes
// through, so a cell holds a handful of segments and the work stays near
// linear for rings of any shape. A pair sharing several cells is tested more
// than once; that is harmless, as a meeting gives the same answer each time.
func (v *validator) sweep(segs []vseg) error {
	n := len(segs)
	b := orb.Bound{Min: segs[0].a, Max: segs[0].a}
	for i := range segs {
		b = b.Extend(segs[i].a).Extend(segs[i].b)
	}
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	side := math.Max(math.Sqrt(w*h/float64(2*n)), math.Max(w, h)/2048)
	if side == 0 || math.IsNaN(side) {
		side = 1
	}
	gx := min(2048, int(w/side)+1)
	gy := min(2048, int(h/side)+1)
	cellW, cellH := w/float64(gx), h/float64(gy)
	col := func(x float64) int {
		if cellW == 0 {
			return 0
		}
		return min(gx-1, max(0, int((x-b.Min[0])/cellW)))
	}
	row := func(y float64) int {
		if cellH == 0 {
			return 0
		}
		return min(gy-1, max(0, int((y-b.Min[1])/cellH)))
	}
	// Visit the cells of each segment row by row: within a row band the
	// segment spans one x interval. Bands are widened by a hair so a segment
	// lying on a cell border is entered on both sides.
	eachCell := func(s *vseg, f func(c int)) {
		y0, y1 := math.Min(s.a[1], s.b[1]), math.Max(s.a[1], s.b[1])
		epsX, epsY := cellW*1e-9, cellH*1e-9
		for j := row(y0 - epsY); j <= row(y1+epsY); j++ {
			lo := math.Max(y0, b.Min[1]+float64(j)*cellH-epsY)
			hi := math.Min(y1, b.Min[1]+float64(j+1)*cellH+epsY)
			var xa, xb float64
			if s.a[1] == s.b[1] {
				xa, xb = s.a[0], s.b[0]
			} else {
				xa = s.a[0] + (lo-s.a[1])/(s.b[1]-s.a[1])*(s.b[0]-s.a[0])
				xb = s.a[0] + (hi-s.a[1])/(s.b[1]-s.a[1])*(s.b[0]-s.a[0])
			}
			if xa > xb {
				xa, xb = xb, xa
			}
			for i := col(xa - epsX); i <= col(xb+epsX); i++ {
				f(j*gx + i)
			}
		}
	}
	// Counting sort of (cell, segment) entries into one flat array.
	start := make([]int32, gx*gy+1)
	for i := range segs {
		eachCell(&segs[i], func(c int) { start[c+1]++ })
	}
	for c := 1; c < len(start); c++ {
		start[c] += start[c-1]
	}
	fill := slices.Clone(start[:len(start)-1])
	entries := make([]int32, start[len(start)-1])
	for i := range segs {
		eachCell(&segs[i], func(c int) {
			entries[fill[c]] = int32(i)
			fill[c]++
		})
	}
	for c := 0; c < gx*gy; c++ {
		cell := entries[start[c]:start[c+1]]
		for x := 0; x < len(cell); x++ {
			s := &segs[cell[x]]
			for y := x + 1; y < len(cell); y++ {
				o := &segs[cell[y]]
				if o.maxX < s.minX || o.minX > s.maxX ||
					math.Max(o.a[1], o.b[1]) < math.Min(s.a[1], s.b[1]) ||
					math.Min(o.a[1], o.b[1]) > math.Max(s.a[1], s.b[1]) {
					continue
				}
				if err := v.pair(s, o); err != nil {
					return err
				}
			}
		}
	}
	// Touches are judged only now, so that a worse fault found later
	// (rings sharing an edge also touch at its ends) is the one reported.
	for _, key := range v.touchOrder {
		if pts := v.touches[key]; len(pts) > 1 {
			a, b := v.ringName(key[0].poly, key[0].ring), v.ringName(key[1].poly, key[1].ring)
			return geomErr(ErrInvalid, ptr(pts[1]), "%s and %s touch at more than one point (also at %s), which cuts the polygon apart", a, b, fmtPoint(pts[0]))
		}
	}
	return nil
}

// Classification of how two segments meet.
const (
	meetNone = iota
	meetTouch
	meetCross
	meetOverlap
)

// orientEps treats near-zero cross products as collinear. Coordinates are
// differenced before multiplying, so genuine collinear input (a spike back
// to the same vertex) gives exact zero and the tolerance only absorbs noise.
func orientSign(a, b, c orb.Point) int {
	abx, aby := b[0]-a[0], b[1]-a[1]
	acx, acy := c[0]-a[0], c[1]-a[1]
	o := abx*acy - aby*acx
	eps := 1e-12 * (math.Abs(abx) + math.Abs(aby)) * (math.Abs(acx) + math.Abs(acy))
	switch {
	case o > eps:
		return 1
	case o < -eps:
		return -1
	}
	return 0
}

func within(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// meet classifies segments p1-p2 and q1-q2 and returns a point they share.
func meet(p1, p2, q1, q2 orb.Point) (int, orb.Point) {
	o1, o2 := orientSign(p1, p2, q1), orientSign(p1, p2, q2)
	if o1*o2 > 0 {
		return meetNone, orb.Point{} // the common case, decided cheaply
	}
	o3, o4 := orientSign(q1, q2, p1), orientSign(q1, q2, p2)
	if o3*o4 > 0 {
		return meetNone, orb.Point{}
	}
	if o1*o2 < 0 && o3*o4 < 0 {
		d := (p2[0]-p1[0])*(q2[1]-q1[1]) - (p2[1]-p1[1])*(q2[0]-q1[0])
		t := ((q1[0]-p1[0])*(q2[1]-q1[1]) - (q1[1]-p1[1])*(q2[0]-q1[0])) / d
		return meetCross, orb.Point{p1[0] + t*(p2[0]-p1[0]), p1[1] + t*(p2[1]-p1[1])}
	}
	if o1 == 0 && o2 == 0 && o3 == 0 && o4 == 0 {
		// Collinear: project on the longer axis and compare intervals.
		ax := 0
		if math.Abs(p2[1]-p1[1]) > math.Abs(p2[0]-p1[0]) {
			ax = 1
		}
		lo1, hi1 := math.Min(p1[ax], p2[ax]), math.Max(p1[ax], p2[ax])
		lo2, hi2 := math.Min(q1[ax], q2[ax]), math.Max(q1[ax], q2[ax])
		lo, hi := math.Max(lo1, lo2), math.Min(hi1, hi2)
		switch {
		case lo < hi:
			for _, c := range []orb.Point{q1, q2, p1, p2} {
				if c[ax] == lo {
					return meetOverlap, c
				}
			}
			return meetOverlap, p1
		case lo == hi:
			for _, c := range []orb.Point{q1, q2} {
				if c[ax] == lo {
					return meetTouch, c
				}
			}
		}
		return meetNone, orb.Point{}
	}
	switch {
	case o1 == 0 && within(p1, p2, q1):
		return meetTouch, q1
	case o2 == 0 && within(p1, p2, q2):
		return meetTouch, q2
	case o3 == 0 && within(q1, q2, p1):
		return meetTouch, p1
	case o4 == 0 && within(q1, q2, p2):
		return meetTouch, p2
	}
	return meetNone, orb.Point{}
}

func (v *validator) pair(s, t *vseg) error {
	if s.poly == t.poly && s.ring == t.ring {
		return v.sameRing(s, t)
	}
	kind, at := meet(s.a, s.b, t.a, t.b)
	if kind == meetNone {
		return nil
	}
	if s.poly != t.poly {
		switch kind {
		case meetCross:
			return geomErr(ErrInvalid, ptr(at), "polygons %d and %d of the multi-polygon cross each other", s.poly+1, t.poly+1)
		case meetOverlap:
			return geomErr(ErrInvalid, ptr(at), "polygons %d and %d of the multi-polygon share an edge; merge them or keep them apart", s.poly+1, t.poly+1)
		}
		return nil // polygons may touch at points
	}
	a, b := v.ringName(s.poly, s.ring), v.ringName(t.poly, t.ring)
	if s.ring > t.ring {
		a, b = b, a
	}
	switch kind {
	case meetCross:
		return geomErr(ErrInvalid, ptr(at), "%s and %s cross each other", a, b)
	case meetOverlap:
		return geomErr(ErrInvalid, ptr(at), "%s and %s run along the same edge", a, b)
	}
	k1, k2 := ringKey{s.poly, s.ring}, ringKey{t.poly, t.ring}
	if k2.ring < k1.ring {
		k1, k2 = k2, k1
	}
	key := [2]ringKey{k1, k2}
	pts, seen := v.touches[key]
	if !seen {
		v.touchOrder = append(v.touchOrder, key)
	}
	if !slices.Contains(pts, at) {
		v.touches[key] = append(pts, at)
	}
	return nil
}

func (v *validator) sameRing(s, t *vseg) error {
	i, j := s.edge, t.edge
	if i > j {
		i, j = j, i
		s, t = t, s
	}
	adjacent := j == i+1 || (i == 0 && j == s.n-1)
	if adjacent {
		// Consecutive edges share a vertex; spikes were caught before the
		// sweep, so any other common point means the ring touches itself.
		shared := s.b
		if j != i+1 {
			shared = s.a // the closing edge t ends where edge 0 starts
		}
		kind, at := meet(s.a, s.b, t.a, t.b)
		if kind != meetNone && at != shared {
			return geomErr(ErrInvalid, ptr(at), "%s touches itself", v.ringName(s.poly, s.ring))
		}
		return nil
	}
	kind, at := meet(s.a, s.b, t.a, t.b)
	switch kind {
	case meetCross:
		return geomErr(ErrInvalid, ptr(at), "%s crosses itself", v.ringName(s.poly, s.ring))
	case meetOverlap:
		return geomErr(ErrInvalid, ptr(at), "%s runs back over its own edge", v.ringName(s.poly, s.ring))
	case meetTouch:
		return geomErr(ErrInvalid, ptr(at), "%s touches itself", v.ringName(s.poly, s.ring))
	}
	return nil
}

// locate tells whether p is inside ring r, or on its boundary.
func locate(r []orb.Point, p orb.Point) (inside, boundary bool) {
	for i := 0; i+1 < len(r); i++ {
		a, b := r[i], r[i+1]
		if orientSign(a, b, p) == 0 && within(a, b, p) {
			return false, true
		}
		if (a[1] > p[1]) != (b[1] > p[1]) {
			x := a[0] + (p[1]-a[1])/(b[1]-a[1])*(b[0]-a[0])
			if p[0] < x {
				inside = !inside
			}
		}
	}
	return inside, false
}

// probe returns a point of ring r that is not on ring other, to decide on
// which side of other r lies. Rings that passed the sweep do not cross, so
// one such point settles it.
func probe(r, other []orb.Point) (orb.Point, bool, bool) {
	for _, p := range r[:len(r)-1] {
		if in, on := locate(other, p); !on {
			return p, in, true
		}
	}
	for i := 0; i+1 < len(r); i++ {
		m := orb.Point{(r[i][0] + r[i+1][0]) / 2, (r[i][1] + r[i+1][1]) / 2}
		if in, on := locate(other, m); !on {
			return m, in, true
		}
	}
	return orb.Point{}, false, false
}

func (v *validator) containment() error {
	for pi, rings := range v.rings {
		shell := rings[0]
		for hi := 1; hi < len(rings); hi++ {
			hole := rings[hi]
			p, in, ok := probe(hole, shell)
			if !ok {
				return geomErr(ErrInvalid, ptr(hole[0]), "%s coincides with the shell", v.ringName(pi, hi))
			}
			if !in {
				return geomErr(ErrInvalid, &p, "%s lies outside the shell", v.ringName(pi, hi))
			}
			for hj := 1; hj < len(rings); hj++ {
				if hj == hi {
					continue
				}
				p, in, ok := probe(hole, rings[hj])
				if !ok {
					return geomErr(ErrInvalid, ptr(hole[0]), "%s and %s coincide", v.ringName(pi, hi), v.ringName(pi, hj))
				}
				if in {
					return geomErr(ErrInvalid, &p, "%s lies inside %s", v.ringName(pi, hi), v.ringName(pi, hj))
				}
			}
		}
	}
	if len(v.rings) < 2 {
		return nil
	}
	bounds := make([]orb.Bound, len(v.mp))
	for i, p := range v.mp {
		bounds[i] = p.Bound()
	}
	for i := range v.rings {
		for j := range v.rings {
			if i == j || !bounds[i].Intersects(bounds[j]) {
				continue
			}
			// A shell point of i inside j's area (in j's shell, in none of
			// its holes) means the two polygons overlap.
			p, in, ok := probe(v.rings[i][0], v.rings[j][0])
			if !ok {
				return geomErr(ErrInvalid, ptr(v.rings[i][0][0]), "polygons %d and %d of the multi-polygon have the same shell", i+1, j+1)
			}
			if !in {
				continue
			}
			inHole := false
			for _, h := range v.rings[j][1:] {
				if hin, on := locate(h, p); hin || on {
					inHole = true
					break
				}
			}
			if !inHole {
				return geomErr(ErrInvalid, &p, "polygon %d of the multi-polygon lies inside polygon %d", i+1, j+1)
			}
		}
	}
	return nil
}

// ---- Unified social credit code (统一社会信用代码), GB 32100-2015.

const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccDepts are the registration departments of GB 32100-2015: 1 机构编制,
// 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商(市场监管),
// A 中央军委改革和编制办公室, N 农业, Y 其他.
const usccDepts = "123456789ANY"

// usccProvinces are the first two digits of GB/T 2260 division codes; "10"
// is the national level (codes issued by central registries as 100000).
var usccProvinces = map[string]bool{
	"10": true, "11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

func usccErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUSCC, fmt.Sprintf(format, args...))
}

// checkUSCCChars reports the first character outside the code's alphabet,
// naming the common mistakes (lowercase, the excluded letters) explicitly.
func checkUSCCChars(s string) error {
	for i, r := range s {
		pos := i + 1
		switch {
		case r >= 'a' && r <= 'z':
			return usccErr("position %d: lowercase %q; codes are written in capitals", pos, r)
		case r == 'I' || r == 'O' || r == 'Z' || r == 'S' || r == 'V':
			return usccErr("position %d: the letter %q is never used in a code (I, O, Z, S and V are excluded)", pos, r)
		case !strings.ContainsRune(usccChars, r):
			return usccErr("position %d: %q is not a digit or an allowed capital letter", pos, r)
		}
	}
	return nil
}

// USCCCheckChar returns the check character (position 18) for the first 17
// characters of a code.
func USCCCheckChar(first17 string) (byte, error) {
	if n := len([]rune(first17)); n != 17 {
		return 0, usccErr("need the first 17 characters to compute the check character, got %d", n)
	}
	if err := checkUSCCChars(first17); err != nil {
		return 0, err
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(usccChars, first17[i]) * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccChars[c], nil
}

// CheckUSCC validates a unified social credit code: 18 characters from
// 0-9 and the capitals except I, O, Z, S, V; a known registration department
// first; a digit category second; a 6-digit division code in positions 3-8;
// and the GB 32100 check character last. The error names the position.
func CheckUSCC(s string) error {
	if n := len([]rune(s)); n != 18 {
		return usccErr("a code has 18 characters, got %d", n)
	}
	if err := checkUSCCChars(s); err != nil {
		return err
	}
	if !strings.ContainsRune(usccDepts, rune(s[0])) {
		return usccErr("position 1: %q is not a registration department code (1-9, A, N or Y)", s[0])
	}
	if s[1] < '1' || s[1] > '9' {
		return usccErr("position 2: %q is not an organisation category (a digit 1-9)", s[1])
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return usccErr("position %d: %q in the administrative division code (positions 3-8) is not a digit", i+1, s[i])
		}
	}
	if !usccProvinces[s[2:4]] {
		return usccErr("positions 3-8: %s is not an administrative division code (no province %s)", s[2:8], s[2:4])
	}
	want, err := USCCCheckChar(s[:17])
	if err != nil {
		return err
	}
	if s[17] != want {
		return usccErr("position 18: check character is %q, should be %q", s[17], want)
	}
	return nil
}
