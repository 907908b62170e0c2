package grid_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// stampRE is a timestamp as the service writes it: RFC 3339, UTC, milliseconds.
var stampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestTimeJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 14, 19, 778420000, time.FixedZone("CST", 8*3600))
	var v struct {
		At     grid.Time  `json:"at"`
		Closed *grid.Time `json:"closed"`
		Zero   grid.Time  `json:"zero"`
	}
	v.At = grid.TimeOf(at)
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"at":"2026-12-02T10:14:19.778Z","closed":null,"zero":"0001-01-01T00:00:00.000Z"}`; string(js) != want {
		t.Errorf("%s, want %s", js, want)
	}
	if s := grid.FormatTime(at); s != "2026-12-02T10:14:19.778Z" || !stampRE.MatchString(s) || v.At.String() != s {
		t.Errorf("FormatTime %q, String %q", s, v.At.String())
	}
	// A whole second keeps its .000: a client parsing a fixed layout needs every digit.
	if s := grid.FormatTime(time.Date(2026, 1, 1, 0, 0, 0, 999999, time.UTC)); s != "2026-01-01T00:00:00.000Z" {
		t.Errorf("below a millisecond: %q", s)
	}
	// Any RFC 3339 time reads back (the decoder is time.Time's).
	var back struct {
		At     grid.Time  `json:"at"`
		Closed *grid.Time `json:"closed"`
	}
	if err := json.Unmarshal([]byte(`{"at":"2026-12-02T18:14:19.778+08:00","closed":"2026-12-03T00:00:00Z"}`), &back); err != nil {
		t.Fatal(err)
	}
	if !back.At.Equal(at.Truncate(time.Millisecond)) || back.Closed == nil || back.Closed.String() != "2026-12-03T00:00:00.000Z" {
		t.Errorf("decoded %v %v", back.At, back.Closed)
	}
}

// TestTimeSQL: a timestamptz scanned into a Time and the same value written by
// PostgreSQL with TimeSQL give the same text, to the millisecond, whatever the session's
// time zone; NULL scans into a nil *Time and writes NULL.
func TestTimeSQL(t *testing.T) {
	st := testdb.New(t, nil)
	db := testdb.DB(st)
	ctx := t.Context()
	for _, zone := range []string{"UTC", "Asia/Shanghai", "America/Los_Angeles"} {
		conn, err := db.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET TIME ZONE '"+zone+"'"); err != nil {
			t.Fatal(err)
		}
		for _, lit := range []string{"2026-12-02 10:14:19.77842+00", "2026-12-02 23:59:59.9999+08", "2027-01-01 00:00:00+00"} {
			var got grid.Time
			var text string
			var none *grid.Time
			var noneText *string
			err := conn.QueryRow(ctx, `SELECT $1::timestamptz, `+grid.TimeSQL("$1::timestamptz")+`, NULL::timestamptz, `+grid.TimeSQL("NULL::timestamptz"), lit).
				Scan(&got, &text, &none, &noneText)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != text || !stampRE.MatchString(text) || none != nil || noneText != nil {
				t.Errorf("%s in %s: Go %s, SQL %s (null: %v %v)", lit, zone, got, text, none, noneText)
			}
		}
		var echoed grid.Time
		at := grid.TimeOf(time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC))
		if err := conn.QueryRow(ctx, `SELECT $1::timestamptz`, at).Scan(&echoed); err != nil || !echoed.Equal(at.Time) {
			t.Errorf("bound and read back: %v %v", echoed, err)
		}
		conn.Release()
	}
	var text string
	if err := db.QueryRow(ctx, `SELECT `+grid.TimeSQL("'2026-12-02 10:14:19.77842+00'::timestamptz")).Scan(&text); err != nil || text != "2026-12-02T10:14:19.778Z" {
		t.Errorf("TimeSQL %q %v", text, err)
	}
}
