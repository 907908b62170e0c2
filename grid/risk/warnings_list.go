package risk

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Warning is an early warning 预警: an area (district, street, community, or a cell) that
// a rule found, with the reason and the figures behind it, and its handling: new, then
// acknowledged with a note, then closed.
type Warning struct {
	ID           int64   `json:"id"`
	DistrictCode string  `json:"district_code"`
	StreetCode   *string `json:"street_code" doc:"null for a district's warning"`
	AreaLevel    string  `json:"area_level" enum:"district,street,community,cell"`
	AreaCode     string  `json:"area_code" doc:"the district, street or community code, or the H3 cell as a decimal number"`
	AreaName     string  `json:"area_name"`
	Rule         string  `json:"rule" enum:"colour_rise,turned_red,major_hazard_overdue,hazard_burst"`
	Title        string  `json:"title" doc:"zh-CN"`
	Reason       string  `json:"reason" doc:"zh-CN: what the rule saw, with the figures"`
	// Figures are the numbers behind the warning, by rule (docs/RISK.md): from/to colour and
	// score and the parts that grew most; the hazard and its deadline; the count and window.
	Figures        json.RawMessage `json:"figures"`
	Status         string          `json:"status" enum:"new,acknowledged,closed"`
	RaisedAt       grid.Time       `json:"raised_at"`
	AcknowledgedAt *grid.Time      `json:"acknowledged_at"`
	AcknowledgedBy *string         `json:"acknowledged_by"`
	AckNote        *string         `json:"ack_note"`
	ClosedAt       *grid.Time      `json:"closed_at"`
	ClosedBy       *string         `json:"closed_by"`
	CloseNote      *string         `json:"close_note"`
	Version        int             `json:"version" doc:"send it back to acknowledge or close; a warning changed since is a 409"`
	SnapshotID     *int64          `json:"snapshot_id" doc:"the snapshot that raised it; null for a hazard rule run by the scheduler"`
}

// The statuses of a warning.
const (
	WarningNew          = "new"
	WarningAcknowledged = "acknowledged"
	WarningClosed       = "closed"
)

// MaxWarningNote is the most characters of an acknowledgement's or a closing's note.
const MaxWarningNote = 2000

// Filter selects warnings: each field narrows the list when set. Zone shows the zone's
// warnings (across the caller's borders) to one of its members.
type Filter struct {
	Status, Rule     string
	District, Street string
	Zone             string
	Limit, Offset    int
}

var warningCols = `w.id, w.district_code, w.street_code, w.area_level, w.area_code,
    coalesce(a.name, CASE WHEN w.area_level = 'cell' THEN ` + cellNameSQL("w.street_code", "w.area_code::bigint") + ` END, w.area_code),
    w.rule, w.title, w.reason, w.figures, w.status, w.raised_at, w.acknowledged_at, w.acknowledged_by, w.ack_note,
    w.closed_at, w.closed_by, w.close_note, w.version, w.snapshot_id`

const warningFrom = ` FROM risk_warnings w LEFT JOIN areas a ON w.area_level <> 'cell' AND a.code = w.area_code`

func scanWarning(row pgx.Row) (Warning, error) {
	var w Warning
	err := row.Scan(&w.ID, &w.DistrictCode, &w.StreetCode, &w.AreaLevel, &w.AreaCode, &w.AreaName, &w.Rule, &w.Title,
		&w.Reason, &w.Figures, &w.Status, &w.RaisedAt, &w.AcknowledgedAt, &w.AcknowledgedBy, &w.AckNote,
		&w.ClosedAt, &w.ClosedBy, &w.CloseNote, &w.Version, &w.SnapshotID)
	return w, err
}

// warningReader is a caller that may read warnings: not an officer.
func warningReader(p *grid.Principal) error {
	if !p.HasRole(grid.RoleAdmin, grid.RolePlanner, grid.RoleDistrict, grid.RoleStreet) {
		return fmt.Errorf("%w: the risk warnings are for district bureaus, street offices, planners and admins", grid.ErrForbidden)
	}
	return nil
}

// warningScope is the condition that keeps the warnings p may see, binding its values from
// $n on: the caller's own scope (grid.Scope), or, with zone set, the zone's picture once
// p is found a member of it.
func (s *Service) warningScope(ctx context.Context, p *grid.Principal, zone string, n int) (string, []any, error) {
	if zone == "" {
		cond, args := grid.Scope(p, grid.ScopeCols{District: "w.district_code", Street: "w.street_code"}, n)
		return cond, args, nil
	}
	if _, err := s.Zone(ctx, p, zone); err != nil {
		return "", nil, err
	}
	return ZoneCond(ZoneCols{District: "w.district_code", Street: "w.street_code"}, n), []any{zone}, nil
}

// Warnings lists the warnings p may see (their own district or street; admins and planners
// all; with Filter.Zone, a zone member the zone's), newest first, and how many the filter
// selects on all pages.
func (s *Service) Warnings(ctx context.Context, p *grid.Principal, f Filter) ([]Warning, int, error) {
	if err := warningReader(p); err != nil {
		return nil, 0, err
	}
	var bad badFields
	if f.Status != "" && !slices.Contains([]string{WarningNew, WarningAcknowledged, WarningClosed}, f.Status) {
		bad.add("status", "must be new, acknowledged or closed")
	}
	if f.Rule != "" && !slices.Contains(WarningRuleNames(), f.Rule) {
		bad.add("rule", "must be one of "+strings.Join(WarningRuleNames(), ", "))
	}
	if f.Limit < 0 {
		bad.add("limit", "must be 1 or more")
	}
	if f.Offset < 0 {
		bad.add("offset", "must be 0 or more")
	}
	if err := bad.err(); err != nil {
		return nil, 0, err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	cond, args, err := s.warningScope(ctx, p, f.Zone, 1)
	if err != nil {
		return nil, 0, err
	}
	where := []string{cond}
	for _, c := range []struct{ col, v string }{
		{"w.status", f.Status}, {"w.rule", f.Rule}, {"w.district_code", f.District}, {"w.street_code", f.Street},
	} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	whereSQL := " WHERE " + strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*)::int FROM risk_warnings w`+whereSQL, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.db.Query(ctx, `SELECT `+warningCols+warningFrom+whereSQL+
		fmt.Sprintf(` ORDER BY w.raised_at DESC, w.id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Warning{}
	for rows.Next() {
		w, err := scanWarning(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, w)
	}
	return out, total, rows.Err()
}

// Warning returns one warning in p's own scope; one out of it answers exactly like one
// that does not exist (grid.NotFoundError).
func (s *Service) Warning(ctx context.Context, p *grid.Principal, id int64) (Warning, error) {
	return s.WarningInZone(ctx, p, "", id)
}

// WarningInZone is Warning for a member of zone, who sees the zone's warnings; zone ""
// is the caller's own scope.
func (s *Service) WarningInZone(ctx context.Context, p *grid.Principal, zone string, id int64) (Warning, error) {
	if err := warningReader(p); err != nil {
		return Warning{}, err
	}
	cond, args, err := s.warningScope(ctx, p, zone, 2)
	if err != nil {
		return Warning{}, err
	}
	w, err := scanWarning(s.db.QueryRow(ctx, `SELECT `+warningCols+warningFrom+` WHERE w.id = $1 AND `+cond, append([]any{id}, args...)...))
	if err == pgx.ErrNoRows {
		return Warning{}, &grid.NotFoundError{What: "warning", Key: strconv.FormatInt(id, 10)}
	}
	return w, err
}

// Acknowledge marks a new warning acknowledged with a note (required, at most
// MaxWarningNote characters): the district bureau or street office whose scope holds it,
// or an admin. Planners only read; a zone member may not acknowledge another's warning
// (a 404, as if it did not exist). A version other than the warning's is grid.ErrConflict.
func (s *Service) Acknowledge(ctx context.Context, p *grid.Principal, id int64, note string, version int) (Warning, error) {
	return s.handle(ctx, p, id, note, version, WarningAcknowledged)
}

// Close closes a new or acknowledged warning, with an optional note; who may is as for
// Acknowledge.
func (s *Service) Close(ctx context.Context, p *grid.Principal, id int64, note string, version int) (Warning, error) {
	return s.handle(ctx, p, id, note, version, WarningClosed)
}

func (s *Service) handle(ctx context.Context, p *grid.Principal, id int64, note string, version int, to string) (Warning, error) {
	if !p.HasRole(grid.RoleAdmin, grid.RoleDistrict, grid.RoleStreet) {
		return Warning{}, fmt.Errorf("%w: acknowledging and closing warnings needs the role district, street or admin", grid.ErrForbidden)
	}
	note = strings.TrimSpace(note)
	var out Warning
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		cond, args := grid.Scope(p, grid.ScopeCols{District: "w.district_code", Street: "w.street_code"}, 2)
		w, err := scanWarning(tx.QueryRow(ctx, `SELECT `+warningCols+warningFrom+` WHERE w.id = $1 AND `+cond+` FOR UPDATE OF w`,
			append([]any{id}, args...)...))
		if err == pgx.ErrNoRows {
			return &grid.NotFoundError{What: "warning", Key: strconv.FormatInt(id, 10)}
		}
		if err != nil {
			return err
		}
		if w.Version != version {
			return fmt.Errorf("%w: warning %d was changed by someone else (you sent version %d, it is now at %d); reload it and try again",
				grid.ErrConflict, id, version, w.Version)
		}
		if err := checkHandling(w.Status, to, note); err != nil {
			return err
		}
		var sql string
		if to == WarningAcknowledged {
			sql = `UPDATE risk_warnings SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $3, ack_note = $4, version = version + 1
 WHERE district_code = $1 AND id = $2`
		} else {
			sql = `UPDATE risk_warnings SET status = 'closed', closed_at = now(), closed_by = $3, close_note = nullif($4, ''), version = version + 1
 WHERE district_code = $1 AND id = $2`
		}
		if _, err := tx.Exec(ctx, sql, w.DistrictCode, w.ID, p.Actor(), note); err != nil {
			return err
		}
		entry := grid.AuditEntry{Actor: p.Actor(), Action: "risk_warning_" + map[string]string{WarningAcknowledged: "acknowledge", WarningClosed: "close"}[to],
			Kind: grid.AuditRiskWarning, Object: strconv.FormatInt(w.ID, 10),
			Details: map[string]any{"from": w.Status, "to": to, "note": note, "rule": w.Rule, "area_level": w.AreaLevel,
				"area_code": w.AreaCode, "district_code": w.DistrictCode, "version": version + 1}}
		if w.StreetCode != nil {
			entry.Street = *w.StreetCode
		}
		if err := s.st.Record(ctx, tx, entry); err != nil {
			return err
		}
		out, err = scanWarning(tx.QueryRow(ctx, `SELECT `+warningCols+warningFrom+` WHERE w.district_code = $1 AND w.id = $2`, w.DistrictCode, w.ID))
		return err
	})
	return out, err
}

// checkHandling refuses a step the status flow does not have (new → acknowledged →
// closed, new → closed) and a bad note, naming the field.
func checkHandling(from, to, note string) error {
	switch {
	case from == WarningClosed:
		return &grid.InvalidError{Field: "status", Reason: "the warning is closed already"}
	case to == WarningAcknowledged && from == WarningAcknowledged:
		return &grid.InvalidError{Field: "status", Reason: "the warning is acknowledged already"}
	case !validText(note):
		return &grid.InvalidError{Field: "note", Reason: "must be text without NUL or control characters"}
	case utf8.RuneCountInString(note) > MaxWarningNote:
		return &grid.InvalidError{Field: "note", Reason: fmt.Sprintf("must have at most %d characters", MaxWarningNote)}
	case to == WarningAcknowledged && note == "":
		return &grid.InvalidError{Field: "note", Reason: "is required: what is being done about the warning"}
	}
	return nil
}
