package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// The early warnings 预警 of the risk assessment (docs/RISK.md, "Early warnings"): the
// list, one warning, and acknowledging and closing one. District bureaus see their
// district's, street offices their street's, admins and planners all; a zone member with
// zone= sees the zone's, read-only. Officers are refused (403).

// warningReadRoles read the warnings and zones (every risk route refuses officers).
var warningReadRoles = []string{grid.RoleAdmin, grid.RolePlanner, grid.RoleDistrict, grid.RoleStreet}

// warningHandleRoles acknowledge and close warnings in their own scope.
var warningHandleRoles = []string{grid.RoleAdmin, grid.RoleDistrict, grid.RoleStreet}

// warningBodyLimit holds a note of 2,000 characters (up to 4 bytes each) and the version.
const warningBodyLimit = 16 << 10

type warningPage struct {
	Warnings []risk.Warning `json:"warnings" doc:"newest first"`
	Total    int            `json:"total" doc:"the warnings the filter selects, on all pages"`
}

// acknowledgeRequest acknowledges a new warning.
type acknowledgeRequest struct {
	Note    string `json:"note" required:"true" maxLength:"2000" doc:"what is being done about it (required, at most 2,000 characters)"`
	Version int    `json:"version" required:"true" minimum:"1" maximum:"2147483647" doc:"the warning's version as you last read it; changed since is a 409"`
}

// closeRequest closes a new or acknowledged warning.
type closeRequest struct {
	Note    string `json:"note" maxLength:"2000" doc:"optional, at most 2,000 characters"`
	Version int    `json:"version" required:"true" minimum:"1" maximum:"2147483647" doc:"the warning's version as you last read it; changed since is a 409"`
}

func (s *Server) riskWarningRoutes() {
	tags := []string{"risk"}
	id := PathParam("id", "the warning's id")
	zone := QueryParam("zone", "string", "a joint-control zone you are a member of: its warnings, across your borders (read-only)")
	enum := func(name, doc string, values []string) Param {
		p := QueryParam(name, "string", doc)
		p.Schema["enum"] = values
		return p
	}
	s.route(fiber.MethodGet, "/api/v1/risk/warnings", Operation{
		Summary: "Early warnings 预警",
		Description: "The warnings the rules raised (colour_rise, turned_red, major_hazard_overdue, hazard_burst; docs/RISK.md), " +
			"newest first, paged. A district bureau sees its district's, a street office its street's, admins and planners " +
			"all; with zone= a member of the zone sees the zone's (a zone you are not a member of is a 404). district= and " +
			"street= narrow the list (an unknown code is a 400); so do status= and rule= (a value not in the list is a 400 naming it).",
		Tags: tags, Roles: warningReadRoles, Response: warningPage{},
		Params: []Param{
			enum("status", "new, acknowledged or closed", []string{risk.WarningNew, risk.WarningAcknowledged, risk.WarningClosed}),
			enum("rule", "one rule", risk.WarningRuleNames()),
			QueryParam("district", "string", "a 6-digit district code"), QueryParam("street", "string", "a 9-digit street code"),
			zone, LimitParam, OffsetParam,
		},
		Problems: []int{fiber.StatusBadRequest, fiber.StatusNotFound},
	}, s.listWarnings)
	s.route(fiber.MethodGet, "/api/v1/risk/warnings/:id", Operation{
		Summary: "One early warning",
		Description: "A warning in your scope (or, with zone=, in the zone's picture); one outside it is a 404 exactly like " +
			"one that does not exist.",
		Tags: tags, Roles: warningReadRoles, Response: risk.Warning{}, Params: []Param{id, zone},
		Problems: []int{fiber.StatusNotFound},
	}, s.getWarning)
	handle := func(verb, summary, desc string, body any, h fiber.Handler) {
		s.route(fiber.MethodPost, "/api/v1/risk/warnings/:id/"+verb, Operation{
			Summary: summary,
			Description: desc + " The district bureau or street office whose scope holds the warning, or an admin, may; a " +
				"zone member may not handle another's (a 404, as if it did not exist); planners only read (403). Answers, " +
				"in the order checked: 403 for the role; 422 for the body; 404; 409 when version is not the warning's; " +
				"422 on status when the flow has no such step, on note when it is missing or too long. The change and " +
				"its audit record commit together; the version goes up by one. The answer is the warning.",
			Tags: tags, Roles: warningHandleRoles, Params: []Param{id}, Body: body, Response: risk.Warning{},
			BodyLimit: warningBodyLimit, Problems: []int{fiber.StatusNotFound, fiber.StatusConflict},
		}, h)
	}
	handle("acknowledge", "Acknowledge a warning", "new → acknowledged, with a note (required).", acknowledgeRequest{}, s.acknowledgeWarning)
	handle("close", "Close a warning", "new or acknowledged → closed, with an optional note.", closeRequest{}, s.closeWarning)
}

func (s *Server) listWarnings(c *fiber.Ctx) error {
	district, err := s.areaFilter(c, "district", "district")
	if err != nil {
		return err
	}
	street, err := s.areaFilter(c, "street", "street")
	if err != nil {
		return err
	}
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	f := risk.Filter{Status: strings.TrimSpace(c.Query("status")), Rule: strings.TrimSpace(c.Query("rule")),
		District: district, Street: street, Zone: strings.TrimSpace(c.Query("zone")), Limit: limit, Offset: offset}
	list, total, err := s.risk.Warnings(c.UserContext(), principal(c), f)
	if err != nil {
		return err
	}
	return c.JSON(warningPage{Warnings: list, Total: total})
}

func (s *Server) getWarning(c *fiber.Ctx) error {
	id, err := pathID(c, "warning")
	if err != nil {
		return err
	}
	w, err := s.risk.WarningInZone(c.UserContext(), principal(c), strings.TrimSpace(c.Query("zone")), id)
	if err != nil {
		return err
	}
	return c.JSON(w)
}

func (s *Server) acknowledgeWarning(c *fiber.Ctx) error {
	var req acknowledgeRequest
	return s.warningStep(c, &req, func(id int64) (risk.Warning, error) {
		return s.risk.Acknowledge(c.UserContext(), principal(c), id, req.Note, req.Version)
	})
}

func (s *Server) closeWarning(c *fiber.Ctx) error {
	var req closeRequest
	return s.warningStep(c, &req, func(id int64) (risk.Warning, error) {
		return s.risk.Close(c.UserContext(), principal(c), id, req.Note, req.Version)
	})
}

// warningStep reads the warning's id and the body into req, then answers step's warning.
func (s *Server) warningStep(c *fiber.Ctx, req any, step func(id int64) (risk.Warning, error)) error {
	id, err := pathID(c, "warning")
	if err != nil {
		return err
	}
	if err := decodeJSON(c, req); err != nil {
		return err
	}
	w, err := step(id)
	if err != nil {
		return err
	}
	return c.JSON(w)
}
