package geo

// Web Mercator tiles, shared by the feature tiles and the coverage tiles.
const (
	// TileExtent is the size of a vector tile in its own units; TileBuffer is the margin
	// kept around it, so lines and labels join across tile edges.
	TileExtent = 4096
	TileBuffer = 64
	// MaxZoom is the deepest tile served.
	MaxZoom = 22
)

// ValidTile reports whether z/x/y names a tile.
func ValidTile(z, x, y int) bool {
	return z >= 0 && z <= MaxZoom && x >= 0 && y >= 0 && x < 1<<z && y < 1<<z
}

// h3EdgeM is the average H3 edge length in metres per resolution.
var h3EdgeM = [...]float64{1281256, 483057, 182513, 68979, 26072, 9854, 3725, 1406, 531, 201}

// H3EdgeM is the average edge length in metres of an H3 cell of resolution res (0-9).
func H3EdgeM(res int) float64 { return h3EdgeM[res] }

// ShanghaiExtent is the box (west, south, east, north) that shows the whole city: the
// bounds a map layer reports when it has nothing in the caller's scope. ShanghaiBound is
// the wider box that input must fall in.
func ShanghaiExtent() [4]float64 { return [4]float64{120.85, 30.67, 122.20, 31.88} }
