package supervise

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"safegrid/geo"
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
	AccuracyM *float64 `json:"accuracy_m" required:"true" minimum:"0" exclusiveMinimum:"true" maximum:"10000" doc:"the browser's reported accuracy in metres (GeolocationCoordinates.accuracy): above 0, at most 10,000"`
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
	case !(*a > 0) || math.IsInf(*a, 0) || float32(*a) == 0: // the column is a real: less is 0 there (an underflow error)
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
	if err == nil {
		err = s.inspectionsPhotos(ctx, items)
	}
	return items, total, err
}

// inspectionsPhotos fills the photos (照片取证) of a page of inspections, in one query.
func (s *Service) inspectionsPhotos(ctx context.Context, items []Inspection) error {
	ids := make([]int64, len(items))
	for i := range items {
		ids[i] = items[i].ID
		items[i].Photos = []grid.Photo{}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+grid.PhotoColumns+` FROM photos ph
 WHERE ph.inspection_id = ANY($1) ORDER BY ph.attached_at, ph.id`, ids)
	if err != nil {
		return err
	}
	photos, err := pgx.CollectRows(rows, grid.ScanPhoto)
	if err != nil {
		return err
	}
	for _, ph := range photos {
		for i := range items {
			if ph.InspectionID != nil && *ph.InspectionID == items[i].ID {
				items[i].Photos = append(items[i].Photos, ph)
			}
		}
	}
	return nil
}

// inspectionColumns are the columns of an inspection history file (LoadInspectionsCSV), in
// order: the enterprise's USCC, the time (RFC 3339), the result, the hazards found, and
// the check-in: the phone's WGS84 position and its accuracy in metres (all three empty
// for an unlocated one).
var inspectionColumns = []string{"uscc", "inspected_at", "result", "hazards_found", "checkin_lon", "checkin_lat", "checkin_accuracy_m"}

// loadInspectionsSQL inserts the staged history: each row by its enterprise's USCC, by the
// officer of the grid unit holding the enterprise's cell (none when the cell has no
// officer; by h3 alone, as a border cell may sit in the district next to the enterprise's),
// at the enterprise's location, with its check-in measured and judged as an
// officer's own write is (limits $1 and $2). A row already there (same enterprise and
// time) is left alone, so loading the same file twice adds nothing.
var loadInspectionsSQL = `INSERT INTO inspections AS i (district_code, enterprise_id, officer_id, inspected_at, result, hazards_found, h3, geom,
	checkin_geom, checkin_accuracy_m, checkin_distance_m, checkin)
SELECT e.district_code, e.id, u.officer_id, l.at, l.result, l.hazards, e.h3, e.geom,
	c.p, CASE WHEN c.p IS NOT NULL THEN l.acc END, c.d, ` + checkinVerdictSQL("c.d", "l.acc", "$1::float8", "$2::float8") + `
FROM inspection_load l
JOIN enterprises e ON e.uscc = l.uscc
LEFT JOIN grid_cells gc ON gc.h3 = e.h3
LEFT JOIN grid_units u ON u.code = gc.unit_code
CROSS JOIN LATERAL (SELECT x.p, ST_Distance(x.p::geography, e.geom::geography) AS d
	FROM (SELECT ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326) AS p) x) c
WHERE NOT EXISTS (SELECT 1 FROM inspections o WHERE o.district_code = e.district_code AND o.enterprise_id = e.id AND o.inspected_at = l.at)`

// LoadInspectionsCSV loads a history of inspections (the demo's; inspectionColumns) in one
// transaction, audited once as an import by actor: all rows or none. A row naming no
// enterprise, or with a value out of place, refuses the whole file naming the row. It
// returns the number of inspections added.
func (s *Service) LoadInspectionsCSV(ctx context.Context, r io.Reader, actor string) (int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(inspectionColumns)
	head, err := cr.Read()
	if err != nil {
		return 0, &grid.InvalidError{Field: "header", Reason: err.Error()}
	}
	if !slices.Equal(head, inspectionColumns) {
		return 0, &grid.InvalidError{Field: "header", Reason: fmt.Sprintf("want the columns %s", strings.Join(inspectionColumns, ","))}
	}
	var rows [][]any
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, &grid.InvalidError{Field: fmt.Sprintf("row %d", n), Reason: err.Error()}
		}
		row, err := inspectionRow(rec)
		if err != nil {
			return 0, &grid.InvalidError{Field: fmt.Sprintf("row %d", n), Reason: err.Error()}
		}
		rows = append(rows, append([]any{n}, row...))
	}
	lim := s.Checkin.orDefault()
	added := 0
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE inspection_load (n integer, uscc text, at timestamptz, result text, hazards integer,
	lon float8, lat float8, acc float8) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"inspection_load"}, []string{"n", "uscc", "at", "result", "hazards", "lon", "lat", "acc"},
			pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		var missing *int
		var missingUSCC string
		err := tx.QueryRow(ctx, `SELECT l.n, l.uscc FROM inspection_load l WHERE NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = l.uscc) ORDER BY l.n LIMIT 1`).
			Scan(&missing, &missingUSCC)
		if err == nil {
			return &grid.InvalidError{Field: fmt.Sprintf("row %d", *missing), Reason: fmt.Sprintf("no enterprise %q", missingUSCC)}
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		tag, err := tx.Exec(ctx, loadInspectionsSQL, lim.MaxDistanceM, lim.MaxAccuracyM)
		if err != nil {
			return err
		}
		added = int(tag.RowsAffected())
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: actor, Action: "import", Kind: grid.AuditDataset, Object: "inspections",
			Details: map[string]any{"rows": len(rows), "inserted": added}})
	})
	return added, err
}

// inspectionRow checks one history row and returns its values in staging order.
func inspectionRow(rec []string) ([]any, error) {
	uscc := strings.TrimSpace(rec[0])
	if uscc == "" {
		return nil, errors.New("uscc: required")
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
	if err != nil {
		return nil, fmt.Errorf("inspected_at: %q is not an RFC 3339 time", rec[1])
	}
	if !slices.Contains(inspectionResults, rec[2]) {
		return nil, fmt.Errorf("result: %q is not one of %s", rec[2], strings.Join(inspectionResults, ", "))
	}
	hz, err := strconv.Atoi(rec[3])
	if err != nil || hz < 0 || hz > 10_000 {
		return nil, fmt.Errorf("hazards_found: %q is not a count from 0 to 10000", rec[3])
	}
	var pos [3]*float64
	given := 0
	for i, name := range inspectionColumns[4:] {
		v := strings.TrimSpace(rec[4+i])
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %q is not a number", name, v)
		}
		pos[i] = &x
		given++
	}
	switch {
	case given != 0 && given != 3:
		return nil, errors.New("checkin_lon, checkin_lat and checkin_accuracy_m go together")
	case given == 3:
		if err := geo.CheckRange(orb.Point{*pos[0], *pos[1]}); err != nil {
			return nil, fmt.Errorf("checkin_lon, checkin_lat: %v", err)
		}
		if !(*pos[2] > 0) || *pos[2] > MaxReportedAccuracyM {
			return nil, fmt.Errorf("checkin_accuracy_m: %v is not above 0 and at most %d", *pos[2], MaxReportedAccuracyM)
		}
	}
	return []any{uscc, at, rec[2], hz, pos[0], pos[1], pos[2]}, nil
}
