// Package assess is the monthly officer assessment 考核: per grid officer, grid unit,
// street and district, for one calendar month in Shanghai, how many enterprises were due
// for inspection and how many of them were inspected in the month, how many inspections
// carried a located check-in, how many hazards were found, how many were rectified by
// their deadline, and how many are overdue now. The definitions are docs/ASSESSMENT.md's.
package assess

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Service computes assessments over one store.
type Service struct {
	db *pgxpool.Pool
}

// New returns the assessment service of st.
func New(st *grid.Store) *Service {
	return &Service{db: st.DB(pg.Key{})}
}

// The levels an assessment is reported at, finest first.
const (
	LevelOfficer  = "officer"
	LevelUnit     = "unit"
	LevelStreet   = "street"
	LevelDistrict = "district"
)

// Levels lists the levels, in the order of the workbook's sheets.
func Levels() []string { return []string{LevelOfficer, LevelUnit, LevelStreet, LevelDistrict} }

// FirstMonth is the earliest month an assessment is computed for.
const FirstMonth = 2000

var monthRe = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)

// ParseMonth reads month=YYYY-MM: a calendar month in Shanghai, not before January 2000
// and not after the month of now (in Shanghai). Empty is now's month. It returns the
// month's first midnight in Shanghai; anything else is an InvalidError on "month".
func ParseMonth(raw string, now time.Time) (time.Time, error) {
	now = now.In(grid.ShanghaiZone())
	current := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, grid.ShanghaiZone())
	if raw == "" {
		return current, nil
	}
	m := monthRe.FindStringSubmatch(raw)
	if m == nil {
		return time.Time{}, &grid.InvalidError{Field: "month", Reason: "must be a month, YYYY-MM"}
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 {
		return time.Time{}, &grid.InvalidError{Field: "month", Reason: fmt.Sprintf("%s has no month %s", m[1], m[2])}
	}
	if y < FirstMonth {
		return time.Time{}, &grid.InvalidError{Field: "month", Reason: fmt.Sprintf("must be %d-01 or later", FirstMonth)}
	}
	t := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, grid.ShanghaiZone())
	if t.After(current) {
		return time.Time{}, &grid.InvalidError{Field: "month", Reason: fmt.Sprintf("must not be after the current month, %s", current.Format("2006-01"))}
	}
	return t, nil
}

// Figures are one row's counts (docs/ASSESSMENT.md defines each) and their rates; a rate
// is null when its denominator is 0, else rounded to 4 decimals.
type Figures struct {
	Due          int      `json:"due" doc:"enterprises due for inspection in the month (重大/较大 monthly, others quarterly)"`
	Done         int      `json:"done" doc:"of the due enterprises, those inspected within the month"`
	DoneRate     *float64 `json:"done_rate" doc:"done ÷ due; null when nothing was due"`
	Inspections  int      `json:"inspections" doc:"inspections recorded in the month"`
	Located      int      `json:"located" doc:"of those, inspections whose check-in is located"`
	LocatedRate  *float64 `json:"located_rate" doc:"located ÷ inspections; null without inspections"`
	HazardsFound int      `json:"hazards_found" doc:"hazards reported in the month"`
	Rectified    int      `json:"rectified" doc:"hazards whose rectification was verified in the month"`
	OnTime       int      `json:"rectified_on_time" doc:"of those, verified on or before their deadline (Shanghai date)"`
	OnTimeRate   *float64 `json:"on_time_rate" doc:"rectified_on_time ÷ rectified; null when none was rectified"`
	OverdueNow   int      `json:"overdue_now" doc:"hazards past their deadline today (Shanghai) and neither verified nor closed, whatever the month"`
}

func (f *Figures) add(g Figures) {
	f.Due += g.Due
	f.Done += g.Done
	f.Inspections += g.Inspections
	f.Located += g.Located
	f.HazardsFound += g.HazardsFound
	f.Rectified += g.Rectified
	f.OnTime += g.OnTime
	f.OverdueNow += g.OverdueNow
}

// rate is n ÷ d rounded to 4 decimals, nil when d is 0.
func rate(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := math.Round(float64(n)/float64(d)*1e4) / 1e4
	return &r
}

func (f *Figures) rates() {
	f.DoneRate, f.LocatedRate, f.OnTimeRate = rate(f.Done, f.Due), rate(f.Located, f.Inspections), rate(f.OnTime, f.Rectified)
}

// Row is one officer, grid unit, street or district, or the total.
type Row struct {
	Code         string  `json:"code" doc:"officer: the username (empty for units without an officer); unit: its code; street or district: the area code; total: empty"`
	Name         string  `json:"name" doc:"officer: the display name; unit: its name; street or district: the area's name"`
	StreetCode   *string `json:"street_code" doc:"unit: its street; null at the other levels"`
	DistrictCode *string `json:"district_code" doc:"unit and street: the district; null at the other levels"`
	Officer      *string `json:"officer" doc:"unit: the assigned officer's username; null when none, and at the other levels"`
	Units        int     `json:"units" doc:"grid units the row sums"`
	Enterprises  int     `json:"enterprises" doc:"enterprises in those units' cells"`
	Figures
}

// Report is an assessment at every level, within one scope.
type Report struct {
	Month     string    // YYYY-MM
	From, To  time.Time // the month in Shanghai: [From, To)
	Today     string    // today's Shanghai date, the day overdue_now counts on
	District  string    // the district the report covers (a filter, or a district user's); "" for all
	Street    string    // the street likewise; "" for all
	ScopeName string    // the covered area's name, "" for all
	Officers  []Row
	Units     []Row
	Streets   []Row
	Districts []Row
	Total     Row
}

// Rows returns the report's rows of level.
func (r *Report) Rows(level string) []Row {
	switch level {
	case LevelOfficer:
		return r.Officers
	case LevelUnit:
		return r.Units
	case LevelStreet:
		return r.Streets
	case LevelDistrict:
		return r.Districts
	}
	return nil
}

// Query selects an assessment: the month (its first midnight in Shanghai, from ParseMonth)
// and optional district and street filters.
type Query struct {
	Month    time.Time
	District string
	Street   string
}

var (
	districtRe = regexp.MustCompile(`^[0-9]{6}$`)
	streetRe   = regexp.MustCompile(`^[0-9]{9}$`)
)

// checkArea refuses a filter code that is malformed, names no loaded area of its level,
// or lies outside p's scope; the last two get the same answer (an InvalidError naming
// the parameter), so a filter cannot tell another street from a missing one.
func (s *Service) checkArea(ctx context.Context, p *grid.Principal, level, code string) (string, error) {
	re, digits := districtRe, 6
	if level == LevelStreet {
		re, digits = streetRe, 9
	}
	if !re.MatchString(code) {
		return "", &grid.InvalidError{Field: level, Reason: fmt.Sprintf("must be a %d-digit %s code", digits, level)}
	}
	missing := &grid.InvalidError{Field: level, Reason: fmt.Sprintf("no %s has the code %s", level, code)}
	visible := true
	switch p.Role {
	case grid.RoleDistrict:
		visible = code[:6] == p.DistrictCode
	case grid.RoleStreet:
		visible = level == LevelStreet && code == p.StreetCode || level == LevelDistrict && len(p.StreetCode) == 9 && code == p.StreetCode[:6]
	case grid.RoleAdmin, grid.RolePlanner:
	default:
		visible = false
	}
	var name string
	err := s.db.QueryRow(ctx, `SELECT name FROM areas WHERE code = $1 AND level = $2`, code, level).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !visible {
		return "", missing
	}
	return name, err
}

// unitsSQL computes one row per grid unit in scope (%s: grid.Scope's condition on the
// unit's street and district, binding $4). $1 is the month's first day, $2 and $3 the
// district and street filters (” for none). Everything is attributed to a unit by its
// cell: an enterprise and its inspections by the enterprise's cell, a hazard by its own.
// Month bounds are Shanghai midnights; the due rule is supervise's InspectionsDue (last
// inspection plus one month for 重大/较大, three months for the others), taken at the
// month: due when the last inspection before the month plus the interval falls before the
// month's end, or there was none.
const unitsSQL = `WITH b AS (
	SELECT ($1::date + interval '1 month')::timestamp AS el,
		($1::date)::timestamp AT TIME ZONE 'Asia/Shanghai' AS s,
		($1::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai' AS e,
		(now() AT TIME ZONE 'Asia/Shanghai')::date AS today
), u AS (
	SELECT gu.code, gu.name, gu.street_code, left(gu.street_code, 6) AS district_code, gu.officer_id
	FROM grid_units gu
	WHERE %s AND ($2 = '' OR left(gu.street_code, 6) = $2) AND ($3 = '' OR gu.street_code = $3)
), ent AS MATERIALIZED (
	SELECT gc.unit_code,
		li.last IS NULL OR (li.last AT TIME ZONE 'Asia/Shanghai') +
			CASE WHEN e.risk_level IN ('重大', '较大') THEN interval '1 month' ELSE interval '3 months' END < b.el AS is_due,
		EXISTS (SELECT 1 FROM inspections i WHERE i.district_code = e.district_code AND i.enterprise_id = e.id
			AND i.inspected_at >= b.s AND i.inspected_at < b.e) AS inspected
	FROM u JOIN grid_cells gc ON gc.unit_code = u.code JOIN enterprises e ON e.h3 = gc.h3 CROSS JOIN b
	LEFT JOIN LATERAL (SELECT max(i.inspected_at) AS last FROM inspections i
		WHERE i.district_code = e.district_code AND i.enterprise_id = e.id AND i.inspected_at < b.s) li ON true
), due AS (
	SELECT unit_code, count(*)::int AS enterprises, (count(*) FILTER (WHERE is_due))::int AS due,
		(count(*) FILTER (WHERE is_due AND inspected))::int AS done
	FROM ent GROUP BY unit_code
), insp AS (
	SELECT gc.unit_code, count(*)::int AS inspections, (count(*) FILTER (WHERE i.checkin = 'located'))::int AS located
	FROM u JOIN grid_cells gc ON gc.unit_code = u.code JOIN enterprises e ON e.h3 = gc.h3
	JOIN inspections i ON i.district_code = e.district_code AND i.enterprise_id = e.id CROSS JOIN b
	WHERE i.inspected_at >= b.s AND i.inspected_at < b.e
	GROUP BY gc.unit_code
), haz AS (
	SELECT gc.unit_code,
		(count(*) FILTER (WHERE h.reported_at >= b.s AND h.reported_at < b.e))::int AS found,
		(count(*) FILTER (WHERE v.at >= b.s AND v.at < b.e))::int AS rectified,
		(count(*) FILTER (WHERE v.at >= b.s AND v.at < b.e AND (v.at AT TIME ZONE 'Asia/Shanghai')::date <= h.deadline))::int AS on_time,
		(count(*) FILTER (WHERE h.status NOT IN ('verified', 'closed') AND h.deadline < b.today))::int AS overdue
	FROM u JOIN grid_cells gc ON gc.unit_code = u.code JOIN hazards h ON h.h3 = gc.h3 CROSS JOIN b
	LEFT JOIN LATERAL (
		SELECT CASE WHEN h.status IN ('verified', 'closed') THEN coalesce(
			max(hh.at) FILTER (WHERE hh.to_status = 'verified'), max(hh.at) FILTER (WHERE hh.to_status = 'closed'), h.closed_at) END AS at
		FROM hazard_history hh WHERE hh.district_code = h.district_code AND hh.hazard_id = h.id) v ON true
	GROUP BY gc.unit_code
)
SELECT u.code, u.name, u.street_code, coalesce(sa.name, ''), u.district_code, coalesce(da.name, ''),
	us.username, coalesce(nullif(us.display_name, ''), us.username),
	coalesce(due.enterprises, 0), coalesce(due.due, 0), coalesce(due.done, 0),
	coalesce(insp.inspections, 0), coalesce(insp.located, 0),
	coalesce(haz.found, 0), coalesce(haz.rectified, 0), coalesce(haz.on_time, 0), coalesce(haz.overdue, 0),
	(SELECT today FROM b)
FROM u
LEFT JOIN due ON due.unit_code = u.code
LEFT JOIN insp ON insp.unit_code = u.code
LEFT JOIN haz ON haz.unit_code = u.code
LEFT JOIN areas sa ON sa.code = u.street_code
LEFT JOIN areas da ON da.code = u.district_code
LEFT JOIN users us ON us.id = u.officer_id
ORDER BY u.district_code, u.street_code, u.code`

// unitRow is one unit as unitsSQL answers it, with what the roll-ups need.
type unitRow struct {
	Row
	streetName, districtName string
	officerName              *string
}

// Assess computes the assessment of q within p's scope (grid.Scope): admins and planners
// see every unit, a district user their district's, a street office its street's; any
// other role sees nothing. A filter outside the scope is refused as one naming no area.
func (s *Service) Assess(ctx context.Context, p *grid.Principal, q Query) (*Report, error) {
	if p == nil {
		return nil, grid.ErrForbidden
	}
	rep := &Report{Month: q.Month.Format("2006-01"), From: q.Month, To: q.Month.AddDate(0, 1, 0)}
	if q.District != "" {
		name, err := s.checkArea(ctx, p, LevelDistrict, q.District)
		if err != nil {
			return nil, err
		}
		rep.District, rep.ScopeName = q.District, name
	}
	if q.Street != "" {
		name, err := s.checkArea(ctx, p, LevelStreet, q.Street)
		if err != nil {
			return nil, err
		}
		if q.District != "" && q.Street[:6] != q.District {
			return nil, &grid.InvalidError{Field: "street", Reason: fmt.Sprintf("street %s is not in district %s", q.Street, q.District)}
		}
		rep.District, rep.Street, rep.ScopeName = q.Street[:6], q.Street, name
	}
	// The caller's own area names the report when no filter narrows it further.
	switch {
	case rep.Street == "" && p.Role == grid.RoleStreet:
		rep.District, rep.Street = p.StreetCode[:min(6, len(p.StreetCode))], p.StreetCode
		rep.ScopeName = s.areaName(ctx, p.StreetCode)
	case rep.District == "" && p.Role == grid.RoleDistrict:
		rep.District, rep.ScopeName = p.DistrictCode, s.areaName(ctx, p.DistrictCode)
	}
	cond, args := grid.Scope(p, grid.ScopeCols{District: "left(gu.street_code, 6)", Street: "gu.street_code"}, 4)
	var today time.Time
	var units []unitRow
	// One read-only statement without JIT: the planner overestimates the joins of the
	// per-unit aggregates and would spend seconds compiling what runs in a fraction of that.
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(unitsSQL, cond), append([]any{q.Month.Format(time.DateOnly), q.District, q.Street}, args...)...)
		if err != nil {
			return err
		}
		units, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (unitRow, error) {
			var u unitRow
			var street, district string
			err := row.Scan(&u.Code, &u.Name, &street, &u.streetName, &district, &u.districtName, &u.Officer, &u.officerName,
				&u.Enterprises, &u.Due, &u.Done, &u.Inspections, &u.Located, &u.HazardsFound, &u.Rectified, &u.OnTime, &u.OverdueNow, &today)
			u.StreetCode, u.DistrictCode, u.Units = &street, &district, 1
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if today.IsZero() {
		if err := s.db.QueryRow(ctx, `SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date`).Scan(&today); err != nil {
			return nil, err
		}
	}
	rep.Today = today.Format(time.DateOnly)
	rollUp(rep, units)
	return rep, nil
}

func (s *Service) areaName(ctx context.Context, code string) string {
	var name string
	if err := s.db.QueryRow(ctx, `SELECT name FROM areas WHERE code = $1`, code).Scan(&name); err != nil {
		return ""
	}
	return name
}

// rollUp fills the report's levels from its units: an officer's row sums the units
// assigned to them (units without an officer make one row with an empty code, listed
// last), a street's and a district's the units in them; the total sums every unit.
func rollUp(rep *Report, units []unitRow) {
	officers, streets, districts := map[string]*Row{}, map[string]*Row{}, map[string]*Row{}
	get := func(m map[string]*Row, key string, mk func() Row) *Row {
		if r, ok := m[key]; ok {
			return r
		}
		r := mk()
		m[key] = &r
		return &r
	}
	rep.Units = make([]Row, 0, len(units))
	for _, u := range units {
		r := u.Row
		r.rates()
		rep.Units = append(rep.Units, r)
		officer := ""
		if u.Officer != nil {
			officer = *u.Officer
		}
		for _, g := range []*Row{
			get(officers, officer, func() Row {
				name := ""
				if u.officerName != nil {
					name = *u.officerName
				}
				return Row{Code: officer, Name: name}
			}),
			get(streets, *u.StreetCode, func() Row {
				d := *u.DistrictCode
				return Row{Code: *u.StreetCode, Name: u.streetName, DistrictCode: &d}
			}),
			get(districts, *u.DistrictCode, func() Row { return Row{Code: *u.DistrictCode, Name: u.districtName} }),
			&rep.Total,
		} {
			g.Units++
			g.Enterprises += u.Enterprises
			g.add(u.Figures)
		}
	}
	rep.Total.rates()
	list := func(m map[string]*Row, lastEmpty bool) []Row {
		out := make([]Row, 0, len(m))
		for _, r := range m {
			r.rates()
			out = append(out, *r)
		}
		slices.SortFunc(out, func(a, b Row) int {
			if lastEmpty && (a.Code == "") != (b.Code == "") {
				if a.Code == "" {
					return 1
				}
				return -1
			}
			switch {
			case a.Code < b.Code:
				return -1
			case a.Code > b.Code:
				return 1
			}
			return 0
		})
		return out
	}
	rep.Officers, rep.Streets, rep.Districts = list(officers, true), list(streets, false), list(districts, false)
}
