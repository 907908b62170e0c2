// Package supervise is the day-to-day work of grid supervision: the hazard lifecycle
// (上报 → 立案 → 派遣 → 整改 → 验收 → 销号), the officer's cells and inspections, the street
// office's lists, summaries and exports, grid units and their audit.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// The statuses of a hazard's lifecycle (安监总局令第16号): reported 上报 → registered 立案 →
// assigned 派遣 → rectifying 整改 → verified 验收 → closed 销号.
const (
	HazardReported   = "reported"
	HazardRegistered = "registered"
	HazardAssigned   = "assigned"
	HazardRectifying = "rectifying"
	HazardVerified   = "verified"
	HazardClosed     = "closed"
)

// A HazardStep is one allowed move of the lifecycle and the roles that may make it.
//
// A failed verification is modelled as its own step, verified → rectifying (验收不合格,
// 退回整改): the verifier first records the result it found, and a rejection sends the
// hazard back to the responsible party with a note. There is no intermediate
// "rectification reported done" status in the schema, so an officer's on-site report
// that the work is done is a note on the history, and verification is the street
// office's act. Anything not in this table (skipping a step, reopening a closed hazard)
// is refused whatever the role.
type HazardStep struct {
	From, To string
	Roles    []string
	Doc      string
}

// hazardLifecycle is the table of allowed steps. Scope applies on top of the role: a street
// office acts only on its street's hazards, an officer only on hazards in their cells.
var hazardLifecycle = []HazardStep{
	{HazardReported, HazardRegistered, []string{grid.RoleAdmin, grid.RoleStreet}, "立案: the street office accepts the report"},
	{HazardRegistered, HazardAssigned, []string{grid.RoleAdmin, grid.RoleStreet}, "派遣: a responsible person and a deadline (and for 重大 the plan: measures, funds)"},
	{HazardAssigned, HazardRectifying, []string{grid.RoleAdmin, grid.RoleStreet, grid.RoleOfficer}, "整改: rectification has started (the officer confirms it on site)"},
	{HazardRectifying, HazardVerified, []string{grid.RoleAdmin, grid.RoleStreet}, "验收: the street office checks the rectification and accepts it"},
	{HazardVerified, HazardRectifying, []string{grid.RoleAdmin, grid.RoleStreet}, "退回整改: a rejected verification returns it to rectifying"},
	{HazardVerified, HazardClosed, []string{grid.RoleAdmin, grid.RoleStreet}, "销号: closed"},
}

// HazardStepFor returns the step from → to, or false when the lifecycle has none.
func HazardStepFor(from, to string) (HazardStep, bool) {
	i := slices.IndexFunc(hazardLifecycle, func(s HazardStep) bool { return s.From == from && s.To == to })
	if i < 0 {
		return HazardStep{}, false
	}
	return hazardLifecycle[i], true
}

// HazardNext lists where a hazard in status from may go.
func HazardNext(from string) []string {
	var out []string
	for _, s := range hazardLifecycle {
		if s.From == from {
			out = append(out, s.To)
		}
	}
	return out
}

// CheckHazardStep is the pure part of a transition: the step must exist (else an InvalidError
// on "to") and the role must be allowed to make it (else ErrForbidden).
func CheckHazardStep(from, to, role string) error {
	if !grid.IsHazardStatus(to) {
		return &grid.InvalidError{Field: "to", Reason: fmt.Sprintf("unknown status %q (one of %s)", to, strings.Join(grid.HazardStatuses(), ", "))}
	}
	st, ok := HazardStepFor(from, to)
	if !ok {
		next := HazardNext(from)
		reason := fmt.Sprintf("a %s hazard cannot go to %s", from, to)
		if len(next) > 0 {
			reason += "; it can go to " + strings.Join(next, " or ")
		} else {
			reason += "; it is closed"
		}
		return &grid.InvalidError{Field: "to", Reason: reason}
	}
	if !slices.Contains(st.Roles, role) {
		return fmt.Errorf("%w: the step %s → %s needs the role %s", grid.ErrForbidden, from, to, strings.Join(st.Roles, " or "))
	}
	return nil
}

// HazardPlan is what an assignment (派遣) sets: who is responsible and by when, and for a
// 重大 hazard under supervision (挂牌督办) the measures and funds as well.
type HazardPlan struct {
	Responsible *string
	Deadline    *time.Time // a date
	Measures    *string
	Funds       *float64
}

// HazardTransition is one step asked for by a caller who last saw the hazard at Version.
type HazardTransition struct {
	HazardID int64
	To       string
	Note     string
	Version  int
	Plan     HazardPlan
	// Photos are the caller's staged uploads to attach to the step: the report,
	// rectification (to rectifying) and verification (to verified) carry photos.
	Photos []int64
}

// HazardHistory is one step of a hazard's history.
type HazardHistory struct {
	From    *string        `json:"from"`
	To      string         `json:"to"`
	Actor   string         `json:"actor"`
	Note    *string        `json:"note"`
	Details map[string]any `json:"details,omitempty"`
	At      grid.Time      `json:"at"`
	Photos  []grid.Photo   `json:"photos" doc:"the photos attached to this step (照片取证)"`
}

// HazardDetail is a 隐患 as the lifecycle sees it.
type HazardDetail struct {
	ID            int64      `json:"id"`
	Code          string     `json:"code"`
	DistrictCode  string     `json:"district_code"`
	StreetCode    *string    `json:"street_code"`
	CommunityCode *string    `json:"community_code"`
	Level         string     `json:"level"`
	Category      string     `json:"category"`
	Description   string     `json:"description"`
	Status        string     `json:"status"`
	Supervised    bool       `json:"supervised" doc:"挂牌督办: every 重大 hazard"`
	FeatureKind   *string    `json:"feature_kind"`
	FeatureCode   *string    `json:"feature_code"`
	Reporter      *string    `json:"reporter"`
	Responsible   *string    `json:"responsible"`
	Deadline      *string    `json:"deadline" doc:"YYYY-MM-DD"`
	Measures      *string    `json:"measures"`
	Funds         *float64   `json:"funds"`
	Overdue       bool       `json:"overdue" doc:"past the deadline and not yet verified"`
	ReportedAt    grid.Time  `json:"reported_at"`
	ClosedAt      *grid.Time `json:"closed_at"`
	Version       int        `json:"version" doc:"send it back with a transition (optimistic concurrency)"`
	Cell          string     `json:"cell" doc:"resolution-9 H3 cell"`
	Lon           float64    `json:"lon"`
	Lat           float64    `json:"lat"`
	UpdatedAt     grid.Time  `json:"updated_at"`
	Next          []string   `json:"next" doc:"the statuses the lifecycle allows from here (roles permitting)"`
	// History is filled by HazardDetailOf, ReportHazard and TransitionHazard.
	History []HazardHistory `json:"history" doc:"every step, oldest first"`
}

const lifecycleSelect = `SELECT h.id, h.code, h.district_code, h.street_code, h.community_code, h.level, h.category,
       h.description, h.status, h.supervised, h.feature_kind, h.feature_code, h.reporter, h.responsible,
       to_char(h.deadline, 'YYYY-MM-DD'), h.measures, h.funds::float8,
       ` + hazardOverdueSQL + `,
       h.reported_at, h.closed_at, h.version, h3_hex(h.h3), ST_X(h.geom), ST_Y(h.geom), h.updated_at, h.h3
  FROM hazards h WHERE h.id = $1`

// lifecycleRow is a hazard and its cell as a bigint, for the scope check.
type lifecycleRow struct {
	HazardDetail
	h3 int64
}

func scanLifecycle(row pgx.Row) (*lifecycleRow, error) {
	var h lifecycleRow
	err := row.Scan(&h.ID, &h.Code, &h.DistrictCode, &h.StreetCode, &h.CommunityCode, &h.Level, &h.Category,
		&h.Description, &h.Status, &h.Supervised, &h.FeatureKind, &h.FeatureCode, &h.Reporter, &h.Responsible,
		&h.Deadline, &h.Measures, &h.Funds, &h.Overdue, &h.ReportedAt, &h.ClosedAt, &h.Version, &h.Cell,
		&h.Lon, &h.Lat, &h.UpdatedAt, &h.h3)
	if err != nil {
		return nil, err
	}
	h.Next = HazardNext(h.Status)
	if h.Next == nil {
		h.Next = []string{}
	}
	return &h, nil
}

// loadLifecycle reads one hazard by id (ids come from one identity sequence, so id alone
// names it) and checks the caller's scope: outside it the hazard is not found, as if it
// did not exist.
func (s *Service) loadLifecycle(ctx context.Context, q pgx.Tx, p *grid.Principal, id int64) (*lifecycleRow, error) {
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, lifecycleSelect, id)
	} else {
		row = s.db.QueryRow(ctx, lifecycleSelect, id)
	}
	h, err := scanLifecycle(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hazardNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if err := s.lifecycleInScope(ctx, p, h); err != nil {
		return nil, err
	}
	return h, nil
}

// lifecycleInScope checks grid.Scope's rule on one hazard already read: admins and
// planners see it, a district bureau when it lies in its district, a street office in its
// street, an officer in their cells; anyone else is answered as if it did not exist.
func (s *Service) lifecycleInScope(ctx context.Context, p *grid.Principal, h *lifecycleRow) error {
	switch p.Role {
	case grid.RoleAdmin, grid.RolePlanner:
		return nil
	case grid.RoleDistrict:
		if p.DistrictCode != "" && h.DistrictCode == p.DistrictCode {
			return nil
		}
		return hazardNotFound(h.ID)
	case grid.RoleStreet:
		if h.StreetCode != nil && *h.StreetCode == p.StreetCode {
			return nil
		}
		return hazardNotFound(h.ID)
	case grid.RoleOfficer:
		ok, err := s.st.OfficerHasCell(ctx, p.UserID, h.h3)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		return hazardNotFound(h.ID)
	}
	return hazardNotFound(h.ID)
}

// checkNewDeadline refuses a deadline (a calendar date, read as a Shanghai date like
// every date) before today in Shanghai: a hazard reported, or a plan set, today may be
// due today but not yesterday, whatever the server's or the database's time zone.
func checkNewDeadline(d time.Time) *grid.InvalidError {
	today := time.Now().In(grid.ShanghaiZone()).Format(time.DateOnly)
	if d.Format(time.DateOnly) < today {
		return &grid.InvalidError{Field: "deadline", Reason: fmt.Sprintf("%s is before today (%s, Asia/Shanghai)", d.Format(time.DateOnly), today)}
	}
	return nil
}

// hazardNotFound is the answer for a hazard that does not exist and for one outside the
// caller's scope alike, so the answer does not tell them apart.
func hazardNotFound(id int64) error {
	return &grid.NotFoundError{What: "hazard", Key: strconv.FormatInt(id, 10)}
}

// HazardDetailOf returns a hazard in the caller's scope with its history, oldest first.
func (s *Service) HazardDetailOf(ctx context.Context, p *grid.Principal, id int64) (*HazardDetail, error) {
	return s.hazardDetail(ctx, nil, p, id)
}

// hazardDetailHistorySQL reads a hazard's history ($1 district, $2 id), oldest first.
const hazardDetailHistorySQL = `SELECT id, from_status, to_status, actor, note, details, at
  FROM hazard_history WHERE district_code = $1 AND hazard_id = $2 ORDER BY at, id`

// hazardDetail is HazardDetailOf read in tx (nil: the pool), so a writer can answer with
// exactly what a read of the hazard returns.
func (s *Service) hazardDetail(ctx context.Context, tx pgx.Tx, p *grid.Principal, id int64) (*HazardDetail, error) {
	h, err := s.loadLifecycle(ctx, tx, p, id)
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if tx != nil {
		rows, err = tx.Query(ctx, hazardDetailHistorySQL, h.DistrictCode, h.ID)
	} else {
		rows, err = s.db.Query(ctx, hazardDetailHistorySQL, h.DistrictCode, h.ID)
	}
	if err != nil {
		return nil, err
	}
	var steps []int64
	h.History, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (HazardHistory, error) {
		var e HazardHistory
		var step int64
		err := r.Scan(&step, &e.From, &e.To, &e.Actor, &e.Note, &e.Details, &e.At)
		steps = append(steps, step)
		return e, err
	})
	if err != nil {
		return nil, err
	}
	if h.History == nil {
		h.History = []HazardHistory{}
	}
	photos, err := s.st.HazardPhotos(ctx, tx, h.DistrictCode, h.ID)
	if err != nil {
		return nil, err
	}
	for i := range h.History {
		h.History[i].Photos = photosOfStep(photos, steps[i])
	}
	return &h.HazardDetail, nil
}

// TransitionHazard makes one lifecycle step for the caller, with optimistic concurrency: the
// caller names the version they saw, and a hazard changed since is ErrConflict. The
// checks run in this order, so each answer is the most useful one: not found, out of
// scope (ErrForbidden), stale version (ErrConflict), no such step (InvalidError on "to"),
// role not allowed (ErrForbidden), assignment without its plan (InvalidFieldsError). The
// update, its history row and the audit record commit together; the answer is the
// hazard as HazardDetailOf then reads it.
func (s *Service) TransitionHazard(ctx context.Context, p *grid.Principal, req HazardTransition) (*HazardDetail, error) {
	if err := grid.CheckPhotoIDs(req.Photos); err != nil {
		return nil, err
	}
	var out *HazardDetail
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		h, err := s.loadLifecycle(ctx, tx, p, req.HazardID)
		if err != nil {
			return err
		}
		if h.Version != req.Version {
			return staleHazard(h.ID, req.Version, h.Version)
		}
		if err := CheckHazardStep(h.Status, req.To, p.Role); err != nil {
			return err
		}
		if len(req.Photos) > 0 && !grid.IsPhotoStep(req.To) {
			return &grid.InvalidError{Field: "photos", Reason: fmt.Sprintf("the step to %s carries no photos: the report, rectification (rectifying) and verification (verified) do", req.To)}
		}
		plan, details, err := mergePlan(h, req)
		if err != nil {
			return err
		}
		details["version"] = req.Version + 1
		var version int
		err = tx.QueryRow(ctx, `UPDATE hazards SET status = $3, version = version + 1, updated_at = now(),
       responsible = $5, deadline = $6, measures = $7, funds = $8,
       closed_at = CASE WHEN $3 = 'closed' THEN now() END
 WHERE district_code = $1 AND id = $2 AND version = $4
 RETURNING version`, h.DistrictCode, h.ID, req.To, req.Version,
			plan.Responsible, plan.Deadline, plan.Measures, plan.Funds).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			// Changed (or deleted) between our read and the update.
			var now int
			if err := tx.QueryRow(ctx, `SELECT version FROM hazards WHERE district_code = $1 AND id = $2`, h.DistrictCode, h.ID).Scan(&now); errors.Is(err, pgx.ErrNoRows) {
				return &grid.NotFoundError{What: "hazard", Key: strconv.FormatInt(h.ID, 10)}
			}
			return staleHazard(h.ID, req.Version, now)
		}
		if err != nil {
			return err
		}
		var note *string
		if req.Note != "" {
			note = &req.Note
		}
		var historyID int64
		if err := tx.QueryRow(ctx, `INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, details)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, h.DistrictCode, h.ID, h.Status, req.To, p.Actor(), note, details).Scan(&historyID); err != nil {
			return err
		}
		if err := s.st.AttachPhotos(ctx, tx, p, req.Photos, grid.PhotoTarget{District: h.DistrictCode, HazardID: h.ID,
			HistoryID: historyID, Step: req.To}); err != nil {
			return err
		}
		audit := map[string]any{"from": h.Status, "to": req.To, "note": note, "details": details}
		if len(req.Photos) > 0 {
			audit["photos"] = req.Photos
		}
		entry := grid.AuditEntry{Actor: p.Actor(), Action: "hazard_" + req.To, Kind: grid.AuditHazard, Object: h.Code, Details: audit}
		if h.StreetCode != nil {
			entry.Street = *h.StreetCode
		}
		if err := s.st.Record(ctx, tx, entry); err != nil {
			return err
		}
		// The answer is what a read of the hazard now returns, history included.
		out, err = s.hazardDetail(ctx, tx, p, h.ID)
		return err
	})
	return out, err
}

func staleHazard(id int64, sent, now int) error {
	return fmt.Errorf("%w: hazard %d was changed by someone else (you sent version %d, it is now at %d); reload it and try again",
		grid.ErrConflict, id, sent, now)
}

// mergePlan checks the plan fields of a request against the step and returns the values
// to store (the hazard's own where the request leaves them out) and the history details.
func mergePlan(h *lifecycleRow, req HazardTransition) (HazardPlan, map[string]any, error) {
	pl := HazardPlan{Responsible: h.Responsible, Measures: h.Measures, Funds: h.Funds}
	if h.Deadline != nil {
		d, err := time.Parse(time.DateOnly, *h.Deadline)
		if err == nil {
			pl.Deadline = &d
		}
	}
	details := map[string]any{}
	if req.To != HazardAssigned {
		for _, f := range []struct {
			name  string
			given bool
		}{{"responsible", req.Plan.Responsible != nil}, {"deadline", req.Plan.Deadline != nil},
			{"measures", req.Plan.Measures != nil}, {"funds", req.Plan.Funds != nil}} {
			if f.given {
				return pl, nil, &grid.InvalidError{Field: f.name, Reason: "is set when assigning (to: assigned) only"}
			}
		}
		return pl, details, nil
	}
	var bad []grid.InvalidError
	if r := req.Plan.Responsible; r != nil {
		t := strings.TrimSpace(*r)
		pl.Responsible = &t
	}
	if m := req.Plan.Measures; m != nil {
		t := strings.TrimSpace(*m)
		pl.Measures = &t
	}
	if req.Plan.Deadline != nil {
		pl.Deadline = req.Plan.Deadline
		if err := checkNewDeadline(*req.Plan.Deadline); err != nil {
			bad = append(bad, *err)
		}
	}
	if f := req.Plan.Funds; f != nil {
		pl.Funds = f
		if *f < 0 || *f >= 1e12 {
			bad = append(bad, grid.InvalidError{Field: "funds", Reason: "must be from 0 to 999999999999.99 yuan"})
		}
	}
	missing := func(field string, v bool) {
		if !v {
			reason := "is required to assign a hazard"
			if h.Supervised {
				reason = "is required to assign a 重大 hazard (挂牌督办: a plan with measures, funds, deadline and responsible person)"
			}
			bad = append(bad, grid.InvalidError{Field: field, Reason: reason})
		}
	}
	missing("responsible", pl.Responsible != nil && *pl.Responsible != "")
	missing("deadline", pl.Deadline != nil)
	if h.Supervised {
		missing("measures", pl.Measures != nil && *pl.Measures != "")
		missing("funds", pl.Funds != nil)
	}
	if len(bad) > 0 {
		return pl, nil, &grid.InvalidFieldsError{Errors: bad}
	}
	details["responsible"] = *pl.Responsible
	details["deadline"] = pl.Deadline.Format(time.DateOnly)
	if pl.Measures != nil {
		details["measures"] = *pl.Measures
	}
	if pl.Funds != nil {
		details["funds"] = *pl.Funds
	}
	return pl, details, nil
}

// Service runs this package's queries on a store. It holds no state of its own beyond
// the store, so one per store is enough and it is safe for concurrent use.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
	// Checkin are the limits of an inspection's check-in verdict (checkin.go); set them
	// before the service is used. Invalid limits count as the defaults.
	Checkin CheckinLimits
}

// New returns the service over st.
func New(st *grid.Store) *Service {
	return &Service{st: st, db: st.DB(pg.Key{}), Checkin: DefaultCheckinLimits()}
}

// HazardLifecycle is the table of allowed steps. Scope applies on top of the role: a street
// office acts only on its street's hazards, an officer only on hazards in their cells.
// Callers get a copy: the table itself is fixed.
func HazardLifecycle() []HazardStep { return slices.Clone(hazardLifecycle) }

// photosOfStep are the photos of one history row, in their order (never nil).
func photosOfStep(all []grid.Photo, historyID int64) []grid.Photo {
	out := []grid.Photo{}
	for _, ph := range all {
		if ph.HistoryID == historyID {
			out = append(out, ph)
		}
	}
	return out
}
