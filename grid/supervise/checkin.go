package supervise

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Check-in 签到 (docs/FIELDWORK.md, "Inspection check-in"): an inspection records where
// the officer's phone was (browser geolocation) and how far that is from the enterprise.

// Defaults of CheckinLimits (serve --checkin-max-distance, --checkin-max-accuracy).
const (
	DefaultCheckinMaxDistanceM = 200
	DefaultCheckinMaxAccuracyM = 100
)

// MaxReportedAccuracyM is the worst accuracy a position may claim: a browser that knows
// the position only to the city (IP geolocation reports tens of kilometres) has not
// located the phone at all, so more is refused, not stored.
const MaxReportedAccuracyM = 10_000

// CheckinLimits decide a check-in's verdict: far when the phone was more than
// MaxDistanceM metres from the enterprise, else inaccurate when the browser's accuracy was
// worse than MaxAccuracyM metres, else located.
type CheckinLimits struct {
	MaxDistanceM float64
	MaxAccuracyM float64
}

// DefaultCheckinLimits are 200 m and 100 m.
func DefaultCheckinLimits() CheckinLimits {
	return CheckinLimits{MaxDistanceM: DefaultCheckinMaxDistanceM, MaxAccuracyM: DefaultCheckinMaxAccuracyM}
}

// Validate refuses limits that are not positive finite metres.
func (l CheckinLimits) Validate() error {
	var errs []error
	if !(l.MaxDistanceM > 0) || math.IsInf(l.MaxDistanceM, 0) {
		errs = append(errs, fmt.Errorf("check-in distance limit %v: want metres above 0", l.MaxDistanceM))
	}
	if !(l.MaxAccuracyM > 0) || l.MaxAccuracyM > MaxReportedAccuracyM {
		errs = append(errs, fmt.Errorf("check-in accuracy limit %v: want metres above 0, at most %d", l.MaxAccuracyM, MaxReportedAccuracyM))
	}
	return errors.Join(errs...)
}

func (l CheckinLimits) orDefault() CheckinLimits {
	if l.Validate() != nil {
		return DefaultCheckinLimits()
	}
	return l
}

// Check-in verdicts, the values of inspections.checkin.
const (
	CheckinLocated    = "located"
	CheckinFar        = "far"
	CheckinInaccurate = "inaccurate"
	CheckinUnlocated  = "unlocated"
)

// Position is where the officer's phone was, as the browser's geolocation reports it.
type Position struct {
	Lon       *float64 `json:"lon" required:"true" doc:"WGS84 longitude of the officer's phone"`
	Lat       *float64 `json:"lat" required:"true" doc:"WGS84 latitude of the officer's phone"`
	AccuracyM *float64 `json:"accuracy_m" required:"true" minimum:"0" maximum:"10000" doc:"the browser's reported accuracy in metres (GeolocationCoordinates.accuracy): above 0, at most 10,000"`
}

// Checkin is an inspection's check-in 签到 as stored.
type Checkin struct {
	Status    string       `json:"status" enum:"located,far,inaccurate,unlocated" doc:"far: the phone was farther from the enterprise than the limit (default 200 m); else inaccurate: its accuracy was worse than the limit (default 100 m); else located; unlocated: no position was sent"`
	Position  *LonLatPoint `json:"position" doc:"where the officer's phone was; null when unlocated"`
	AccuracyM *float64     `json:"accuracy_m" doc:"the browser's reported accuracy, metres; null when unlocated"`
	DistanceM *float64     `json:"distance_m" doc:"metres from the phone to the enterprise (geodesic); null when unlocated"`
}

// checkPosition validates a check-in position with the core's region check (grid.Store.
// CheckLocation), naming the fields under position.
func (s *Service) checkPosition(ctx context.Context, pos *Position) error {
	if pos == nil {
		return nil
	}
	if _, err := s.st.CheckLocation(ctx, pos.Lon, pos.Lat); err != nil {
		return prefixFields("position.", err)
	}
	switch a := pos.AccuracyM; {
	case a == nil:
		return &grid.InvalidError{Field: "position.accuracy_m", Reason: "required with a position"}
	case !(*a > 0) || math.IsInf(*a, 0):
		return &grid.InvalidError{Field: "position.accuracy_m", Reason: fmt.Sprintf("%s is not an accuracy: want metres above 0", strconv.FormatFloat(*a, 'g', -1, 64))}
	case *a > MaxReportedAccuracyM:
		return &grid.InvalidError{Field: "position.accuracy_m", Reason: fmt.Sprintf("%s m is no position at all (at most %d m): send none, and the inspection is recorded unlocated",
			strconv.FormatFloat(*a, 'f', -1, 64), MaxReportedAccuracyM)}
	}
	return nil
}

// prefixFields names an invalid field as a member of an object (position.lon).
func prefixFields(prefix string, err error) error {
	var one *grid.InvalidError
	if errors.As(err, &one) {
		return &grid.InvalidError{Field: prefix + one.Field, Reason: one.Reason}
	}
	var many *grid.InvalidFieldsError
	if errors.As(err, &many) {
		out := &grid.InvalidFieldsError{}
		for _, f := range many.Errors {
			out.Errors = append(out.Errors, grid.InvalidError{Field: prefix + f.Field, Reason: f.Reason})
		}
		return out
	}
	return err
}

// checkinColumnsSQL are the check-in's columns of an inspections row i, as scanCheckin reads them.
const checkinColumnsSQL = `i.checkin, ST_X(i.checkin_geom), ST_Y(i.checkin_geom), i.checkin_accuracy_m::float8, i.checkin_distance_m::float8`

// checkinVerdictSQL is the verdict of a check-in d metres from the enterprise with accuracy
// a metres, under the limits maxD and maxA (SQL expressions each): the one rule, for the
// officer's writes and the demo's loaded history alike.
func checkinVerdictSQL(d, a, maxD, maxA string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s IS NULL THEN 'unlocated' WHEN %[1]s > %[3]s THEN 'far' WHEN %[2]s > %[4]s THEN 'inaccurate' ELSE 'located' END`, d, a, maxD, maxA)
}

// checkinScan holds one row's check-in columns.
type checkinScan struct {
	status   string
	lon, lat *float64
	acc, d   *float64
}

func (c *checkinScan) dest() []any { return []any{&c.status, &c.lon, &c.lat, &c.acc, &c.d} }

func (c *checkinScan) value() Checkin {
	out := Checkin{Status: c.status, AccuracyM: roundTo(c.acc, 1), DistanceM: roundTo(c.d, 1)}
	if c.lon != nil && c.lat != nil {
		out.Position = &LonLatPoint{Lon: *c.lon, Lat: *c.lat}
	}
	return out
}

// roundTo rounds metres to digits decimals: a real column holds about 7 digits, and a
// phone's position is not known to the millimetre anyway.
func roundTo(x *float64, digits int) *float64 {
	if x == nil {
		return nil
	}
	p := math.Pow(10, float64(digits))
	v := math.Round(*x*p) / p
	return &v
}

// InspectionListMax is the largest page of MyInspections.
const InspectionListMax = 500

// myInspectionsSQL lists the officer's ($1) own inspections, newest first.
const myInspectionsSQL = `SELECT i.id, i.enterprise_id, e.uscc, e.name, coalesce(u.username, ''), i.inspected_at, i.result, i.hazards_found, i.notes,
	h3_hex(i.h3), ST_X(i.geom), ST_Y(i.geom), ` + checkinColumnsSQL + `, count(*) OVER ()::int
FROM inspections i
JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id
LEFT JOIN users u ON u.id = i.officer_id
WHERE i.officer_id = $1 AND ($2::text = '' OR i.checkin = $2)
ORDER BY i.inspected_at DESC, i.id DESC
LIMIT $3 OFFSET $4`

// MyInspections returns one page of the inspections the officer (userID) recorded, newest
// first, with their check-ins, optionally only those with one verdict (checkin, "" for all),
// and how many there are in all.
func (s *Service) MyInspections(ctx context.Context, userID int64, checkin string, limit, offset int) ([]Inspection, int, error) {
	switch checkin {
	case "", CheckinLocated, CheckinFar, CheckinInaccurate, CheckinUnlocated:
	default:
		return nil, 0, &grid.InvalidError{Field: "checkin", Reason: fmt.Sprintf("%q is not one of located, far, inaccurate, unlocated", checkin)}
	}
	if limit <= 0 || limit > InspectionListMax {
		limit = InspectionListMax
	}
	rows, err := s.db.Query(ctx, myInspectionsSQL, userID, checkin, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Inspection, error) {
		var in Inspection
		var c checkinScan
		dest := append([]any{&in.ID, &in.EnterpriseID, &in.USCC, &in.Name, &in.Officer, &in.InspectedAt, &in.Result, &in.HazardsFound, &in.Notes,
			&in.Cell, &in.Location.Lon, &in.Location.Lat}, c.dest()...)
		if err := row.Scan(append(dest, &total)...); err != nil {
			return in, err
		}
		in.Checkin = c.value()
		return in, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(items) == 0 && offset > 0 {
		err = s.db.QueryRow(ctx, `SELECT count(*)::int FROM inspections i WHERE i.officer_id = $1 AND ($2::text = '' OR i.checkin = $2)`, userID, checkin).Scan(&total)
	}
	return items, total, err
}
