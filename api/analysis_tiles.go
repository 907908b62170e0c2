package api

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid/coverage"
	"safegrid/grid/layers"
)

// Coverage as vector tiles, for the planners' map: the cells of GET
// /api/v1/analysis/coverage/cells for the same parameters (grid/coverage/coverage_tiles.go). The
// TileJSON's URL template carries the parameters, so a map source made from it asks every
// tile for the same analysis. ETag and Cache-Control as /tiles.

func (s *Server) coverageTileRoutes(an *coverage.Analyst) {
	tags := []string{"analysis"}
	fields := coverage.CoverageTileFields()
	s.route(fiber.MethodGet, "/api/v1/analysis/coverage/tiles.json", Operation{
		Summary: "TileJSON of the coverage tile layer",
		Description: "TileJSON 3.0.0 for MapLibre: the URL template of GET /api/v1/analysis/coverage/tiles/{z}/{x}/{y}.mvt " +
			"with these parameters (normalised), the zooms, the bounds of the land cells and the layers' fields.",
		Tags: tags, Roles: planningRoles, Params: coverageQueryParams, Response: tileJSON{}, Auth: AuthBearerOrBasic,
	}, func(c *fiber.Ctx) error {
		p, district, err := s.coverageQuery(c)
		if err != nil {
			return err
		}
		b, err := an.CoverageBounds(c.UserContext(), p)
		if err != nil {
			return err
		}
		desc := map[string]string{
			"coverage": "land cells with covered, nearest_station, distance_m and minutes; below zoom " +
				strconv.Itoa(coverage.CoverageFullZoom) + " parents with cells, covered_cells, share, area_km2 and covered_km2",
			"coverage_stations": "the counted stations with their service area against the cap",
		}
		var vls []vectorLayer
		for _, id := range []string{"coverage", "coverage_stations"} {
			vls = append(vls, vectorLayer{ID: id, Description: desc[id], MaxZoom: layers.DataMaxZoom, Fields: fields[id]})
		}
		return c.JSON(tileJSON{
			TileJSON: "3.0.0", Name: "消防站覆盖 Fire-station coverage", Description: "fire-station coverage of the land cells", Version: "1.0.0", Scheme: "xyz",
			Tiles:   []string{s.linkBase(c) + "/api/v1/analysis/coverage/tiles/{z}/{x}/{y}.mvt" + coverageQueryString(p, district)},
			MaxZoom: layers.DataMaxZoom, Bounds: b,
			Center:       [3]float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 10},
			VectorLayers: vls,
		})
	})
	s.route(fiber.MethodGet, "/api/v1/analysis/coverage/tiles/:z/:x/:y.mvt", Operation{
		Summary: "Fire-station coverage as a vector tile",
		Description: "Mapbox Vector Tile (extent 4096) of the coverage for the same parameters as GET " +
			"/api/v1/analysis/coverage/cells. Layer coverage: from zoom " + strconv.Itoa(coverage.CoverageFullZoom) + " each land " +
			"cell (cell, resolution, covered, nearest_station, distance_m, minutes, district_code, street_code); below, the " +
			"cells summed by H3 parent at resolution zoom−3 (4 to 9; cells, covered_cells, share, area_km2, covered_km2). " +
			"Layer coverage_stations: each counted station (code, type, status, service_area_km2, cap_km2, over_cap). The " +
			"analysis is computed once per parameter set and reused until a station or an area changes. An empty tile is a " +
			"200 with an empty body. ETag and If-None-Match (304); Cache-Control: " + tileCacheControl + ".",
		Tags: tags, Roles: planningRoles, Auth: AuthBearerOrBasic,
		Params: append([]Param{PathParam("z", "zoom, 0 to 22"), PathParam("x", "column, 0 to 2^z-1"),
			PathParam("y", "row from the top, 0 to 2^z-1")}, coverageQueryParams...),
		Response: Schema{"type": "string", "format": "binary"}, Produces: []string{mimeMVT},
		Problems: []int{fiber.StatusBadRequest},
	}, func(c *fiber.Ctx) error {
		z, x, y, err := tileCoords(c)
		if err != nil {
			return err
		}
		p, district, err := s.coverageQuery(c)
		if err != nil {
			return err
		}
		tile, err := an.CoverageTile(c.UserContext(), p, district, z, x, y)
		if err != nil {
			return err
		}
		return sendTile(c, tile)
	})
}

// coverageQueryString is the parameters as a query string ("" when all are defaults but
// for the filled-in defaults), so that equal analyses have equal tile URLs.
func coverageQueryString(p coverage.CoverageParams, district string) string {
	p = p.WithDefaults()
	v := url.Values{}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	v.Set("minutes", f(p.Minutes))
	v.Set("speed_kmh", f(p.SpeedKmh))
	v.Set("detour", f(p.Detour))
	v.Set("resolution", strconv.Itoa(p.Resolution))
	if p.Planned {
		v.Set("planned", "true")
	}
	for _, a := range p.Add {
		v.Add("add", f(a.Lon)+","+f(a.Lat)+","+a.Type)
	}
	if len(p.Without) > 0 {
		w := ""
		for i, code := range p.Without {
			if i > 0 {
				w += ","
			}
			w += code
		}
		v.Set("without", w)
	}
	if district != "" {
		v.Set("district", district)
	}
	return "?" + v.Encode()
}
