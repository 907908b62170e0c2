package dossier

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"safegrid/geo"
	"safegrid/grid"
)

// LicenceTypes are the work-safety licences 证照 an enterprise may hold (the CHECK of
// enterprise_licences.type, migration 00018).
var LicenceTypes = []string{
	"安全生产许可证",
	"危险化学品经营许可证",
	"危险化学品安全使用许可证",
	"危险化学品登记证",
	"非药品类易制毒化学品经营备案证明",
	"其他",
}

// A licence's status against a date: expired once valid_until has passed, expiring while
// valid_until is at most ExpiringDays days ahead (today included), else valid.
const (
	LicenceValid    = "valid"
	LicenceExpiring = "expiring"
	LicenceExpired  = "expired"
	ExpiringDays    = 30
)

// Text limits of a licence's fields, in characters (the table's CHECKs).
const (
	MaxLicenceNumber    = 64
	MaxLicenceAuthority = 100
)

// The years a licence's dates may fall in.
const (
	MinLicenceYear = 1949
	MaxLicenceYear = 2199
)

// Licence is one licence 证照 of the enterprise (enterprise_licences).
type Licence struct {
	Type       string    `json:"type" enum:"安全生产许可证,危险化学品经营许可证,危险化学品安全使用许可证,危险化学品登记证,非药品类易制毒化学品经营备案证明,其他"`
	Number     string    `json:"number" doc:"证书编号"`
	Authority  string    `json:"authority" doc:"发证机关"`
	IssuedOn   string    `json:"issued_on" doc:"YYYY-MM-DD"`
	ValidUntil string    `json:"valid_until" doc:"YYYY-MM-DD, the last valid day"`
	Status     string    `json:"status" enum:"valid,expiring,expired" doc:"against today (Shanghai): expired after valid_until, expiring when valid_until is within 30 days (today included)"`
	DaysLeft   int       `json:"days_left" doc:"valid_until minus today, in days (negative once expired)"`
	UpdatedAt  grid.Time `json:"updated_at"`
}

// LicenceStatus is the status of a licence valid until validUntil on the date today (both
// calendar dates, compared as dates) and the days left.
func LicenceStatus(validUntil, today time.Time) (string, int) {
	days := int(dateOnly(validUntil).Sub(dateOnly(today)).Hours() / 24)
	switch {
	case days < 0:
		return LicenceExpired, days
	case days <= ExpiringDays:
		return LicenceExpiring, days
	}
	return LicenceValid, days
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Service) licences(ctx context.Context, tx pgx.Tx, _ *grid.Principal, d *Dossier) error {
	var today time.Time
	if err := tx.QueryRow(ctx, `SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date`).Scan(&today); err != nil {
		return err
	}
	d.Today = today.Format(time.DateOnly)
	rows, err := tx.Query(ctx, `SELECT type, number, authority, issued_on, valid_until, updated_at
  FROM enterprise_licences WHERE district_code = $1 AND uscc = $2
 ORDER BY array_position($3::text[], type), valid_until, number`, d.district, d.Enterprise.USCC, LicenceTypes)
	if err != nil {
		return err
	}
	d.Licences, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Licence, error) {
		var l Licence
		var issued, until time.Time
		err := r.Scan(&l.Type, &l.Number, &l.Authority, &issued, &until, &l.UpdatedAt)
		l.IssuedOn, l.ValidUntil = issued.Format(time.DateOnly), until.Format(time.DateOnly)
		l.Status, l.DaysLeft = LicenceStatus(until, today)
		return l, err
	})
	if d.Licences == nil {
		d.Licences = []Licence{}
	}
	return err
}

// LicenceColumns are the columns of a licence file (LoadLicencesCSV), in order.
var LicenceColumns = []string{"uscc", "type", "number", "authority", "issued_on", "valid_until"}

// RowError is one refused field of a licence file's row (row 1 is the header).
type RowError struct {
	Row    int
	Field  string
	Reason string
}

// LoadError is a licence file refused because of bad rows; nothing was written.
type LoadError struct{ Rejections []RowError }

// MaxRejections is how many refused fields a LoadError lists at most.
const MaxRejections = 100

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "licences: %d problem(s), nothing loaded:", len(e.Rejections))
	for i, r := range e.Rejections {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Rejections)-10)
			break
		}
		fmt.Fprintf(&b, "\n  row %d, %s: %s", r.Row, r.Field, r.Reason)
	}
	return b.String()
}

// LoadResult says what a licence load did.
type LoadResult struct {
	Rows      int `json:"rows" doc:"data rows in the file"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated" doc:"licences whose authority or dates changed"`
	Unchanged int `json:"unchanged"`
}

// LoadLicencesCSV loads a licence file (LicenceColumns, a header row first) in one
// transaction, audited once as an import by actor: all rows or none. Every bad value (a
// USCC with a wrong check character or naming no enterprise, an unknown type, a malformed
// date, valid_until before issued_on, an empty or over-long text, NUL or invalid UTF-8, a
// row repeating an earlier row's key) is a RowError naming its row and field, and any one
// refuses the file. A licence is keyed by its enterprise, type and number: loading it again
// updates its authority and dates, and loading the same file twice changes nothing.
func (s *Service) LoadLicencesCSV(ctx context.Context, r io.Reader, actor string) (*LoadResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(LicenceColumns)
	head, err := cr.Read()
	if err != nil {
		return nil, &LoadError{[]RowError{{Row: 1, Field: "header", Reason: csvReason(err)}}}
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if !slices.Equal(head, LicenceColumns) {
		return nil, &LoadError{[]RowError{{Row: 1, Field: "header", Reason: "want the columns " + strings.Join(LicenceColumns, ",")}}}
	}
	var bad []RowError
	var rows [][]any
	seen := map[[3]string]int{}
	var named []RowError // the rows with a well-formed USCC, checked against enterprises below
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				bad = append(bad, RowError{Row: n, Field: "row", Reason: fmt.Sprintf("want %d fields", len(LicenceColumns))})
				continue
			}
			bad = append(bad, RowError{Row: n, Field: "row", Reason: csvReason(err)})
			break // the reader cannot go on past malformed quoting
		}
		row, errs := licenceRow(n, rec)
		if !hasField(errs, "uscc") {
			named = append(named, RowError{Row: n, Field: "uscc", Reason: rec[0]})
		}
		if len(errs) > 0 {
			bad = append(bad, errs...)
			continue
		}
		key := [3]string{rec[0], rec[1], rec[2]}
		if first, ok := seen[key]; ok {
			bad = append(bad, RowError{Row: n, Field: "number", Reason: fmt.Sprintf("repeats row %d's licence (same uscc, type and number)", first)})
			continue
		}
		seen[key] = n
		rows = append(rows, row)
	}
	// Every row naming no enterprise, with the file's other faults, in row order. (The
	// write checks again in its transaction.)
	unknown, err := s.unknownEnterprises(ctx, named)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		bad = append(bad, unknown...)
		slices.SortStableFunc(bad, func(a, b RowError) int { return a.Row - b.Row })
	}
	if len(bad) > 0 {
		return nil, &LoadError{bad[:min(len(bad), MaxRejections)]}
	}
	res := &LoadResult{Rows: len(rows)}
	err = s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE licence_load (n integer, uscc text, type text, number text, authority text,
	issued_on date, valid_until date) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"licence_load"}, []string{"n", "uscc", "type", "number", "authority", "issued_on", "valid_until"},
			pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		missing, err := tx.Query(ctx, `SELECT l.n, l.uscc FROM licence_load l
 WHERE NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.uscc = l.uscc) ORDER BY l.n LIMIT $1`, MaxRejections)
		if err != nil {
			return err
		}
		unknown, err := pgx.CollectRows(missing, func(r pgx.CollectableRow) (RowError, error) {
			var e RowError
			var uscc string
			err := r.Scan(&e.Row, &uscc)
			e.Field, e.Reason = "uscc", fmt.Sprintf("no enterprise %s", uscc)
			return e, err
		})
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			return &LoadError{unknown}
		}
		// An enterprise is in one district; should a USCC be in several, the licence goes
		// with the row the dossier shows (the first district).
		rs, err := tx.Query(ctx, `INSERT INTO enterprise_licences AS t (district_code, uscc, type, number, authority, issued_on, valid_until)
SELECT e.district_code, l.uscc, l.type, l.number, l.authority, l.issued_on, l.valid_until
  FROM licence_load l
  CROSS JOIN LATERAL (SELECT district_code FROM enterprises WHERE uscc = l.uscc ORDER BY district_code LIMIT 1) e
ON CONFLICT (district_code, uscc, type, number) DO UPDATE
   SET authority = excluded.authority, issued_on = excluded.issued_on, valid_until = excluded.valid_until, updated_at = now()
 WHERE (t.authority, t.issued_on, t.valid_until) IS DISTINCT FROM (excluded.authority, excluded.issued_on, excluded.valid_until)
RETURNING (xmax = 0)`)
		if err != nil {
			return err
		}
		fresh, err := pgx.CollectRows(rs, pgx.RowTo[bool])
		if err != nil {
			return err
		}
		for _, f := range fresh {
			if f {
				res.Inserted++
			} else {
				res.Updated++
			}
		}
		res.Unchanged = res.Rows - res.Inserted - res.Updated
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: actor, Action: "import", Kind: grid.AuditDataset, Object: "enterprise_licences",
			Details: map[string]any{"rows": res.Rows, "inserted": res.Inserted, "updated": res.Updated}})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// unknownEnterprises returns, for each row of named (a row and its USCC in Reason), a
// RowError if no enterprise has that USCC.
func (s *Service) unknownEnterprises(ctx context.Context, named []RowError) ([]RowError, error) {
	if len(named) == 0 {
		return nil, nil
	}
	codes := make([]string, len(named))
	for i, r := range named {
		codes[i] = r.Reason
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT uscc FROM enterprises WHERE uscc = ANY($1)`, codes)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, u := range found {
		known[u] = true
	}
	var out []RowError
	for _, r := range named {
		if !known[r.Reason] {
			out = append(out, RowError{Row: r.Row, Field: "uscc", Reason: "no enterprise " + r.Reason})
		}
	}
	return out, nil
}

// csvReason is a CSV reader's complaint without its "record on line" prefix, which
// counts lines rather than rows.
func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// licenceRow checks one row of a licence file and returns its values in staging order, or
// every refused field.
func licenceRow(n int, rec []string) ([]any, []RowError) {
	var errs []RowError
	fail := func(field, reason string) { errs = append(errs, RowError{Row: n, Field: field, Reason: reason}) }
	for i, v := range rec {
		if !utf8.ValidString(v) {
			fail(LicenceColumns[i], "is not valid UTF-8")
			rec[i] = ""
		} else if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			fail(LicenceColumns[i], "holds a control character (NUL, a line break, ...)")
			rec[i] = ""
		} else {
			rec[i] = strings.TrimSpace(v)
		}
	}
	uscc, typ, number, authority := rec[0], rec[1], rec[2], rec[3]
	if !hasField(errs, "uscc") {
		if err := geo.CheckUSCC(uscc); err != nil {
			fail("uscc", err.Error())
		}
	}
	if !hasField(errs, "type") {
		if !slices.Contains(LicenceTypes, typ) {
			fail("type", fmt.Sprintf("%q is not one of %s", typ, strings.Join(LicenceTypes, ", ")))
		}
	}
	text := func(field, v string, most int) {
		switch {
		case hasField(errs, field):
		case v == "":
			fail(field, "is required")
		case utf8.RuneCountInString(v) > most:
			fail(field, fmt.Sprintf("is longer than %d characters", most))
		}
	}
	text("number", number, MaxLicenceNumber)
	text("authority", authority, MaxLicenceAuthority)
	var dates [2]time.Time
	for i, field := range []string{"issued_on", "valid_until"} {
		if hasField(errs, field) {
			continue
		}
		t, err := time.Parse(time.DateOnly, rec[4+i])
		if err != nil {
			fail(field, fmt.Sprintf("%q is not a date (YYYY-MM-DD)", rec[4+i]))
			continue
		}
		if t.Year() < MinLicenceYear || t.Year() > MaxLicenceYear {
			fail(field, fmt.Sprintf("%s is not in the years %d to %d", rec[4+i], MinLicenceYear, MaxLicenceYear))
			continue
		}
		dates[i] = t
	}
	if !dates[0].IsZero() && !dates[1].IsZero() && dates[1].Before(dates[0]) {
		fail("valid_until", fmt.Sprintf("%s is before issued_on %s", rec[5], rec[4]))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return []any{n, uscc, typ, number, authority, dates[0], dates[1]}, nil
}

func hasField(errs []RowError, field string) bool {
	return slices.ContainsFunc(errs, func(e RowError) bool { return e.Field == field })
}
