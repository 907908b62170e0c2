package ingest_test

import (
	"context"
	"testing"

	"github.com/paulmach/orb/geojson"

	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// TestRiskLevelHistory: the first import (the bulk path: the table is empty) records each
// enterprise's first level; a re-import (the upsert path) records exactly the levels it
// changes, from and to, with its actor, and the first level of an enterprise it adds; a
// re-import that changes nothing records nothing; an enterprise that moves to another
// district keeps its history.
func TestRiskLevelHistory(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	imp := func(actor string, feats ...*geojson.Feature) {
		t.Helper()
		if _, err := ingest.New(st).Import(ctx, testdb.FC(t, feats...), ingest.ImportOptions{Kind: "enterprises", Format: "geojson", Actor: actor}); err != nil {
			t.Fatal(err)
		}
	}
	withLevel := func(f *geojson.Feature, level string) *geojson.Feature {
		f.Properties["risk_level"] = level
		return f
	}
	e1, e2, e3 := enterprise(t, 1, peoplesSquare), enterprise(t, 2, lujiazui), enterprise(t, 3, songjiang)
	imp("first", e1, withLevel(e2, "较大"))
	type row struct{ uscc, from, to, actor, district string }
	history := func() []row {
		t.Helper()
		rows, err := testdb.DB(st).Query(ctx, `SELECT uscc, coalesce(from_level, '-'), risk_level, actor, district_code
FROM enterprise_risk_levels ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.uscc, &r.from, &r.to, &r.actor, &r.district); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	u := func(f *geojson.Feature) string { return f.Properties["uscc"].(string) }
	want := []row{{u(e1), "-", "一般", "first", "310101"}, {u(e2), "-", "较大", "first", "310115"}}
	check := func(step string) {
		t.Helper()
		got := history()
		if len(got) != len(want) {
			t.Fatalf("%s: history %v, want %v", step, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: row %d = %v, want %v", step, i, got[i], want[i])
			}
		}
	}
	check("bulk import")

	// Re-import: e1 goes up to 重大, e2 stays, e3 is new.
	imp("second", withLevel(enterprise(t, 1, peoplesSquare), "重大"), withLevel(enterprise(t, 2, lujiazui), "较大"), e3)
	want = append(want, row{u(e1), "一般", "重大", "second", "310101"}, row{u(e3), "-", "一般", "second", "310117"})
	check("re-import")

	// The same file again changes nothing.
	imp("third", withLevel(enterprise(t, 1, peoplesSquare), "重大"), withLevel(enterprise(t, 2, lujiazui), "较大"), enterprise(t, 3, songjiang))
	check("unchanged re-import")

	// e2 moves to 黄浦 and down to 低: one change, in its new district, and its old rows stay.
	imp("fourth", withLevel(enterprise(t, 2, peoplesSquare), "低"))
	want = append(want, row{u(e2), "较大", "低", "fourth", "310101"})
	check("move")
	if n := testdb.Count(t, st, `SELECT count(*) FROM enterprises WHERE uscc = $1`, u(e2)); n != 1 {
		t.Errorf("%d rows of the moved enterprise", n)
	}
}
