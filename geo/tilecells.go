package geo

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"
)

// TileCells are the H3 cells of resolution res whose centres lie in the z/x/y tile's
// bounds grown by two cell widths: a superset of the cells whose hexagons touch the tile
// (with its buffer), for layers that select their cells by index (h3 = ANY(...)) instead
// of by geometry.
func TileCells(z, x, y, res int) []int64 {
	b := maptile.New(uint32(x), uint32(y), maptile.Zoom(z)).Bound()
	return BoundCells(b, 4*H3EdgeM(res)/111_000, res) // grown by two cell widths, in degrees
}

// BoundCells are the H3 cells of resolution res whose centres lie in b grown by grow
// degrees on every side (clamped to the globe).
func BoundCells(b orb.Bound, grow float64, res int) []int64 {
	lat0, lat1 := math.Max(b.Min[1]-grow, -89.9), math.Min(b.Max[1]+grow, 89.9)
	lon0, lon1 := math.Max(b.Min[0]-grow, -180), math.Min(b.Max[0]+grow, 180)
	loop := h3.GeoLoop{{Lat: lat0, Lng: lon0}, {Lat: lat0, Lng: lon1}, {Lat: lat1, Lng: lon1}, {Lat: lat1, Lng: lon0}}
	cells := h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, res)
	out := make([]int64, len(cells))
	for i, c := range cells {
		out[i] = int64(c)
	}
	return out
}
