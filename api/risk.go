package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// Reading the regional risk map 风险四色图 (grid/risk read.go, export.go, tiles.go;
// docs/RISK.md): the areas of a level ranked by score with their change since the
// previous snapshot (JSON, GeoJSON, XLSX, CSV), one area, one cell, two dates compared,
// and the map as vector tiles with TileJSON. Everything is read from a snapshot; officers
// are refused; an area, cell or zone out of sight is a 404 exactly like a missing one.

// riskReadRoles may read the risk map.
var riskReadRoles = []string{grid.RoleStreet, grid.RoleDistrict, grid.RoleAdmin, grid.RolePlanner}

// riskReadBodyLimit: the read routes take no body.
const riskReadBodyLimit = 4 << 10

// riskPickParams are the parameters that choose a snapshot and the view.
func riskPickParams() []Param {
	date := QueryParam("date", "string", "YYYY-MM-DD, Asia/Shanghai: the latest snapshot taken on or before it; not before the first snapshot nor after today")
	date.Schema = Schema{"type": "string", "format": "date"}
	snap := QueryParam("snapshot", "integer", "a snapshot id (instead of date)")
	snap.Schema = Schema{"type": "integer", "minimum": 1}
	return []Param{date, snap, QueryParam("zone", "string", "a joint-control zone 联动联控区 the caller is a member of: the zone's picture instead of the caller's own area")}
}

func riskLevelParam(doc string) Param {
	p := QueryParam("level", "string", doc)
	p.Schema = Schema{"type": "string", "enum": risk.AreaLevels()}
	return p
}

func riskFilterParams() []Param {
	return []Param{
		QueryParam("district", "string", "only this district (6-digit code); one outside the caller's area is a 400 exactly like one that does not exist"),
		QueryParam("street", "string", "only this street and its communities (9-digit code); likewise"),
	}
}

func (s *Server) riskReadRoutes() {
	tags := []string{"risk"}
	format := QueryParam("format", "string", "json (default), geojson (a FeatureCollection with the areas' polygons), xlsx (the report: sheets 区 and 街镇) or csv (this level's rows)")
	format.Schema = Schema{"type": "string", "enum": []string{"json", "geojson", "xlsx", "csv"}}
	s.route(fiber.MethodGet, "/api/v1/risk/areas", Operation{
		Summary: "The risk map's areas, ranked",
		Description: "The districts, streets or communities (level=, default street) of one snapshot (date= or snapshot=, default " +
			"the latest) ranked by score, highest first (equal scores share a rank), each with its colour (the higher of " +
			"the score's colour and the floor colour of the highest enterprise risk level inside), the previous snapshot's " +
			"score and colour and the change of colour (up, down, same, new), its parts, counts and top contributors. " +
			"Admins and planners see every area, a district bureau its district's, a street office its street and its " +
			"communities (not its district's row); officers are refused. zone= gives a member the zone's picture. A " +
			"malformed date or level, a date before the first snapshot or after today, a district or street that is " +
			"malformed, unknown or outside the caller's area are 400s naming the parameter; an unknown snapshot or zone " +
			"(or no snapshot at all yet) " +
			"is a 404.\n\nformat=xlsx is the report 风险四色图报表: sheets 区 and 街镇 under a title row naming the " +
			"snapshot's date and id and the configuration, rows ranked by score with the colour cell filled in the colour, " +
			"its name, the change, the previous colour and the top three contributors with their share (level= is not " +
			"used). Texts are formula-safe.",
		Tags: tags, Roles: riskReadRoles, BodyLimit: riskReadBodyLimit,
		Params:   append(append([]Param{riskLevelParam("district, street (default) or community")}, riskFilterParams()...), append(riskPickParams(), format)...),
		Response: risk.AreaList{}, Produces: []string{fiber.MIMEApplicationJSON, mimeGeoJSON, mimeXLSX, mimeCSV},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskAreas)
	s.route(fiber.MethodGet, "/api/v1/risk/areas/:code", Operation{
		Summary: "One area's risk breakdown",
		Description: "One district, street or community of a snapshot: the row of GET /api/v1/risk/areas (its rank among the " +
			"areas of its level the caller sees) and its cells by colour. Out of the caller's area (or the zone's " +
			"picture) is a 404 exactly like an area that does not exist.",
		Tags: tags, Roles: riskReadRoles, BodyLimit: riskReadBodyLimit,
		Params:   append([]Param{PathParam("code", "6-, 9- or 12-digit area code")}, riskPickParams()...),
		Response: risk.AreaDetail{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskArea)
	s.route(fiber.MethodGet, "/api/v1/risk/cells/:h3", Operation{
		Summary: "One cell's risk",
		Description: "One resolution-9 H3 cell of a snapshot: score = own + spill, colours, the fire response time when the " +
			"snapshot recorded it, parts and top contributors. A cell that is not an H3 cell of resolution 9 is a 400 on " +
			"h3; one out of the caller's area, or with no row in the snapshot, a 404.",
		Tags: tags, Roles: riskReadRoles, BodyLimit: riskReadBodyLimit,
		Params:   append([]Param{PathParam("h3", "the H3 cell, hexadecimal (or decimal)")}, riskPickParams()...),
		Response: risk.CellDetail{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskCell)
	from := QueryParam("from", "string", "YYYY-MM-DD: the latest snapshot on or before it; required")
	from.Required, from.Schema = true, Schema{"type": "string", "format": "date"}
	to := QueryParam("to", "string", "YYYY-MM-DD, not before from; default today")
	to.Schema = Schema{"type": "string", "format": "date"}
	s.route(fiber.MethodGet, "/api/v1/risk/compare", Operation{
		Summary: "Two dates of the risk map compared",
		Description: "Every area of the level (default street) present in either snapshot, in the caller's area: the colour " +
			"and score on each side, the change (up, down, same, new, removed), the change of each part, and a reason " +
			"in zh-CN naming the parts that changed most and the top contributors that came or went (由黄升为橙：企业风险分 " +
			"+40.0（新增 甲化工 重大 · 重大危险源）). Colour rises first, the largest first. Bad dates, from after to, " +
			"and the filters as for the areas are 400s naming the parameter.",
		Tags: tags, Roles: riskReadRoles, BodyLimit: riskReadBodyLimit,
		Params: append(append([]Param{from, to, riskLevelParam("district, street (default) or community")}, riskFilterParams()...),
			QueryParam("zone", "string", "a zone the caller is a member of")),
		Response: risk.Comparison{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskCompare)
	tilePick := riskPickParams()
	s.route(fiber.MethodGet, "/api/v1/risk/tiles.json", Operation{
		Summary: "TileJSON of the risk map",
		Description: "TileJSON 3.0.0 for MapLibre and QGIS: the tile URL template carrying the snapshot's id (the latest unless " +
			"snapshot= names one), so that every tile of a map comes from the same snapshot, and zone= when given; the " +
			"bounds of Shanghai; the layers risk_areas and risk_cells with their zooms and fields.",
		Tags: tags, Roles: riskReadRoles, Auth: AuthBearerOrBasic, BodyLimit: riskReadBodyLimit,
		Params: tilePick, Response: tileJSON{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskTileJSON)
	s.route(fiber.MethodGet, "/api/v1/risk/tiles/:z/:x/:y.mvt", Operation{
		Summary: "The risk map as a vector tile",
		Description: fmt.Sprintf("Mapbox Vector Tile (extent 4096) of one snapshot (the latest unless snapshot= or date= picks one), "+
			"never recomputed. Layer risk_areas: districts up to zoom %d, streets at %d and %d, communities at %d (code, "+
			"name, level, district_code, score rounded to 0.1, colour, score_colour, floor_colour; the feature id is the "+
			"code). Layer risk_cells from zoom %d: the resolution-9 cells (h3, level, district_code, street_code, "+
			"community_code, score, colours; the id is the cell). Scoped as the areas; zone= gives a member the "+
			"zone's picture. An empty tile is a 200 with an empty body. The ETag names the snapshot, the caller's "+
			"area and the tile, so If-None-Match is a 304 without reading the tile; Cache-Control: %s.",
			risk.StreetsMinZoom-1, risk.StreetsMinZoom, risk.CommunitiesMinZoom-1, risk.CommunitiesMinZoom, risk.CellsMinZoom, tileCacheControl),
		Tags: tags, Roles: riskReadRoles, Auth: AuthBearerOrBasic, BodyLimit: riskReadBodyLimit,
		Params: append([]Param{PathParam("z", "zoom, 0 to 22"), PathParam("x", "column, 0 to 2^z-1"),
			PathParam("y", "row from the top, 0 to 2^z-1")}, tilePick...),
		Response: Schema{"type": "string", "format": "binary"}, Produces: []string{mimeMVT},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.riskTile)
}

// riskPick reads date= and snapshot=.
func riskPick(c *fiber.Ctx) (risk.Pick, error) {
	p := risk.Pick{Date: c.Query("date")}
	if raw := c.Query("snapshot"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return p, paramProblem("snapshot", "must be a snapshot id, a positive integer")
		}
		if p.Date != "" {
			return p, paramProblem("snapshot", "give date or snapshot, not both")
		}
		p.SnapshotID = id
	}
	return p, nil
}

func riskAreaQuery(c *fiber.Ctx) (risk.AreaQuery, error) {
	p, err := riskPick(c)
	return risk.AreaQuery{Level: c.Query("level"), District: c.Query("district"), Street: c.Query("street"), Zone: c.Query("zone"),
		Date: p.Date, SnapshotID: p.SnapshotID}, err
}

func (s *Server) riskAreas(c *fiber.Ctx) error {
	format := c.Query("format", "json")
	if !slices.Contains([]string{"json", "geojson", "xlsx", "csv"}, format) {
		return paramProblem("format", "must be json, geojson, xlsx or csv")
	}
	q, err := riskAreaQuery(c)
	if err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	if format == "xlsx" {
		rep, err := s.risk.Report(ctx, p, q)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := risk.WriteXLSX(&buf, rep); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, mimeXLSX)
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s.xlsx"`, rep.FileName()))
		return c.Send(buf.Bytes())
	}
	list, err := s.risk.Areas(ctx, p, q)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch format {
	case "geojson":
		if err := s.risk.GeoJSON(ctx, &buf, list); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, mimeGeoJSON)
		return c.Send(buf.Bytes())
	case "csv":
		if err := risk.WriteCSV(&buf, list); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, mimeCSV+"; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="risk-%s-%d-%s.csv"`, list.Snapshot.TakenOn, list.Snapshot.ID, list.Level))
		return c.Send(buf.Bytes())
	}
	return c.JSON(list)
}

func (s *Server) riskArea(c *fiber.Ctx) error {
	q, err := riskAreaQuery(c)
	if err != nil {
		return err
	}
	a, err := s.risk.Area(c.UserContext(), principal(c), c.Params("code"), q)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) riskCell(c *fiber.Ctx) error {
	q, err := riskAreaQuery(c)
	if err != nil {
		return err
	}
	cell, err := risk.ParseCell(c.Params("h3"))
	if err != nil {
		return err
	}
	out, err := s.risk.Cell(c.UserContext(), principal(c), cell, q)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) riskCompare(c *fiber.Ctx) error {
	out, err := s.risk.Compare(c.UserContext(), principal(c), risk.CompareQuery{
		From: c.Query("from"), To: c.Query("to"), Level: c.Query("level"),
		District: c.Query("district"), Street: c.Query("street"), Zone: c.Query("zone"),
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) riskTileJSON(c *fiber.Ctx) error {
	pick, err := riskPick(c)
	if err != nil {
		return err
	}
	zone := c.Query("zone")
	src, err := s.risk.TileSource(c.UserContext(), principal(c), pick, zone)
	if err != nil {
		return err
	}
	v := url.Values{}
	v.Set("snapshot", strconv.FormatInt(src.Snapshot.ID, 10))
	if zone != "" {
		v.Set("zone", zone)
	}
	fields := risk.TileFields()
	b := risk.TileBounds()
	return c.JSON(tileJSON{
		TileJSON: "3.0.0", Name: "风险四色图 Risk map", Version: "1.0.0", Scheme: "xyz",
		Description: fmt.Sprintf("the four-colour risk map of snapshot %d, taken %s", src.Snapshot.ID, src.Snapshot.TakenOn),
		Tiles:       []string{s.linkBase(c) + "/api/v1/risk/tiles/{z}/{x}/{y}.mvt?" + v.Encode()},
		MinZoom:     0, MaxZoom: risk.TilesMaxZoom, Bounds: b,
		Center: [3]float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 9},
		VectorLayers: []vectorLayer{
			{ID: risk.LayerAreas, Description: "districts to zoom 9, streets at 10 and 11, communities at 12, coloured red, orange, yellow or blue",
				MinZoom: 0, MaxZoom: risk.AreasMaxZoom, Fields: fields[risk.LayerAreas]},
			{ID: risk.LayerCells, Description: "the resolution-9 cells with their score and colour",
				MinZoom: risk.CellsMinZoom, MaxZoom: risk.TilesMaxZoom, Fields: fields[risk.LayerCells]},
		},
	})
}

func (s *Server) riskTile(c *fiber.Ctx) error {
	z, x, y, err := tileCoords(c)
	if err != nil {
		return err
	}
	pick, err := riskPick(c)
	if err != nil {
		return err
	}
	p := principal(c)
	src, err := s.risk.TileSource(c.UserContext(), p, pick, c.Query("zone"))
	if err != nil {
		return err
	}
	// A snapshot never changes: the tile is known by its snapshot, view and coordinates,
	// and a revalidation is answered before the tile is read.
	sum := sha256.Sum256([]byte(strings.Join([]string{"risk", src.Key, scopeKey(p), fmt.Sprintf("%d/%d/%d", z, x, y)}, "|")))
	if tileNotModified(c, `"`+hex.EncodeToString(sum[:16])+`"`) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	tile, err := s.risk.Tile(c.UserContext(), src, z, x, y)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeMVT)
	return c.Send(tile)
}
