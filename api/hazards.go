package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/supervise"
)

// transitionRequest is one lifecycle step of a hazard.
type transitionRequest struct {
	To      string `json:"to" required:"true" enum:"registered,assigned,rectifying,verified,closed" maxLength:"32" doc:"the status to move to"`
	Note    string `json:"note,omitempty" maxLength:"2000" doc:"why; kept in the history"`
	Version int    `json:"version" required:"true" minimum:"1" maximum:"2147483647" doc:"the hazard's version as you last read it; a hazard changed since is a 409"`
	// The plan, when assigning (to: assigned) only.
	Responsible *string  `json:"responsible,omitempty" maxLength:"100" doc:"assigning: the responsible person (owner); required"`
	Deadline    *string  `json:"deadline,omitempty" format:"date" maxLength:"32" doc:"assigning: the rectification deadline, YYYY-MM-DD, not in the past; required"`
	Measures    *string  `json:"measures,omitempty" maxLength:"2000" doc:"assigning: the rectification measures; required for a 重大 hazard"`
	Funds       *float64 `json:"funds,omitempty" minimum:"0" maximum:"999999999999" doc:"assigning: the funds in yuan; required for a 重大 hazard"`
	// Photo evidence: the step's photos.
	Photos []int64 `json:"photos,omitempty" minimum:"1" doc:"rectifying (整改) and verified (验收) steps: ids of your staged uploads (POST /api/v1/photos) to attach, at most 9"`
}

func (s *Server) hazardRoutes() {
	s.route(fiber.MethodGet, "/api/v1/hazards/:id", Operation{
		Summary: "One hazard with its history",
		Description: "A hazard (隐患) with its lifecycle history, oldest step first, and the statuses it may go to next. " +
			"Scope: admins and planners see every hazard, a district bureau its district's, a street office its street's, an officer those in their cells; " +
			"any other is a 404, exactly as if it did not exist. The answer carries an ETag (the report and each transition " +
			"answer the same ETag for the same state); If-None-Match naming it gives 304.",
		Tags: []string{"hazards"}, Response: supervise.HazardDetail{},
		Params:   []Param{PathParam("id", "the hazard's id")},
		Problems: []int{fiber.StatusNotFound},
	}, s.getHazard)
	s.route(fiber.MethodPost, "/api/v1/hazards/:id/transition", Operation{
		Summary:     "Move a hazard one step through its lifecycle",
		Description: lifecycleDoc(),
		Tags:        []string{"hazards"}, Body: transitionRequest{}, Response: supervise.HazardDetail{},
		Roles:    []string{grid.RoleAdmin, grid.RoleStreet, grid.RoleOfficer},
		Params:   []Param{PathParam("id", "the hazard's id")},
		Problems: []int{fiber.StatusNotFound, fiber.StatusConflict},
	}, s.transitionHazard)
}

// lifecycleDoc is the transition endpoint's description, with the role table written
// from supervise.HazardLifecycle() so the document cannot disagree with the code.
func lifecycleDoc() string {
	var b strings.Builder
	b.WriteString("The lifecycle (安监总局令第16号): reported 上报 → registered 立案 → assigned 派遣 → rectifying 整改 → " +
		"verified 验收 → closed 销号. A rejected verification is the step verified → rectifying (退回整改).\n\n" +
		"| from | to | roles | meaning |\n|---|---|---|---|\n")
	for _, st := range supervise.HazardLifecycle() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", st.From, st.To, strings.Join(st.Roles, ", "), st.Doc)
	}
	b.WriteString("\nPlanners and district bureaus (区安监局) make no steps: the bureau reads and escalates (POST /api/v1/hazards/{id}/escalate). Scope applies on top of the role: a street office acts on its street's " +
		"hazards only, an officer on hazards in their cells only (else 404, as if the hazard did not exist).\n\n" +
		"Assigning needs `responsible` and `deadline` (sent now or already on the hazard); a 重大 hazard is under " +
		"supervision (挂牌督办) and needs the whole plan: `measures`, `funds`, `deadline`, `responsible`. " +
		"A missing field is a 422 naming it. The plan fields are refused on other steps.\n\n" +
		"Answers, in the order they are checked: 404 no such hazard, or outside your scope; 409 the hazard's `version` " +
		"is not the one you sent (someone changed it: reload and decide again); 422 on `to` when the lifecycle has no such " +
		"step from the current status (the detail lists where it can go); 403 when your role may not make this step; " +
		"422 for a missing or bad plan field. Every step adds a history row (who, when, from, to, note, plan) and an " +
		"audit record in the same transaction, and raises the version by one.")
	return b.String()
}

// hazardID reads the :id path parameter of a hazard.
func hazardID(c *fiber.Ctx) (int64, error) { return pathID(c, "hazard") }

func (s *Server) getHazard(c *fiber.Ctx) error {
	id, err := hazardID(c)
	if err != nil {
		return err
	}
	h, err := s.supervise.HazardDetailOf(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	return sendHazard(c, fiber.StatusOK, h)
}

// sendHazard answers with a hazard's detail and its ETag, a hash of the body: the report,
// a transition and a read of the same hazard state answer the same bytes with the same
// ETag. A GET whose If-None-Match names it gets a 304.
func sendHazard(c *fiber.Ctx, status int, h *supervise.HazardDetail) error {
	body, err := json.Marshal(h)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Set(fiber.HeaderETag, etag)
	if (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) && etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(body)
}

func (s *Server) transitionHazard(c *fiber.Ctx) error {
	id, err := hazardID(c)
	if err != nil {
		return err
	}
	var req transitionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var bad []FieldError
	if req.To == "" {
		bad = append(bad, FieldError{Field: "to", Reason: "is required"})
	}
	if req.Version <= 0 {
		bad = append(bad, FieldError{Field: "version", Reason: "is required: the version you last read (1 or more)"})
	}
	tr := supervise.HazardTransition{HazardID: id, To: req.To, Note: strings.TrimSpace(req.Note), Version: req.Version, Photos: req.Photos,
		Plan: supervise.HazardPlan{Responsible: req.Responsible, Measures: req.Measures, Funds: req.Funds}}
	if req.Deadline != nil {
		d, err := time.Parse(time.DateOnly, *req.Deadline)
		if err != nil {
			bad = append(bad, FieldError{Field: "deadline", Reason: "must be a date, YYYY-MM-DD"})
		}
		tr.Plan.Deadline = &d
	}
	if len(bad) > 0 {
		return FieldProblems(bad...)
	}
	h, err := s.supervise.TransitionHazard(c.UserContext(), principal(c), tr)
	if err != nil {
		return err
	}
	return sendHazard(c, fiber.StatusOK, h)
}
