package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/geo"
	"safegrid/grid/layers"
)

// Vector tiles: /tiles/{layer}/{z}/{x}/{y}.mvt and TileJSON 3.0 at /tiles/{layer}.json,
// for each feature collection, grid_cells and areas (grid/layers/tiles.go has the SQL). Tiles
// are scoped like OGC items. An empty tile is a 200 with an empty body (a valid MVT with
// no layers), so it can carry an ETag too. The ETag is a hash of the tile's bytes, and
// Cache-Control makes clients revalidate every time (a cheap 304 when nothing changed), so
// a change to the data shows in the very next request.

const (
	mimeMVT          = "application/vnd.mapbox-vector-tile"
	tileCacheControl = "private, max-age=0, must-revalidate"
)

// tileJSON is a TileJSON 3.0.0 document (MapLibre reads it as a vector source).
type tileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Version      string        `json:"version"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles" doc:"absolute URL template"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       [4]float64    `json:"bounds" doc:"of the features the caller may see (Shanghai when there are none)"`
	Center       [3]float64    `json:"center"`
	VectorLayers []vectorLayer `json:"vector_layers"`
}

type vectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields" doc:"attribute name to String, Number or Boolean"`
}

func tileLayerNames() string {
	names := make([]string, len(layers.TileLayers()))
	for i, l := range layers.TileLayers() {
		names[i] = l.ID
	}
	return strings.Join(names, ", ")
}

func (s *Server) tileRoutes() {
	tags := []string{"tiles"}
	layer := PathParam("layer", tileLayerNames())
	s.route(fiber.MethodGet, "/tiles/:layer.json", Operation{
		Summary: "TileJSON of a tile layer", Tags: tags, Auth: AuthBearerOrBasic,
		Description: "TileJSON 3.0.0 for MapLibre: the tile URL template, zooms, bounds (of the features in the caller's scope) and the layer's fields.",
		Params:      []Param{layer}, Response: tileJSON{}, Problems: []int{fiber.StatusNotFound},
		Keep: tileTables,
	}, s.tileJSON)
	s.route(fiber.MethodGet, "/tiles/:layer/:z/:x/:y.mvt", Operation{
		Summary: "Vector tile", Tags: tags, Auth: AuthBearerOrBasic,
		Description: "Mapbox Vector Tile (extent 4096) of one layer, in the caller's scope. Below zoom 12 enterprises and " +
			fmt.Sprintf("hazards are points per H3 parent cell with a count (and so is any tile above that would hold more than %d features or exceed %d KB raw). ", layers.MaxTileFeatures, layers.MaxTileBytes>>10) +
			"An empty tile is a 200 with an empty body. ETag and " +
			"If-None-Match (304); Cache-Control: " + tileCacheControl + ".",
		Params:   []Param{layer, PathParam("z", "zoom, 0 to 22"), PathParam("x", "column, 0 to 2^z-1"), PathParam("y", "row from the top, 0 to 2^z-1")},
		Response: Schema{"type": "string", "format": "binary"}, Produces: []string{mimeMVT},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
		Keep:     tileTables,
	}, s.tile)
}

// tileTables are the tables a tile of the requested layer is read from (Operation.Keep).
func tileTables(c *fiber.Ctx) []string {
	l, err := layers.TileLayerByID(c.Params("layer"))
	if err != nil {
		return nil // the handler answers 404
	}
	return l.Tables()
}

func (s *Server) tileJSON(c *fiber.Ctx) error {
	l, err := layers.TileLayerByID(c.Params("layer"))
	if err != nil {
		return err
	}
	b, err := s.layers.LayerBounds(c.UserContext(), l, principal(c))
	if err != nil {
		return err
	}
	return c.JSON(tileJSON{
		TileJSON: "3.0.0", Name: l.Title, Description: l.Description, Version: "1.0.0", Scheme: "xyz",
		Tiles:   []string{s.linkBase(c) + "/tiles/" + l.ID + "/{z}/{x}/{y}.mvt"},
		MinZoom: l.MinZoom, MaxZoom: layers.DataMaxZoom, Bounds: b,
		Center:       [3]float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, float64(max(l.MinZoom, 10))},
		VectorLayers: []vectorLayer{{ID: l.ID, Description: l.Description, MinZoom: l.MinZoom, MaxZoom: layers.DataMaxZoom, Fields: l.Fields}},
	})
}

func (s *Server) tile(c *fiber.Ctx) error {
	l, err := layers.TileLayerByID(c.Params("layer"))
	if err != nil {
		return err
	}
	z, x, y, err := tileCoords(c)
	if err != nil {
		return err
	}
	tile, err := s.layers.Tile(c.UserContext(), l, principal(c), z, x, y)
	if err != nil {
		return err
	}
	return sendTile(c, tile)
}

// tileCoords reads and checks the z, x and y path parameters of a tile route.
func tileCoords(c *fiber.Ctx) (z, x, y int, err error) {
	var zxy [3]int
	for i, name := range []string{"z", "x", "y"} {
		n, err := strconv.Atoi(c.Params(name))
		if err != nil {
			return 0, 0, 0, badRequest("%s must be an integer", name)
		}
		zxy[i] = n
	}
	z, x, y = zxy[0], zxy[1], zxy[2]
	if !geo.ValidTile(z, x, y) {
		return 0, 0, 0, badRequest("no tile %d/%d/%d: zoom 0 to %d, x and y 0 to 2^zoom-1", z, x, y, geo.MaxZoom)
	}
	return z, x, y, nil
}

// sendTile answers with an MVT, its ETag (a hash of its bytes) and Cache-Control, or 304
// when If-None-Match names that ETag.
func sendTile(c *fiber.Ctx, tile []byte) error {
	sum := sha256.Sum256(tile)
	if tileNotModified(c, `"`+hex.EncodeToString(sum[:16])+`"`) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, mimeMVT)
	return c.Send(tile)
}

// tileNotModified sets a tile's ETag and Cache-Control and reports whether If-None-Match
// names the ETag (then the answer is a 304).
func tileNotModified(c *fiber.Ctx, etag string) bool {
	c.Set(fiber.HeaderCacheControl, tileCacheControl)
	c.Set(fiber.HeaderETag, etag)
	c.Vary(fiber.HeaderAuthorization)
	return etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag)
}

// etagMatches reports whether an If-None-Match header names etag (weak or strong) or is *.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
