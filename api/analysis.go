package api

import (
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/coverage"
)

// The planners' analyses: fire-station coverage and new-station siting (grid/coverage/coverage.go,
// grid/coverage/siting.go hold the definitions). Planners and admins only.

var planningRoles = []string{grid.RolePlanner, grid.RoleAdmin}

// coverageRequest is the body of POST /api/v1/analysis/coverage; zero values take the
// defaults.
type coverageRequest = coverage.CoverageParams

// sitingRequest is the body of POST /api/v1/analysis/siting.
type sitingRequest = coverage.SitingParams

var coverageQueryParams = []Param{
	{Name: "minutes", In: "query", Description: "travel time limit", Schema: Schema{"type": "number", "default": 5}},
	{Name: "speed_kmh", In: "query", Description: "speed in km/h", Schema: Schema{"type": "number", "default": 30}},
	{Name: "detour", In: "query", Description: "road distance ÷ straight-line distance", Schema: Schema{"type": "number", "default": 1.4}},
	{Name: "resolution", In: "query", Description: "H3 resolution of the cells", Schema: Schema{"type": "integer", "minimum": 6, "maximum": 9, "default": 9}},
	{Name: "planned", In: "query", Description: "count planned stations too", Schema: Schema{"type": "boolean", "default": false}},
	{Name: "add", In: "query", Description: "what-if station LON,LAT,TYPE; repeat the parameter for more", Schema: Schema{"type": "array", "items": Schema{"type": "string"}}},
	{Name: "without", In: "query", Description: "station codes to leave out, comma-separated", Schema: Schema{"type": "string"}},
	{Name: "district", In: "query", Description: "only the cells of this district (6 digits; an unknown district is a 400)", Schema: Schema{"type": "string"}},
}

var coverageCellsSchema = featureCollectionSchema("GeoJSON FeatureCollection: one hexagon per land cell (centre in a district)", "GeoJSON Polygon (WGS84)", map[string]any{
	"cell":            Schema{"type": "string", "description": "H3 cell, hex"},
	"covered":         Schema{"type": "boolean", "description": "the centre is within reach of a counted station"},
	"district_code":   Schema{"type": "string"},
	"street_code":     Schema{"type": "string", "description": "empty when the centre is in no street polygon"},
	"nearest_station": Schema{"type": "string", "description": "code of the nearest counted station"},
	"distance_m":      Schema{"type": "number", "description": "straight-line metres (UTM 51N) from the centre to it; -1 when no station counts"},
	"minutes":         Schema{"type": "number", "description": "travel minutes to it under the model (distance_m × detour ÷ speed); -1 when no station counts"},
})

func (s *Server) analysisRoutes() {
	an := coverage.NewAnalyst(s.store)
	tags := []string{"analysis"}
	s.route(fiber.MethodPost, "/api/v1/analysis/coverage", Operation{
		Summary: "Fire-station coverage",
		Description: "Share of enterprises (by count, risk-weighted 4/3/2/1, and 重大+较大), underground spaces, gas-pipe " +
			"occupancy sites and land area within reach of a counted fire station, overall, per district and per street; " +
			"and each station's service area against the cap of GB 51080 / 建标152. Covered: straight-line metres in UTM " +
			"51N × detour ÷ speed ≤ minutes, i.e. ST_DWithin(geom_m, station.geom_m, minutes/60 × speed_kmh × 1000 ÷ detour). " +
			"Area: H3 cells whose centre is in a district, covered when the centre is. A what-if adds stations (add) or " +
			"leaves some out (without).",
		Tags: tags, Roles: planningRoles,
		Body: coverageRequest{}, Response: coverage.CoverageResult{},
	}, func(c *fiber.Ctx) error {
		var req coverageRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		res, err := an.Coverage(c.UserContext(), req)
		if err != nil {
			return err
		}
		return c.JSON(res)
	})
	s.route(fiber.MethodGet, "/api/v1/analysis/coverage/cells", Operation{
		Summary:     "Fire-station coverage as cells",
		Description: "The land cells (H3, centre in a district) with whether each centre is covered, as GeoJSON hexagons; same parameters as POST /api/v1/analysis/coverage, as query parameters.",
		Tags:        tags, Roles: planningRoles, Params: coverageQueryParams,
		Response: coverageCellsSchema, Produces: []string{analysisGeoJSON},
	}, func(c *fiber.Ctx) error {
		p, district, err := s.coverageQuery(c)
		if err != nil {
			return err
		}
		cells, err := an.CoverageCells(c.UserContext(), p, district)
		if err != nil {
			return err
		}
		return sendAnalysisGeoJSON(c, coverage.CellsGeoJSON(cells))
	})
	s.coverageTileRoutes(an)
	s.route(fiber.MethodPost, "/api/v1/analysis/siting", Operation{
		Summary: "New fire-station sites (MCLP / LSCP)",
		Description: "MCLP: the k candidate sites that cover the most risk-weighted enterprise demand on top of the counted " +
			"stations. LSCP (target_share): the fewest sites that bring the covered share to the target. Demand: risk weights " +
			"summed per resolution-9 cell, at the cell's centre. Candidates: cells at candidate_resolution whose centre is in a " +
			"district and not within 200 m of a 危化品 enterprise (GB 51080 §4.1.5), or the caller's points. Greedy, swap " +
			"local search and a multistart within time_limit_s; upper_bound is a Lagrangian bound on the optimum.",
		Tags: tags, Roles: planningRoles,
		Body: sitingRequest{}, Response: coverage.SitingResult{},
	}, func(c *fiber.Ctx) error {
		var req sitingRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		res, err := an.Siting(c.UserContext(), req)
		if err != nil {
			return err
		}
		return c.JSON(res)
	})
}

// coverageQuery reads the coverage parameters from the query string.
func (s *Server) coverageQuery(c *fiber.Ctx) (coverage.CoverageParams, string, error) {
	var p coverage.CoverageParams
	num := func(name string, dst *float64) error {
		raw := c.Query(name)
		if raw == "" {
			return nil
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return FieldProblem(name, "must be a number")
		}
		if v <= 0 { // zero would mean "the default" to Validate: refuse it here
			return FieldProblem(name, "must be more than 0")
		}
		*dst = v
		return nil
	}
	for name, dst := range map[string]*float64{"minutes": &p.Minutes, "speed_kmh": &p.SpeedKmh, "detour": &p.Detour} {
		if err := num(name, dst); err != nil {
			return p, "", err
		}
	}
	var err error
	if p.Resolution, err = queryInt(c, "resolution", 9, 6, 9); err != nil {
		return p, "", err
	}
	if raw := c.Query("planned"); raw != "" {
		if p.Planned, err = strconv.ParseBool(raw); err != nil {
			return p, "", FieldProblem("planned", "must be true or false")
		}
	}
	for _, raw := range c.Context().QueryArgs().PeekMulti("add") {
		parts := strings.Split(string(raw), ",")
		if len(parts) != 3 {
			return p, "", FieldProblem("add", "must be LON,LAT,TYPE")
		}
		lon, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		lat, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if err1 != nil || err2 != nil {
			return p, "", FieldProblem("add", "lon and lat must be numbers")
		}
		p.Add = append(p.Add, coverage.StationAddition{Lon: lon, Lat: lat, Type: strings.TrimSpace(parts[2])})
	}
	if raw := c.Query("without"); raw != "" {
		for _, code := range strings.Split(raw, ",") {
			if code = strings.TrimSpace(code); code != "" {
				p.Without = append(p.Without, code)
			}
		}
	}
	district := c.Query("district")
	if district != "" && !analysisDistrictRe.MatchString(district) {
		return p, "", FieldProblem("district", "must be a 6-digit district code")
	}
	// A well-formed code that names no loaded district is a 400, not an empty analysis.
	if _, err := s.areaFilter(c, "district", "district"); err != nil {
		return p, "", err
	}
	return p, district, nil
}
