package api

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// riskConfigBodyLimit is the largest configuration body PUT /risk/config takes.
const riskConfigBodyLimit = 64 << 10

// riskReaders may read the risk map's configuration and snapshots; officers may not.
var riskReaders = []string{grid.RoleAdmin, grid.RolePlanner, grid.RoleDistrict, grid.RoleStreet}

// riskConfigRequest is PUT /risk/config's body.
type riskConfigRequest struct {
	Config *risk.Config `json:"config" required:"true"`
	Note   string       `json:"note" maxLength:"500"`
}

// riskAdminRoutes are the risk index's configuration, snapshots and runs (docs/RISK.md).
func (s *Server) riskAdminRoutes() {
	s.route(fiber.MethodGet, "/api/v1/risk/config", Operation{
		Summary: "The risk index's configuration in force (风险评估参数)",
		Description: "The latest configuration an admin stored, or the built-in defaults (id 0, created_by \"default\"): " +
			"the weights of each contributor, the fire-response and spill-over terms, the colour thresholds per level " +
			"(cell, community, street, district) and the warning rules. docs/RISK.md gives the formulas. Officers are refused.",
		Tags: []string{"risk"}, Roles: riskReaders, Response: risk.ConfigRecord{},
	}, s.riskConfig)
	s.route(fiber.MethodPut, "/api/v1/risk/config", Operation{
		Summary: "Change the risk index's configuration (admin)",
		Description: "Stores {config, note} as the configuration in force for the next recompute (kept snapshots keep theirs). " +
			"Strict JSON: an unknown field, a missing map key or one not of the fixed lists (enterprise risk levels, hazard " +
			"levels, pipeline pressures, gas-site statuses, underground uses, the four levels' thresholds), a negative, NaN " +
			"or infinite weight, thresholds not red > orange > yellow > 0, spill.k outside 0..3, spill.share outside 0..1, " +
			"fire terms out of range, rule counts below 1 or days outside 1..365, or a note over 500 characters is a 400 " +
			"naming each field (config.enterprise.重大, config.thresholds.street.orange) and changes nothing. Audited " +
			"(risk_config). At most " + byteSize(riskConfigBodyLimit) + ".",
		Tags: []string{"risk"}, Roles: []string{grid.RoleAdmin},
		Body: riskConfigRequest{}, Response: risk.ConfigRecord{}, BodyLimit: riskConfigBodyLimit,
		Problems: []int{fiber.StatusBadRequest},
	}, s.setRiskConfig)
	s.route(fiber.MethodPost, "/api/v1/risk/snapshots", Operation{
		Summary: "Recompute the risk index now (admin)",
		Description: "Computes every cell, community, street and district with the configuration in force and stores the " +
			"result as a new snapshot (trigger manual), answered with a 201 and the snapshot (with its configuration " +
			"copy). One recompute runs at a time: while another runs, a 503 to retry. A failed recompute is a 503 " +
			"naming why; the previous snapshot stays the latest, and the attempt is in GET /risk/runs. No body.",
		Tags: []string{"risk"}, Roles: []string{grid.RoleAdmin}, Status: fiber.StatusCreated, Response: risk.Snapshot{},
	}, s.recomputeRisk)
	s.route(fiber.MethodGet, "/api/v1/risk/snapshots", Operation{
		Summary:     "The risk snapshots, newest first",
		Description: "Each snapshot's date (taken_on, Asia/Shanghai), trigger, who asked, duration, cell count and summary (areas and cells by colour per level), newest first; without the configuration copies (GET /risk/snapshots/{id} has it). Officers are refused.",
		Tags:        []string{"risk"}, Roles: riskReaders, Params: []Param{LimitParam, OffsetParam}, Response: risk.SnapshotList{},
		Problems: []int{fiber.StatusBadRequest},
	}, s.riskSnapshots)
	s.route(fiber.MethodGet, "/api/v1/risk/snapshots/:id", Operation{
		Summary:     "One risk snapshot with its configuration copy",
		Description: "The snapshot and the configuration it was computed with, so an old map stays explainable. A snapshot that does not exist is a 404. Officers are refused.",
		Tags:        []string{"risk"}, Roles: riskReaders, Params: []Param{PathParam("id", "the snapshot's id")}, Response: risk.Snapshot{},
		Problems: []int{fiber.StatusNotFound},
	}, s.riskSnapshot)
	s.route(fiber.MethodGet, "/api/v1/risk/runs", Operation{
		Summary:     "The risk recompute attempts (admin)",
		Description: "Every recompute attempt, newest first: its trigger, who asked, when it started and finished, the snapshot it made or the error it failed with.",
		Tags:        []string{"risk"}, Roles: []string{grid.RoleAdmin}, Params: []Param{LimitParam, OffsetParam}, Response: riskRunList{},
		Problems: []int{fiber.StatusBadRequest},
	}, s.riskRuns)
}

func (s *Server) riskConfig(c *fiber.Ctx) error {
	rec, err := s.risk.CurrentConfig(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

func (s *Server) setRiskConfig(c *fiber.Ctx) error {
	var req riskConfigRequest
	if err := decodeJSON(c, &req); err != nil {
		// The risk routes' contract: a field the client got wrong is a 400.
		var p *problem
		if errors.As(err, &p) && p.Status == fiber.StatusUnprocessableEntity {
			cp := *p
			cp.Status, cp.Title = fiber.StatusBadRequest, "Bad Request"
			return &cp
		}
		return err
	}
	if req.Config == nil {
		return paramProblem("config", "is required")
	}
	rec, err := s.risk.SetConfig(c.UserContext(), principal(c), *req.Config, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

func (s *Server) recomputeRisk(c *fiber.Ctx) error {
	sn, err := s.risk.Recompute(c.UserContext(), risk.Request{Trigger: risk.TriggerManual, By: principal(c).Actor()})
	var re *risk.RecomputeError
	switch {
	case err == nil:
		return c.Status(fiber.StatusCreated).JSON(sn)
	case errors.Is(err, grid.ErrBusy):
		return err
	case errors.As(err, &re):
		p := newProblem(fiber.StatusServiceUnavailable, "", fmt.Sprintf("the recompute failed (run %d): %s; the previous snapshot stays the latest", re.Run, re.Reason()))
		p.retryAfter = 5
		return p
	}
	return err
}

func (s *Server) riskSnapshots(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	list, err := s.risk.Snapshots(c.UserContext(), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(list)
}

func (s *Server) riskSnapshot(c *fiber.Ctx) error {
	id, err := pathID(c, "risk snapshot")
	if err != nil {
		return err
	}
	sn, err := s.risk.SnapshotByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(sn)
}

func (s *Server) riskRuns(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	runs, err := s.risk.Runs(c.UserContext(), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(riskRunList{Runs: runs})
}

// riskRunList is GET /risk/runs: the attempts, newest first, wrapped like the other lists.
type riskRunList struct {
	Runs []risk.Run `json:"runs"`
}
