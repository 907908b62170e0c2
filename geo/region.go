package geo

import (
	"fmt"
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// ShanghaiBound is a generous box around Shanghai, islands included: the
// district data spans lon 120.852..122.007, lat 30.691..31.866; the box adds
// room for Sheshan island (122.24 E) and the Yangshan port area (30.6 N).
func ShanghaiBound() orb.Bound {
	return orb.Bound{Min: orb.Point{120.80, 30.40}, Max: orb.Point{122.27, 31.92}}
}

// Raster cell states; values >= 0 index Region.edges.
const (
	cellOut int32 = -1
	cellIn  int32 = -2
)

// regionCellM is the raster cell size in metres: small enough that edge
// cells are a thin band along the coast, large enough that the raster of
// Shanghai stays under a megabyte or two.
const regionCellM = 150.0

// Region answers "is this point inside the area, or within the tolerance of
// it" at well over a million points per second. A raster over the area marks
// each cell as wholly in, wholly out, or edge; only points in edge cells get
// the exact test, against the few boundary segments stored with that cell.
type Region struct {
	box  bool // a plain box: no raster
	b    orb.Bound
	tol2 float64 // tolerance squared, m²

	x0, y0, dx, dy float64
	nx, ny         int
	state          []int32
	edges          []edgeCell
}

// edgeCell holds, in local metres around the cell centre, every boundary
// segment within tolerance + half a diagonal of the centre. Segments are
// grouped by area so the crossing parity from the centre tells, per area,
// whether a point is inside.
type edgeCell struct {
	cx, cy float64 // centre, degrees
	kx     float64 // metres per degree of longitude at this row
	groups []edgeGroup
	segs   []localSeg
}

type edgeGroup struct {
	inside bool // centre inside this area
	lo, hi int32
}

type localSeg struct{ ax, ay, bx, by float64 }

type regionSeg struct {
	a, b orb.Point
	area int32
}

// BoundRegion returns a Region that is just the box b, for use before any
// areas are loaded.
func BoundRegion(b orb.Bound) *Region {
	return &Region{box: true, b: b}
}

// NewRegion builds a Region from areas (each area's rings are combined
// even-odd, so holes are honoured) with a tolerance in metres: a point
// counts as inside when it lies within toleranceM of some area, which keeps
// shore-line ports and pipelines from being rejected by a simplified coast.
// Areas may overlap or leave gaps between each other.
func NewRegion(areas []orb.MultiPolygon, toleranceM float64) *Region {
	if toleranceM < 0 || math.IsNaN(toleranceM) {
		toleranceM = 0
	}
	var segs []regionSeg
	b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for ai, mp := range areas {
		for _, p := range mp {
			for _, r := range p {
				n := len(r)
				if n > 1 && r[0] == r[n-1] {
					n--
				}
				if n < 3 {
					continue
				}
				for i := 0; i < n; i++ {
					a, c := r[i], r[(i+1)%n]
					b = b.Extend(a)
					if a != c {
						segs = append(segs, regionSeg{a, c, int32(ai)})
					}
				}
			}
		}
	}
	if len(segs) == 0 {
		return &Region{box: true, b: orb.Bound{Min: orb.Point{math.NaN(), math.NaN()}, Max: orb.Point{math.NaN(), math.NaN()}}}
	}

	r := &Region{tol2: toleranceM * toleranceM}
	maxAbsLat := math.Max(math.Abs(b.Min[1]), math.Abs(b.Max[1]))
	kxMin := metresPerDegLon * math.Cos(math.Min(maxAbsLat+1, 89)*math.Pi/180)
	midK := math.Cos((b.Min[1] + b.Max[1]) / 2 * math.Pi / 180)
	r.dy = regionCellM / metresPerDegLat
	r.dx = regionCellM / (metresPerDegLon * math.Max(midK, 0.01))
	// Keep the raster bounded for continent-sized input.
	for {
		w := (b.Max[0]-b.Min[0])/r.dx + 4 + 2*toleranceM/kxMin/r.dx
		h := (b.Max[1]-b.Min[1])/r.dy + 4 + 2*toleranceM/metresPerDegLat/r.dy
		if w*h <= 4e6 {
			break
		}
		r.dx *= 1.5
		r.dy *= 1.5
	}
	padX := toleranceM/kxMin + 2*r.dx
	padY := toleranceM/metresPerDegLat + 2*r.dy
	r.x0, r.y0 = b.Min[0]-padX, b.Min[1]-padY
	r.nx = int(math.Ceil((b.Max[0]+padX-r.x0)/r.dx)) + 1
	r.ny = int(math.Ceil((b.Max[1]+padY-r.y0)/r.dy)) + 1
	r.b = orb.Bound{Min: orb.Point{r.x0, r.y0}, Max: orb.Point{r.x0 + float64(r.nx)*r.dx, r.y0 + float64(r.ny)*r.dy}}

	kx := make([]float64, r.ny)
	halfDiag := 0.0
	for j := range kx {
		kx[j] = metresPerDegLon * math.Cos(r.rowY(j)*math.Pi/180)
		halfDiag = math.Max(halfDiag, 0.5*math.Hypot((r.dx+r.dx*1e-9)*kx[j], r.dy*metresPerDegLat))
	}
	// Conservative (a hair above the true half diagonal) so rounding never
	// makes a cell look wholly in or out when it is not.
	halfDiag *= 1.000001
	reach := toleranceM + halfDiag

	// Distance from each cell centre to the nearest boundary, for cells
	// within reach of one; the rest keep +Inf.
	dmin := make([]float64, r.nx*r.ny)
	for i := range dmin {
		dmin[i] = math.Inf(1)
	}
	r.eachCellNear(segs, reach, kxMin, func(idx, j int, c orb.Point, si int) {
		s := &segs[si]
		if d := segDistM(c, s.a, s.b, kx[j]); d < dmin[idx] {
			dmin[idx] = d
		}
	})

	// Scanline through each row of centres: even-odd per area gives the
	// centre's status exactly, whatever overlaps or gaps the areas have.
	rowSegs := make([][]int32, r.ny)
	for si, s := range segs {
		j0 := max(0, int(math.Floor((math.Min(s.a[1], s.b[1])-r.y0)/r.dy-0.5)))
		j1 := min(r.ny-1, int(math.Ceil((math.Max(s.a[1], s.b[1])-r.y0)/r.dy-0.5)))
		for j := j0; j <= j1; j++ {
			rowSegs[j] = append(rowSegs[j], int32(si))
		}
	}
	r.state = make([]int32, r.nx*r.ny)
	nAreas := len(areas)
	xs := make([][]float64, nAreas)
	cover := make([]int32, r.nx+1)
	insideAreas := map[int][]int32{} // edge cell index -> areas holding its centre
	for j := 0; j < r.ny; j++ {
		y := r.rowY(j)
		for a := range xs {
			xs[a] = xs[a][:0]
		}
		for _, si := range rowSegs[j] {
			s := &segs[si]
			if (s.a[1] > y) != (s.b[1] > y) {
				x := s.a[0] + (y-s.a[1])/(s.b[1]-s.a[1])*(s.b[0]-s.a[0])
				xs[s.area] = append(xs[s.area], x)
			}
		}
		clear(cover)
		for a := range xs {
			slices.Sort(xs[a])
			for k := 0; k+1 < len(xs[a]); k += 2 {
				// Centres with x strictly left of a crossing see it on their
				// ray, matching the even-odd rule of locate.
				i0 := max(0, int(math.Ceil((xs[a][k]-r.x0)/r.dx-0.5)))
				i1 := min(r.nx, int(math.Ceil((xs[a][k+1]-r.x0)/r.dx-0.5)))
				if i0 < i1 {
					cover[i0]++
					cover[i1]--
				}
			}
		}
		run := int32(0)
		for i := 0; i < r.nx; i++ {
			run += cover[i]
			idx := j*r.nx + i
			in, d := run > 0, dmin[idx]
			var st int32
			switch {
			case in && (d >= halfDiag || toleranceM >= halfDiag):
				st = cellIn
			case !in && d+halfDiag <= toleranceM:
				st = cellIn
			case !in && d-halfDiag > toleranceM:
				st = cellOut
			default:
				st = int32(len(r.edges))
				cx := r.colX(i)
				var ins []int32
				for a := range xs {
					if k, _ := slices.BinarySearch(xs[a], cx); k%2 == 1 {
						ins = append(ins, int32(a))
					}
				}
				insideAreas[int(st)] = ins
				r.edges = append(r.edges, edgeCell{cx: cx, cy: y, kx: kx[j]})
			}
			r.state[idx] = st
		}
	}

	// Attach to each edge cell the segments within reach of its centre.
	type hit struct {
		area int32
		seg  int32
	}
	hits := make([][]hit, len(r.edges))
	r.eachCellNear(segs, reach, kxMin, func(idx, j int, c orb.Point, si int) {
		s := &segs[si]
		e := r.state[idx]
		if e < 0 {
			return
		}
		if segDistM(c, s.a, s.b, kx[j]) <= reach {
			hits[e] = append(hits[e], hit{s.area, int32(si)})
		}
	})
	for e := range r.edges {
		ec := &r.edges[e]
		h := hits[e]
		slices.SortFunc(h, func(p, q hit) int { return int(p.area - q.area) })
		ins := insideAreas[e]
		for k := 0; k < len(h); {
			area := h[k].area
			g := edgeGroup{inside: slices.Contains(ins, area), lo: int32(len(ec.segs))}
			for ; k < len(h) && h[k].area == area; k++ {
				s := &segs[h[k].seg]
				ec.segs = append(ec.segs, localSeg{
					ax: (s.a[0] - ec.cx) * ec.kx, ay: (s.a[1] - ec.cy) * metresPerDegLat,
					bx: (s.b[0] - ec.cx) * ec.kx, by: (s.b[1] - ec.cy) * metresPerDegLat,
				})
			}
			g.hi = int32(len(ec.segs))
			ec.groups = append(ec.groups, g)
		}
		// A centre inside an area none of whose boundary comes near lies in
		// a cell wholly inside that area.
		for _, a := range ins {
			if !slices.ContainsFunc(h, func(x hit) bool { return x.area == a }) {
				n := int32(len(ec.segs))
				ec.groups = append(ec.groups, edgeGroup{inside: true, lo: n, hi: n})
			}
		}
	}
	return r
}

func (r *Region) rowY(j int) float64 { return r.y0 + (float64(j)+0.5)*r.dy }
func (r *Region) colX(i int) float64 { return r.x0 + (float64(i)+0.5)*r.dx }

// eachCellNear calls f for every cell whose centre may lie within reach
// metres of a segment (a conservative box around the segment).
func (r *Region) eachCellNear(segs []regionSeg, reach, kxMin float64, f func(idx, j int, c orb.Point, si int)) {
	rx, ry := reach/kxMin, reach/metresPerDegLat
	for si := range segs {
		s := &segs[si]
		i0 := max(0, int(math.Floor((math.Min(s.a[0], s.b[0])-rx-r.x0)/r.dx)))
		i1 := min(r.nx-1, int(math.Floor((math.Max(s.a[0], s.b[0])+rx-r.x0)/r.dx)))
		j0 := max(0, int(math.Floor((math.Min(s.a[1], s.b[1])-ry-r.y0)/r.dy)))
		j1 := min(r.ny-1, int(math.Floor((math.Max(s.a[1], s.b[1])+ry-r.y0)/r.dy)))
		for j := j0; j <= j1; j++ {
			y := r.rowY(j)
			for i := i0; i <= i1; i++ {
				f(j*r.nx+i, j, orb.Point{r.colX(i), y}, si)
			}
		}
	}
}

// segDistM is the distance in metres from c to segment a-b, in a local
// equirectangular frame at c's latitude.
func segDistM(c, a, b orb.Point, kx float64) float64 {
	return math.Sqrt(localSegDist2(0, 0, localSeg{
		ax: (a[0] - c[0]) * kx, ay: (a[1] - c[1]) * metresPerDegLat,
		bx: (b[0] - c[0]) * kx, by: (b[1] - c[1]) * metresPerDegLat,
	}))
}

func localSegDist2(px, py float64, s localSeg) float64 {
	vx, vy := s.bx-s.ax, s.by-s.ay
	wx, wy := px-s.ax, py-s.ay
	l2 := vx*vx + vy*vy
	t := 0.0
	if l2 > 0 {
		t = (wx*vx + wy*vy) / l2
		t = math.Max(0, math.Min(1, t))
	}
	dx, dy := wx-t*vx, wy-t*vy
	return dx*dx + dy*dy
}

// crossesFromOrigin reports whether the path from the cell centre (0, 0) to
// (px, py) crosses segment s. Endpoints on the path's line count on one side
// only (half-open, as in ray casting), so a path through a shared vertex
// counts its two segments consistently.
func crossesFromOrigin(px, py float64, s localSeg) bool {
	oa := px*s.ay - py*s.ax
	ob := px*s.by - py*s.bx
	if (oa > 0) == (ob > 0) {
		return false
	}
	vx, vy := s.bx-s.ax, s.by-s.ay
	o0 := vx*(0-s.ay) - vy*(0-s.ax)
	o1 := vx*(py-s.ay) - vy*(px-s.ax)
	return (o0 > 0 && o1 < 0) || (o0 < 0 && o1 > 0)
}

// Contains reports whether p ({lon, lat}) is inside the region or within its
// tolerance. NaN and infinite coordinates are outside.
func (r *Region) Contains(p orb.Point) bool {
	if r.box {
		return p[0] >= r.b.Min[0] && p[0] <= r.b.Max[0] && p[1] >= r.b.Min[1] && p[1] <= r.b.Max[1]
	}
	fx := (p[0] - r.x0) / r.dx
	fy := (p[1] - r.y0) / r.dy
	// The negated form also rejects NaN.
	if !(fx >= 0 && fy >= 0 && fx < float64(r.nx) && fy < float64(r.ny)) {
		return false
	}
	st := r.state[int(fy)*r.nx+int(fx)]
	if st < 0 {
		return st == cellIn
	}
	return r.edges[st].contains(p, r.tol2)
}

func (e *edgeCell) contains(p orb.Point, tol2 float64) bool {
	px := (p[0] - e.cx) * e.kx
	py := (p[1] - e.cy) * metresPerDegLat
	for _, g := range e.groups {
		in := g.inside
		for _, s := range e.segs[g.lo:g.hi] {
			if crossesFromOrigin(px, py, s) {
				in = !in
			}
		}
		if in {
			return true
		}
	}
	for _, s := range e.segs {
		if localSegDist2(px, py, s) <= tol2 {
			return true
		}
	}
	return false
}

// Bound returns the box the region covers (for a raster region, its raster
// extent including the tolerance).
func (r *Region) Bound() orb.Bound { return r.b }

// Check returns nil when every vertex of g is inside the region. Otherwise,
// when every vertex would be inside with lon and lat exchanged, it returns an
// error wrapping ErrSwapped; else one wrapping ErrOutside that names the
// first vertex outside.
func (r *Region) Check(g orb.Geometry) error {
	var first *orb.Point
	eachPoint(g, func(p orb.Point) bool {
		if !r.Contains(p) {
			first = &p
			return false
		}
		return true
	})
	if first == nil {
		return nil
	}
	swappedIn := eachPoint(g, func(p orb.Point) bool { return r.Contains(orb.Point{p[1], p[0]}) })
	if swappedIn {
		kinds := []error{ErrSwapped}
		if checkPointRange(*first) != nil {
			kinds = append(kinds, ErrRange)
		}
		return &GeometryError{
			Reason: fmt.Sprintf("coordinates look swapped: %s reads as lat, lon; give longitude first", fmtPoint(*first)),
			At:     first,
			kinds:  kinds,
		}
	}
	if err := checkPointRange(*first); err != nil {
		return err
	}
	return geomErr(ErrOutside, first, "point lies outside Shanghai (beyond the district boundaries and their shore tolerance)")
}
