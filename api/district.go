package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/supervise"
)

// The district safety bureau's 区安监局 endpoints: a district's hazards across its streets
// (with a street filter) and their export, the summary by street, and escalating a hazard
// (挂牌督办). A district bureau reads its own district only: another district answers
// exactly as one that does not exist. Admins and planners read every district; only the
// bureau and admins escalate.

// districtReadRoles read a district's lists and summary.
var districtReadRoles = []string{grid.RoleDistrict, grid.RoleAdmin, grid.RolePlanner}

// escalateRoles may escalate a hazard (挂牌督办).
var escalateRoles = []string{grid.RoleDistrict, grid.RoleAdmin}

// escalateRequest is a district bureau's 挂牌督办 of a hazard.
type escalateRequest struct {
	Note    string `json:"note" required:"true" maxLength:"2000" doc:"why the hazard is put under supervision; kept in the history"`
	Version int    `json:"version" required:"true" minimum:"1" maximum:"2147483647" doc:"the hazard's version as you last read it; a hazard changed since is a 409"`
}

func (s *Server) districtRoutes() {
	tags := []string{"district"}
	code := PathParam("code", "6-digit district code; a district bureau may ask only for its own")
	s.route(fiber.MethodGet, "/api/v1/districts", Operation{
		Summary: "The districts",
		Description: "The loaded districts (区) by code, with their names: public reference data like the areas tiles, " +
			"for pickers (the admin console's district bureau users).",
		Tags: tags, Response: districtList{},
	}, s.listDistricts)
	s.route(fiber.MethodGet, "/api/v1/districts/:code/hazards", Operation{
		Summary: "Hazards in a district, across its streets",
		Description: "The street list's filters, sorting, paging and exports (format=csv, format=xlsx) over the whole district, " +
			"with street= narrowing it to one of the district's streets (a street of another district is a 400, exactly " +
			"like a street that does not exist). A district bureau sees its own district only; another district is a 404 " +
			fmt.Sprintf("exactly like one that does not exist. An export without a limit holds up to %d rows (X-Total-Count).", s.cfg.MaxLimit),
		Tags: tags, Roles: districtReadRoles,
		Params: append([]Param{code, QueryParam("street", "string", "only this street of the district (9-digit code)")},
			hazardListParams()...),
		Response: hazardPage{}, Produces: []string{fiber.MIMEApplicationJSON, mimeCSV, mimeXLSX},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound}, Keep: keepSupervised,
	}, s.districtHazards)
	s.route(fiber.MethodGet, "/api/v1/districts/:code/summary", Operation{
		Summary: "Hazards and grid coverage per street",
		Description: "Per street of the district: hazards by status and level, overdue, rectification rate ((verified + " +
			"closed) ÷ all), enterprises and how many of them lie in a grid unit that has an officer; and the district's " +
			"total. Scope as for the district's hazards.",
		Tags: tags, Roles: districtReadRoles, Params: []Param{code},
		Response: supervise.DistrictSummary{}, Problems: []int{fiber.StatusNotFound, fiber.StatusUnprocessableEntity},
		Keep: keepSupervised,
	}, s.districtSummary)
	s.route(fiber.MethodPost, "/api/v1/hazards/:id/escalate", Operation{
		Summary: "Escalate a hazard: 挂牌督办",
		Description: "Raises a 一般 hazard to 重大, which puts it under supervision (supervised), keeping its status. The district " +
			"bureau of the hazard's district and admins may; the street office and officers may not (403), and a hazard " +
			"outside a bureau's district is a 404 exactly like one that does not exist. Answers, in the order they are " +
			"checked: 403 for another role; 422 on `note` or `version` when the body lacks them; 404; 409 when `version` " +
			"is not the hazard's; 422 on `level` when the hazard is 重大 already or verified or closed. The change, a history row (details: " +
			"escalated, level_from, level_to), an audit record (hazard_escalate) and a message to the street office " +
			"(kind supervised) commit together, and the version goes up by one. The answer is the hazard as GET " +
			"/api/v1/hazards/{id} then returns it.",
		Tags: []string{"hazards"}, Roles: escalateRoles, Body: escalateRequest{}, Response: supervise.HazardDetail{},
		Params:   []Param{PathParam("id", "the hazard's id")},
		Problems: []int{fiber.StatusNotFound, fiber.StatusConflict},
	}, s.escalateHazard)
}

// districtList is the loaded districts.
type districtList struct {
	Items []supervise.Area `json:"items"`
}

func (s *Server) listDistricts(c *fiber.Ctx) error {
	items, err := s.supervise.Districts(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(districtList{Items: items})
}

// districtInScope checks the district exists; another district than a bureau's own is
// answered exactly as one that does not exist.
func (s *Server) districtInScope(c *fiber.Ctx) (string, error) {
	code := c.Params("code")
	if err := s.supervise.CheckDistrict(c.UserContext(), code); err != nil {
		return "", err
	}
	if p := principal(c); p.Role == grid.RoleDistrict && p.DistrictCode != code {
		return "", &grid.NotFoundError{What: "district", Key: code}
	}
	return code, nil
}

func (s *Server) districtHazards(c *fiber.Ctx) error {
	format := c.Query("format", "json")
	if !slices.Contains([]string{"json", "csv", "xlsx"}, format) {
		return FieldProblem("format", "must be json, csv or xlsx")
	}
	district, err := s.districtInScope(c)
	if err != nil {
		return err
	}
	street, err := s.areaFilter(c, "street", "street")
	if err != nil {
		return err
	}
	if street != "" && !strings.HasPrefix(street, district) {
		// Another district's street reads like one that does not exist (areaFilter's words).
		return filterProblem("street", fmt.Sprintf("no street has the code %s", street))
	}
	f, err := s.hazardFilter(c, street, format)
	if err != nil {
		return err
	}
	f.District = district
	file := district
	if street != "" {
		file = street
	}
	return s.sendHazardList(c, f, format, file)
}

func (s *Server) districtSummary(c *fiber.Ctx) error {
	district, err := s.districtInScope(c)
	if err != nil {
		return err
	}
	out, err := s.supervise.DistrictSummary(c.UserContext(), district)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) escalateHazard(c *fiber.Ctx) error {
	id, err := hazardID(c)
	if err != nil {
		return err
	}
	var req escalateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Version <= 0 {
		return FieldProblem("version", "is required: the version you last read (1 or more)")
	}
	h, err := s.supervise.EscalateHazard(c.UserContext(), principal(c),
		supervise.HazardEscalation{HazardID: id, Note: req.Note, Version: req.Version})
	if err != nil {
		return err
	}
	return sendHazard(c, fiber.StatusOK, h)
}
