package supervise

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// The district safety bureau's 区安监局 reads: a district's hazards across its streets
// (StreetHazards with StreetHazardFilter.District) and its summary by street. The bureau
// reads and escalates (EscalateHazard); the lifecycle's steps stay the street office's.

// StreetLine is one street's hazards and grid coverage in a district's summary: the same
// figures as a community's in a street's summary.
type StreetLine struct {
	Code     string         `json:"code" doc:"9-digit street code; empty for hazards and enterprises tagged with no street"`
	Name     string         `json:"name"`
	Hazards  int            `json:"hazards"`
	ByStatus map[string]int `json:"by_status" doc:"hazards per status; every status is listed"`
	ByLevel  map[string]int `json:"by_level" doc:"hazards per level; every level is listed"`
	Overdue  int            `json:"overdue"`
	// RectificationRate is (verified + closed) ÷ all hazards; nil without hazards.
	RectificationRate *float64 `json:"rectification_rate" doc:"(verified + closed) ÷ all hazards; null without hazards"`
	Enterprises       int      `json:"enterprises"`
	Assigned          int      `json:"enterprises_assigned" doc:"enterprises whose cell is in a grid unit that has an officer"`
}

// DistrictSummary is a district's summary per street, plus the district's total.
type DistrictSummary struct {
	District string       `json:"district"`
	Name     string       `json:"name"`
	Streets  []StreetLine `json:"streets"`
	Total    StreetLine   `json:"total" doc:"the district's total; its code is the district's"`
}

const (
	districtStreetsSQL = `SELECT code, name FROM areas WHERE parent_code = $1 AND level = 'street' ORDER BY code`
	districtHazardsSQL = `SELECT coalesce(h.street_code, ''), h.status, h.level, count(*)::int, (count(*) FILTER (WHERE ` + hazardOverdueSQL + `))::int
FROM hazards h WHERE h.district_code = $1 GROUP BY 1, 2, 3`
	districtEnterprisesSQL = `SELECT coalesce(e.street_code, ''), count(*)::int,
	(count(*) FILTER (WHERE EXISTS (SELECT 1 FROM grid_cells gc JOIN grid_units u ON u.code = gc.unit_code
		WHERE gc.h3 = e.h3 AND u.officer_id IS NOT NULL)))::int
FROM enterprises e WHERE e.district_code = $1 GROUP BY 1`
)

var districtCodeRe = regexp.MustCompile(`^[0-9]{6}$`)

// CheckDistrict validates a district code and reports whether the district exists.
func (s *Service) CheckDistrict(ctx context.Context, code string) error {
	if !districtCodeRe.MatchString(code) {
		return &grid.InvalidError{Field: "code", Reason: "a district code is 6 digits"}
	}
	ok, err := s.AreaExists(ctx, "district", code)
	if err != nil {
		return err
	}
	if !ok {
		return &grid.NotFoundError{What: "district", Key: code}
	}
	return nil
}

// DistrictSummary summarises a district's hazards and grid coverage per street.
func (s *Service) DistrictSummary(ctx context.Context, district string) (*DistrictSummary, error) {
	name, parts, total, err := s.summarise(ctx, "district", district, districtStreetsSQL, districtHazardsSQL, districtEnterprisesSQL, "未标注街道")
	if err != nil {
		return nil, err
	}
	out := &DistrictSummary{District: district, Name: name, Streets: make([]StreetLine, len(parts)), Total: StreetLine(total)}
	for i, p := range parts {
		out.Streets[i] = StreetLine(p)
	}
	return out, nil
}

// HazardEscalation is a district bureau's 挂牌督办 of a hazard: a 一般 hazard raised to 重大,
// which puts it under supervision (hazards.supervised), by a caller who last saw it at
// Version, with the reason in Note.
type HazardEscalation struct {
	HazardID int64
	Note     string
	Version  int
}

// maxEscalationNote bounds the note, like a transition's.
const maxEscalationNote = 2000

// EscalateHazard raises a 一般 hazard of the caller's scope to 重大 (挂牌督办): only a
// district bureau (its district's hazards) and an admin may. The checks run in the
// order of a transition's: not found or out of scope (NotFoundError), stale version
// (ErrConflict), a role that may not (ErrForbidden), a hazard already 重大 or no longer
// open (verified, closed: InvalidError on level), no note (InvalidError on note). The
// status stays; the update, a history row (from and to the same status, details
// escalated with the levels), an audit record (hazard_escalate) and a message to the
// hazard's street office commit together. The answer is the hazard as HazardDetailOf
// then reads it. A 重大 hazard's plan needs measures and funds: one assigned before its
// escalation keeps the plan it has, and the street office completes it.
func (s *Service) EscalateHazard(ctx context.Context, p *grid.Principal, req HazardEscalation) (*HazardDetail, error) {
	note := strings.TrimSpace(req.Note)
	var out *HazardDetail
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		h, err := s.loadLifecycle(ctx, tx, p, req.HazardID)
		if err != nil {
			return err
		}
		if h.Version != req.Version {
			return staleHazard(h.ID, req.Version, h.Version)
		}
		if p.Role != grid.RoleDistrict && p.Role != grid.RoleAdmin {
			return fmt.Errorf("%w: escalating a hazard (挂牌督办) needs the role district or admin", grid.ErrForbidden)
		}
		switch {
		case h.Level == "重大":
			return &grid.InvalidError{Field: "level", Reason: "the hazard is 重大 already, so it is under supervision (挂牌督办)"}
		case h.Status == HazardVerified || h.Status == HazardClosed:
			return &grid.InvalidError{Field: "level", Reason: fmt.Sprintf("a %s hazard is no longer open and cannot be escalated", h.Status)}
		case note == "":
			return &grid.InvalidError{Field: "note", Reason: "is required: why the hazard is put under supervision"}
		case utf8.RuneCountInString(note) > maxEscalationNote:
			return &grid.InvalidError{Field: "note", Reason: fmt.Sprintf("must have at most %d characters", maxEscalationNote)}
		}
		tag, err := tx.Exec(ctx, `UPDATE hazards SET level = '重大', version = version + 1, updated_at = now()
 WHERE district_code = $1 AND id = $2 AND version = $3`, h.DistrictCode, h.ID, req.Version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return staleHazard(h.ID, req.Version, h.Version+1)
		}
		details := map[string]any{"escalated": true, "level_from": h.Level, "level_to": "重大", "version": req.Version + 1}
		if _, err := tx.Exec(ctx, `INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, details)
VALUES ($1, $2, $3, $3, $4, $5, $6)`, h.DistrictCode, h.ID, h.Status, p.Actor(), note, details); err != nil {
			return err
		}
		entry := grid.AuditEntry{Actor: p.Actor(), Action: "hazard_escalate", Kind: grid.AuditHazard, Object: h.Code,
			Details: map[string]any{"note": note, "details": details, "status": h.Status}}
		if h.StreetCode != nil {
			entry.Street = *h.StreetCode
			if _, err := s.st.Notify(ctx, tx, grid.Message{
				Key: fmt.Sprintf("hazard/%d/supervised", h.ID), Kind: "supervised",
				Title: fmt.Sprintf("隐患 %s 已挂牌督办", h.Code), Body: note,
				Street: *h.StreetCode, District: h.DistrictCode,
				Data: map[string]any{"hazard_id": h.ID, "code": h.Code, "by": p.Actor()},
			}, grid.Recipient{Kind: grid.RecipientStreet, Code: *h.StreetCode}); err != nil {
				return err
			}
		}
		if err := s.st.Record(ctx, tx, entry); err != nil {
			return err
		}
		out, err = s.hazardDetail(ctx, tx, p, h.ID)
		return err
	})
	return out, err
}

// Area is a loaded administrative area (区, 街道/镇, 居委/村) by its code and name.
type Area struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Districts lists the loaded districts by code: public reference data, like the areas
// tiles, so the list is not scoped.
func (s *Service) Districts(ctx context.Context) ([]Area, error) {
	rows, err := s.db.Query(ctx, `SELECT code, name FROM areas WHERE level = 'district' ORDER BY code`)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Area])
	if out == nil {
		out = []Area{}
	}
	return out, err
}
