package api

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
)

// dueInspections is a page of enterprises due for inspection.
type dueInspections struct {
	Items []supervise.DueInspection `json:"items"`
	Total int                       `json:"total" doc:"enterprises due in all, over every page"`
	Order string                    `json:"order" enum:"due,walking" doc:"due: by due date; walking: the walking order from lon/lat"`
}

// myInspections is a page of the caller's own inspections (check-in).
type myInspections struct {
	Items []supervise.Inspection `json:"items"`
	Total int                    `json:"total" doc:"the caller's inspections in all (with the checkin filter), over every page"`
}

const mimeGeoJSON = "application/geo+json"

// cellCollectionSchema documents GET /api/v1/me/cells: GeoJSON, so no Go type.
var cellCollectionSchema = featureCollectionSchema("GeoJSON FeatureCollection of hexagon Polygons (WGS84)", "GeoJSON Polygon: the cell's hexagon", map[string]any{
	"cell":                Schema{"type": "string", "description": "H3 cell, resolution 9, hex"},
	"unit_code":           Schema{"type": "string"},
	"unit_name":           Schema{"type": "string"},
	"enterprises":         Schema{"type": "integer"},
	"pipelines":           Schema{"type": "integer", "description": "pipelines crossing the cell"},
	"gas_occupancy_sites": Schema{"type": "integer"},
	"fire_stations":       Schema{"type": "integer"},
	"fishing_ports":       Schema{"type": "integer"},
	"underground_spaces":  Schema{"type": "integer", "description": "underground spaces overlapping the cell"},
	"open_hazards":        Schema{"type": "integer", "description": "hazards not closed"},
	"open_hazards_by_level": Schema{"type": "object", "additionalProperties": Schema{"type": "integer"},
		"description": "open hazards per level (一般, 重大)"},
})

var (
	officerOnly   = []string{grid.RoleOfficer}
	cellReadRoles = []string{grid.RoleOfficer, grid.RoleAdmin, grid.RolePlanner}
)

// officerRoutes are the grid officer's 网格员 endpoints: their cells, one cell, inspections
// due, and the two field writes (inspection, hazard report), all scoped to the cells of
// the grid units assigned to them.
func (s *Server) officerRoutes() {
	tags := []string{"officer"}
	s.route(fiber.MethodGet, "/api/v1/me/cells", Operation{
		Summary: "My cells",
		Description: "The cells of the caller's grid units as hexagons, each with its grid unit, the number of each kind " +
			"of supervised thing in it (points by their cell, lines and areas by every cell they touch) and its open hazards by level.",
		Tags: tags, Roles: officerOnly, Response: cellCollectionSchema, Produces: []string{mimeGeoJSON},
		Keep: keepSupervised,
	}, s.myCells)
	s.route(fiber.MethodGet, "/api/v1/cells/:cell", Operation{
		Summary: "Everything in one cell",
		Description: "Enterprises, fire stations and other points inside the cell, pipelines, underground spaces, occupancy " +
			"sites and ports that touch it, with their attributes and geometry, and its open hazards. An officer sees only " +
			"their own cells (any other is a 404, whether it is another officer's or no one's); admins and planners see any.",
		Tags: tags, Roles: cellReadRoles,
		Params:   []Param{PathParam("cell", "H3 cell id, resolution 9, hex (e.g. 8931aa42d2fffff)")},
		Response: supervise.CellContents{}, Problems: []int{fiber.StatusNotFound, fiber.StatusUnprocessableEntity},
		Keep: keepSupervised,
	}, s.cell)
	s.route(fiber.MethodGet, "/api/v1/me/inspections/due", Operation{
		Summary: "Enterprises due for inspection",
		Description: "Enterprises in the caller's cells whose last inspection is older than their interval (重大/较大 risk " +
			"monthly, others quarterly); never-inspected first, then the longest overdue. " +
			// check-in: walking order
			"With lon and lat (where the officer stands, both or neither, in Shanghai) the whole due set is put in walking " +
			"order instead (nearest first, then nearest neighbour improved by 2-opt), then paged, and each item carries " +
			"leg_m and cumulative_m: straight-line metres, not the street network. A walking order covers at most " +
			strconv.Itoa(supervise.MaxRouteStops) + " due enterprises (more is a 422 on lon).",
		Tags: tags, Roles: officerOnly, Params: []Param{LimitParam, OffsetParam,
			QueryParam("lon", "number", "WGS84 longitude of the walking order's start (with lat)"),
			QueryParam("lat", "number", "WGS84 latitude of the walking order's start (with lon)")},
		Response: dueInspections{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusUnprocessableEntity},
	}, s.inspectionsDue)
	// check-in: the officer's own inspections
	s.route(fiber.MethodGet, "/api/v1/me/inspections", Operation{
		Summary:     "My inspections",
		Description: "The inspections the caller recorded, newest first, with their check-in (docs/FIELDWORK.md).",
		Tags:        tags, Roles: officerOnly, Params: []Param{LimitParam, OffsetParam,
			{Name: "checkin", In: "query", Description: "only inspections with this check-in verdict",
				Schema: Schema{"type": "string", "enum": []string{"located", "far", "inaccurate", "unlocated"}}}},
		Response: myInspections{}, Problems: []int{fiber.StatusBadRequest, fiber.StatusUnprocessableEntity},
	}, s.myInspections)
	s.route(fiber.MethodPost, "/api/v1/inspections", Operation{
		Summary: "Record an inspection",
		Description: "The location must lie in the caller's cells (403 otherwise); an enterprise outside them is a 422 " +
			"on enterprise, exactly as one that does not exist. Audited. " +
			// check-in
			"With position (the phone's browser geolocation and its accuracy) the check-in stores it, its geodesic distance " +
			"to the enterprise and a verdict: far beyond the distance limit (serve --checkin-max-distance, default 200 m), " +
			"else inaccurate beyond the accuracy limit (--checkin-max-accuracy, default 100 m), else located; without " +
			"position the inspection is recorded unlocated. A position outside Shanghai, swapped, half given or with an " +
			"accuracy not above 0 or above 10,000 m is a 422 naming the field (position.lon, position.lat, position.accuracy_m).",
		Tags: tags, Roles: officerOnly, Body: supervise.InspectionInput{}, Response: supervise.Inspection{},
		Status: fiber.StatusCreated,
	}, s.recordInspection)
	s.route(fiber.MethodPost, "/api/v1/hazards", Operation{
		Summary: "Report a hazard",
		Description: "Validated like an imported hazard; the location, and the feature it is tied to (feature_kind, " +
			"feature_code), must lie in the caller's cells: a location outside them is a 403, a feature outside them a 422 " +
			"on feature_code exactly as one that does not exist. The " +
			"hazard is tagged with its district, street and community, starts as reported with its first history entry, and is audited. " +
			"The answer is what GET /api/v1/hazards/{id} returns for the new hazard (version and history included), with the same ETag, " +
			"and Location names that URL.",
		Tags: tags, Roles: officerOnly, Body: supervise.HazardReport{}, Response: supervise.HazardDetail{},
		Status: fiber.StatusCreated,
	}, s.reportHazard)
}

func (s *Server) myCells(c *fiber.Ctx) error {
	cells, err := s.supervise.OfficerCellSummaries(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	fc := geojson.NewFeatureCollection()
	for _, cs := range cells {
		f := geojson.NewFeature(geo.CellPolygon(cs.Cell))
		f.Properties = geojson.Properties{"cell": cs.Cell.String(), "unit_code": cs.UnitCode, "unit_name": cs.UnitName}
		for k, n := range cs.Counts {
			f.Properties[k] = n
		}
		open := 0
		for _, n := range cs.OpenHazards {
			open += n
		}
		f.Properties["open_hazards"] = open
		f.Properties["open_hazards_by_level"] = cs.OpenHazards
		fc.Append(f)
	}
	body, err := json.Marshal(fc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeGeoJSON)
	return c.Send(body)
}

func (s *Server) cell(c *fiber.Ctx) error {
	cell, err := supervise.ParseSupervisionCell("cell", c.Params("cell"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := s.supervise.CellInScope(ctx, principal(c), cell); err != nil {
		return err
	}
	out, err := s.supervise.Cell(ctx, cell)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) inspectionsDue(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	lon, err := queryFloat(c, "lon")
	if err != nil {
		return err
	}
	lat, err := queryFloat(c, "lat")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	start, err := s.supervise.CheckWalkStart(ctx, lon, lat)
	if err != nil {
		return err
	}
	var items []supervise.DueInspection
	var total int
	order := "due"
	if start != nil {
		order = "walking"
		items, total, err = s.supervise.InspectionsDueFrom(ctx, principal(c).UserID, *start, limit, offset)
	} else {
		items, total, err = s.supervise.InspectionsDue(ctx, principal(c).UserID, limit, offset)
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []supervise.DueInspection{}
	}
	return c.JSON(dueInspections{Items: items, Total: total, Order: order})
}

// queryFloat reads an optional finite number from the query string: nil when absent, a
// 400 naming the parameter when it is not a number.
func queryFloat(c *fiber.Ctx, name string) (*float64, error) {
	raw := strings.TrimSpace(c.Query(name))
	if raw == "" {
		return nil, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, filterProblem(name, "must be a number")
	}
	return &v, nil
}

func (s *Server) myInspections(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	limit = min(limit, supervise.InspectionListMax)
	items, total, err := s.supervise.MyInspections(c.UserContext(), principal(c).UserID, strings.TrimSpace(c.Query("checkin")), limit, offset)
	if err != nil {
		return err
	}
	if items == nil {
		items = []supervise.Inspection{}
	}
	return c.JSON(myInspections{Items: items, Total: total})
}

func (s *Server) recordInspection(c *fiber.Ctx) error {
	var in supervise.InspectionInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := s.supervise.RecordInspection(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) reportHazard(c *fiber.Ctx) error {
	var in supervise.HazardReport
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := s.supervise.ReportHazard(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/hazards/" + strconv.FormatInt(out.ID, 10))
	return sendHazard(c, fiber.StatusCreated, out)
}
