package api

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/supervise"
)

// unitRequest creates or replaces a grid unit.
// unitRequest replaces a grid unit (PUT); its code is in the path.
type unitRequest struct {
	Code       string   `json:"code,omitempty" maxLength:"64" doc:"absent, or the path's code (a unit's code cannot change)"`
	Name       string   `json:"name" required:"true" maxLength:"100"`
	StreetCode string   `json:"street_code" required:"true" maxLength:"9" doc:"the 9-digit street the unit lies in"`
	Cells      []string `json:"cells" required:"true" maxLength:"16" doc:"resolution-9 H3 cells (hex), each with its centre in the street"`
}

// newUnitRequest creates a grid unit (POST), which needs its code.
type newUnitRequest struct {
	Code       string   `json:"code" required:"true" maxLength:"64" doc:"the new unit's code"`
	Name       string   `json:"name" required:"true" maxLength:"100"`
	StreetCode string   `json:"street_code" required:"true" maxLength:"9" doc:"the 9-digit street the unit lies in"`
	Cells      []string `json:"cells" required:"true" maxLength:"16" doc:"resolution-9 H3 cells (hex), each with its centre in the street"`
}

type assignRequest struct {
	Officer string `json:"officer" required:"true" maxLength:"64" doc:"the username of a user with the role officer"`
}

const unitRules = "Every cell must be an H3 cell of resolution 9 whose centre lies in the unit's street " +
	"(tagged as the importer tags points, SQL area_tag), else 422 naming the cells; a cell already in another " +
	"unit is a 409 naming the cell and its unit. The write and its audit record commit together."

func (s *Server) adminRoutes() {
	admin := []string{grid.RoleAdmin}
	// A district bureau (区安监局) reads its district's units and audit; only admins write.
	readers := []string{grid.RoleAdmin, grid.RoleDistrict}
	unitParam := []Param{PathParam("code", "the grid unit's code")}
	s.route(fiber.MethodGet, "/api/v1/grid/units", Operation{
		Summary: "Grid units", Description: "Grid units (网格) by code, with their officer, cell and enterprise counts. " +
			"A district bureau sees its district's units only (a street of another district is a 400 like an unknown one).",
		Tags: []string{"admin"}, Roles: readers, Response: supervise.UnitPage{},
		Params:   []Param{QueryParam("street", "string", "only this street's units (9-digit code; an unknown street is a 400)"), LimitParam, OffsetParam},
		Problems: []int{fiber.StatusBadRequest},
	}, s.listUnits)
	s.route(fiber.MethodPost, "/api/v1/grid/units", Operation{
		Summary: "Create a grid unit", Description: unitRules,
		Tags: []string{"admin"}, Roles: admin, Body: newUnitRequest{}, Response: supervise.UnitDetail{}, Status: fiber.StatusCreated,
		Problems: []int{fiber.StatusConflict},
	}, s.createUnit)
	s.route(fiber.MethodGet, "/api/v1/grid/units/:code", Operation{
		Summary: "One grid unit with its cells", Description: "A unit of another district than a district bureau's is a 404, like one that does not exist.",
		Tags: []string{"admin"}, Roles: readers, Response: supervise.UnitDetail{},
		Params: unitParam, Problems: []int{fiber.StatusNotFound},
	}, s.getUnit)
	s.route(fiber.MethodPut, "/api/v1/grid/units/:code", Operation{
		Summary: "Replace a grid unit's name, street and cells", Description: "Keeps its officer. " + unitRules,
		Tags: []string{"admin"}, Roles: admin, Body: unitRequest{}, Response: supervise.UnitDetail{},
		Params: unitParam, Problems: []int{fiber.StatusNotFound, fiber.StatusConflict},
	}, s.updateUnit)
	s.route(fiber.MethodDelete, "/api/v1/grid/units/:code", Operation{
		Summary: "Delete a grid unit", Description: "Its cells become unassigned.",
		Tags: []string{"admin"}, Roles: admin, Params: unitParam, Problems: []int{fiber.StatusNotFound},
	}, s.deleteUnit)
	s.route(fiber.MethodPost, "/api/v1/grid/units/:code/officer", Operation{
		Summary: "Assign an officer to a grid unit", Description: "Replaces the unit's previous officer, if any.",
		Tags: []string{"admin"}, Roles: admin, Body: assignRequest{}, Response: supervise.UnitDetail{},
		Params: unitParam, Problems: []int{fiber.StatusNotFound},
	}, s.assignOfficer)
	s.route(fiber.MethodDelete, "/api/v1/grid/units/:code/officer", Operation{
		Summary: "Leave a grid unit without an officer", Tags: []string{"admin"}, Roles: admin,
		Params: unitParam, Problems: []int{fiber.StatusNotFound},
	}, s.unassignOfficer)
	s.route(fiber.MethodGet, "/api/v1/grid/audit", Operation{
		Summary: "Does grid supervision cover everything?",
		Description: "A cell is supervised when it is in a unit that has an officer (an assigned unit). Lists: " +
			"enterprises whose cell is in no assigned unit (most risky first); communities (居委/村) not covered, where a " +
			"community is covered when the centre of some assigned cell lies in it, or the cell holding its representative " +
			"point (ST_PointOnSurface) is assigned (so a community smaller than a cell can be covered); units without an " +
			"officer; and every officer's workload: units, cells, enterprises, and enterprises weighted by risk " +
			"(重大 4, 较大 3, 一般 2, 低 1). limit and offset page each list; each has its total. A district bureau audits its " +
			"own district (a street of another district is a 400 like an unknown one; workloads count its district's units only).",
		Tags: []string{"admin"}, Roles: readers, Response: supervise.GridAudit{},
		Params:   []Param{QueryParam("street", "string", "audit this street only (9-digit code; an unknown street is a 400)"), LimitParam, OffsetParam},
		Problems: []int{fiber.StatusBadRequest},
	}, s.gridAudit)
}

func (s *Server) listUnits(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	district, street, err := s.unitScope(c)
	if err != nil {
		return err
	}
	items, total, err := s.supervise.Units(c.UserContext(), district, street, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(supervise.UnitPage{Items: items, Total: total})
}

// unitScope is the district a caller reads grid units and the grid audit in (a district
// bureau's own, else none) and the street filter, which must lie in it: another
// district's street is refused exactly like a street that does not exist.
func (s *Server) unitScope(c *fiber.Ctx) (district, street string, err error) {
	if p := principal(c); p.Role == grid.RoleDistrict {
		district = p.DistrictCode
	}
	if street, err = s.areaFilter(c, "street", "street"); err != nil {
		return "", "", err
	}
	if street != "" && district != "" && !strings.HasPrefix(street, district) {
		return "", "", filterProblem("street", fmt.Sprintf("no street has the code %s", street))
	}
	return district, street, nil
}

func (s *Server) getUnit(c *fiber.Ctx) error {
	district := ""
	if p := principal(c); p.Role == grid.RoleDistrict {
		district = p.DistrictCode
	}
	u, err := s.supervise.Unit(c.UserContext(), district, c.Params("code"))
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) createUnit(c *fiber.Ctx) error {
	var req newUnitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	spec := supervise.UnitSpec{Code: req.Code, Name: req.Name, StreetCode: req.StreetCode, Cells: req.Cells}
	if err := s.supervise.CreateUnit(c.UserContext(), principal(c).Actor(), spec); err != nil {
		return err
	}
	return s.unitAnswer(c, fiber.StatusCreated, spec.Code)
}

func (s *Server) updateUnit(c *fiber.Ctx) error {
	var req unitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	code := c.Params("code")
	if req.Code != "" && req.Code != code {
		return FieldProblem("code", "differs from the code in the path; a unit's code cannot change")
	}
	spec := supervise.UnitSpec{Code: code, Name: req.Name, StreetCode: req.StreetCode, Cells: req.Cells}
	if err := s.supervise.UpdateUnit(c.UserContext(), principal(c).Actor(), spec); err != nil {
		return err
	}
	return s.unitAnswer(c, fiber.StatusOK, code)
}

func (s *Server) unitAnswer(c *fiber.Ctx, status int, code string) error {
	u, err := s.supervise.Unit(c.UserContext(), "", code)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(u)
}

func (s *Server) deleteUnit(c *fiber.Ctx) error {
	if err := s.supervise.DeleteUnit(c.UserContext(), principal(c).Actor(), c.Params("code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) assignOfficer(c *fiber.Ctx) error {
	var req assignRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Officer == "" {
		return FieldProblem("officer", "is required")
	}
	code := c.Params("code")
	if err := s.supervise.AssignUnit(c.UserContext(), principal(c).Actor(), code, req.Officer); err != nil {
		return err
	}
	return s.unitAnswer(c, fiber.StatusOK, code)
}

func (s *Server) unassignOfficer(c *fiber.Ctx) error {
	if err := s.supervise.UnassignUnit(c.UserContext(), principal(c).Actor(), c.Params("code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) gridAudit(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	district, street, err := s.unitScope(c)
	if err != nil {
		return err
	}
	a, err := s.supervise.GridAuditOf(c.UserContext(), supervise.AuditOptions{Street: street, District: district, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	return c.JSON(a)
}
