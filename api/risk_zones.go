package api

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// The joint-control zones 联动联控区 (docs/RISK.md): the zones a caller is a member of,
// one zone, its major hazard installations, and an admin's definitions.

// zoneBodyLimit holds a zone's GeoJSON polygon (at most risk.MaxZoneGeometry bytes) with
// its name and the JSON around it; a larger polygon is a 400 naming geometry below this.
const zoneBodyLimit = risk.MaxZoneGeometry + 64<<10

type zoneList struct {
	Zones []risk.Zone `json:"zones" doc:"by code"`
}

type zoneMajorHazards struct {
	Zone         risk.Zone          `json:"zone"`
	MajorHazards []risk.MajorHazard `json:"major_hazards" doc:"most overdue 重大 hazards first, then most overdue, then most open"`
}

// zoneRequest defines a zone: its name and either its areas or a polygon.
type zoneRequest struct {
	Name  string   `json:"name" required:"true" doc:"1 to 100 characters"`
	Areas []string `json:"areas,omitempty" doc:"loaded 6-digit district and 9-digit street codes, no duplicates, at most 200; or give geometry"`
	// Geometry is a GeoJSON geometry, checked by the risk package (a 400 naming geometry).
	Geometry json.RawMessage `json:"geometry,omitempty" doc:"a GeoJSON Polygon or MultiPolygon (EPSG:4326) inside Shanghai, valid, at most 1 MiB and 20,000 vertices; its areas are the districts and streets it overlaps"`
}

func (s *Server) riskZoneRoutes() {
	tags := []string{"risk"}
	code := PathParam("code", "the zone's code: lower-case letters, digits, '-' and '_'")
	nf := []int{fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/api/v1/risk/zones", Operation{
		Summary: "Joint-control zones 联动联控区",
		Description: "The zones you are a member of (a district bureau whose district or one of its streets is in the zone; a " +
			"street office whose street or district is); admins and planners see every zone. A member adds zone=<code> to " +
			"the risk reads to see the zone's picture across their borders.",
		Tags: tags, Roles: warningReadRoles, Response: zoneList{},
	}, s.listZones)
	s.route(fiber.MethodGet, "/api/v1/risk/zones/:code", Operation{
		Summary: "One joint-control zone", Description: "A zone you are not a member of is a 404, like one that does not exist.",
		Tags: tags, Roles: warningReadRoles, Params: []Param{code}, Response: risk.Zone{}, Problems: nf,
	}, s.getZone)
	s.route(fiber.MethodGet, "/api/v1/risk/zones/:code/major-hazards", Operation{
		Summary: "A zone's major hazard installations 重大危险源",
		Description: "The enterprises with major_hazard in the zone (across the member's borders), each with its hazards " +
			"(tied to it: feature_kind enterprises) that are open and overdue (deadline before today's Asia/Shanghai date), " +
			"its risk level and colour, its cell's colour in the latest snapshot, and its open major_hazard_overdue warnings.",
		Tags: tags, Roles: warningReadRoles, Params: []Param{code}, Response: zoneMajorHazards{}, Problems: nf,
	}, s.zoneMajorHazards)
	admin := []string{grid.RoleAdmin}
	s.route(fiber.MethodPut, "/api/v1/risk/zones/:code", Operation{
		Summary: "Define a joint-control zone",
		Description: "Creates or replaces the zone: {name, areas} or {name, geometry}. A refused definition is a 400 naming " +
			"each field (code, name, areas, areas[i], geometry) and changes nothing. Audited (risk_zone_put). The answer is the zone.",
		Tags: tags, Roles: admin, Params: []Param{code}, Body: zoneRequest{}, Response: risk.Zone{}, BodyLimit: zoneBodyLimit,
	}, s.putZone)
	s.route(fiber.MethodDelete, "/api/v1/risk/zones/:code", Operation{
		Summary: "Remove a joint-control zone", Description: "With its areas; audited (risk_zone_delete).",
		Tags: tags, Roles: admin, Params: []Param{code}, Problems: nf,
	}, s.deleteZone)
}

func (s *Server) listZones(c *fiber.Ctx) error {
	zones, err := s.risk.Zones(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(zoneList{Zones: zones})
}

func (s *Server) getZone(c *fiber.Ctx) error {
	z, err := s.risk.Zone(c.UserContext(), principal(c), c.Params("code"))
	if err != nil {
		return err
	}
	return c.JSON(z)
}

func (s *Server) zoneMajorHazards(c *fiber.Ctx) error {
	ctx, p, code := c.UserContext(), principal(c), c.Params("code")
	z, err := s.risk.Zone(ctx, p, code)
	if err != nil {
		return err
	}
	list, err := s.risk.ZoneMajorHazards(ctx, p, code)
	if err != nil {
		return err
	}
	return c.JSON(zoneMajorHazards{Zone: z, MajorHazards: list})
}

func (s *Server) putZone(c *fiber.Ctx) error {
	var req zoneRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	z, _, err := s.risk.PutZone(c.UserContext(), principal(c), c.Params("code"),
		risk.ZoneInput{Name: req.Name, Areas: req.Areas, Geometry: req.Geometry})
	if err != nil {
		return err
	}
	return c.JSON(z)
}

func (s *Server) deleteZone(c *fiber.Ctx) error {
	if err := s.risk.DeleteZone(c.UserContext(), principal(c), c.Params("code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
