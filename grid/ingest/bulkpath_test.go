package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// The bulk path (COPY straight into the empty table, the first history rows written from
// it) and the SQL path (staging, INSERT … RETURNING) must leave the same rows: the demo's
// files loaded into two databases, one each way, give the same dump of every feature
// table, of hazard_history and of enterprise_risk_levels (ids aside: a hazard's history is
// matched by the hazard's code).
func TestBulkPathMatchesSQLPath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, err := demo.Generate(demo.Options{Scale: 0.02, Seed: 7, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bulk, plain := testdb.New(t, nil), testdb.New(t, nil)
	var tables []string
	for _, f := range m.Files {
		k, ok := grid.KindByName(f.Kind)
		if !ok {
			continue // users, grid units and cells are not import kinds
		}
		a := demoImport(ctx, t, bulk, dir, f.Kind, f.Path)
		b := demoImport(ingest.WithoutBulk(ctx), t, plain, dir, f.Kind, f.Path)
		if a.Inserted == 0 || a.Inserted != b.Inserted || a.Rejected != b.Rejected {
			t.Fatalf("%s: bulk %+v, SQL %+v", f.Kind, a, b)
		}
		if f.Kind != "areas" {
			tables = append(tables, k.Table)
		}
	}
	// (a new hazard's updated_at and an unstated reported_at are the transaction's now())
	dumps := map[string]string{
		"hazard_history": `SELECT (to_jsonb(h) - 'id' - 'hazard_id' || jsonb_build_object('hazard', z.code))::text
  FROM hazard_history h JOIN hazards z ON z.district_code = h.district_code AND z.id = h.hazard_id`,
		"enterprise_risk_levels": `SELECT (to_jsonb(r) - 'id' - 'at')::text FROM enterprise_risk_levels r`,
	}
	for _, table := range tables {
		dumps[table] = "SELECT (to_jsonb(t) - 'id' - 'updated_at')::text FROM " + pgx.Identifier{table}.Sanitize() + " t"
	}
	if len(dumps) < 9 {
		t.Fatalf("compared %d tables; want the seven feature kinds and two histories", len(dumps))
	}
	for table, q := range dumps {
		a, b := queryTexts(t, bulk, q), queryTexts(t, plain, q)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%s: %d rows by the bulk path, %d by the SQL path", table, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: the bulk path wrote\n%s\nthe SQL path\n%s", table, a[i], b[i])
			}
		}
	}
	// Funds (numeric(14,2), which the bulk COPY encodes itself) were compared above; the
	// demo must have some.
	if n := testdb.Count(t, bulk, `SELECT count(*) FROM hazards WHERE funds IS NOT NULL`); n == 0 {
		t.Fatal("no hazard with funds in the demo")
	}
}

// The bulk COPY writes numeric columns itself; each value must be what PostgreSQL makes of
// the same double assigned to a numeric(14,2) column (the SQL path), the halfway cases
// and the 15-digit rounding included.
func TestNumericMatchesPostgres(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	conn, err := testdb.DB(st).Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	xs := []float64{0, math.Copysign(0, -1), 0.001, 0.004, 0.005, 0.015, 0.025, 0.045, 1.005, 2.675, 1.115,
		0.1 + 0.2, 100, 123.456, 9999.995, 10000, 12345678.125, 999999999999.99, 999999999999.994,
		123456789012.345, 5e-3, 1e-9, 0.0049999999999999, 3.14159265358979, -2.5, -0.005, -1234.5678, 1e11}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		switch i % 4 {
		case 0:
			xs = append(xs, math.Round(r.Float64()*1e7)/100) // yuan and fen
		case 1:
			xs = append(xs, r.Float64()*1e12)
		case 2:
			xs = append(xs, float64(r.Intn(1e6))+0.005)
		default:
			xs = append(xs, r.ExpFloat64()*1000)
		}
	}
	for _, x := range xs {
		bin, err := ingest.AppendNumeric(x, 14, 2)
		if err != nil {
			t.Fatalf("%v: %v", x, err)
		}
		res := conn.Conn().PgConn().ExecParams(ctx, `SELECT $1::text, $2::float8::numeric(14,2)::text`,
			[][]byte{bin, []byte(strconv.FormatFloat(x, 'g', -1, 64))}, []uint32{1700, 701}, []int16{1, 0}, []int16{0, 0}).Read()
		if res.Err != nil {
			t.Fatalf("%v: %v", x, res.Err)
		}
		if got, want := string(res.Rows[0][0]), string(res.Rows[0][1]); got != want {
			t.Errorf("%v: encoded %s, PostgreSQL %s", x, got, want)
		}
	}
	// Too many digits before the point: an error, as the column's cast gives.
	if _, err := ingest.AppendNumeric(999999999999.996, 14, 2); err == nil || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("999999999999.996 into numeric(14,2): %v; want an overflow", err)
	}
	// Without a typmod (plain numeric) the 15 digits stay.
	bin, err := ingest.AppendNumeric(1.0/3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	res := conn.Conn().PgConn().ExecParams(ctx, `SELECT $1::text = (1.0/3)::float8::numeric::text, $1::text`,
		[][]byte{bin}, []uint32{1700}, []int16{1}, []int16{0}).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "t" {
		t.Errorf("1/3 as plain numeric: %v, %s", res.Err, res.Rows)
	}
}

func hazard(code string, p orb.Point, props map[string]any) *geojson.Feature {
	base := map[string]any{"code": code, "level": "一般", "category": "消防安全", "description": "通道堵塞"}
	for k, v := range props {
		base[k] = v
	}
	return testdb.Feat(p, base)
}

// Hazards take the bulk path into an empty table: the lifecycle's defaults (status
// reported, reported at the transaction's now()), one history row per hazard, a reject
// report naming each bad row with the good rows loaded under SkipInvalid and nothing
// loaded without it, and all or nothing when the database refuses a row midway.
func TestBulkHazards(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	indexes := map[string]string{"hazards": indexDefs(t, st, "hazards"), "hazard_history": indexDefs(t, st, "hazard_history")}
	sameIndexes := func() {
		t.Helper()
		for table, before := range indexes {
			if after := indexDefs(t, st, table); after != before {
				t.Errorf("%s: indexes and constraints changed:\n%s\nwant\n%s", table, after, before)
			}
		}
	}
	empty := func(what string) {
		t.Helper()
		if n := testdb.Count(t, st, `SELECT (SELECT count(*) FROM hazards) + (SELECT count(*) FROM hazard_history)`); n != 0 {
			t.Errorf("%s: %d hazards and history rows; want none", what, n)
		}
	}
	var feats []*geojson.Feature
	for i := 1; i <= 40; i++ {
		props := map[string]any{}
		if i%2 == 0 {
			props["status"] = "assigned"
			props["reported_at"] = "2026-11-02T08:00:00+08:00"
			props["funds"] = 1234.565 + float64(i)
		}
		feats = append(feats, hazard(fmt.Sprintf("H%02d", i), orb.Point{121.40 + float64(i)*0.004, 31.20}, props))
	}
	bad := append([]*geojson.Feature(nil), feats...)
	bad[9] = hazard("H10", orb.Point{121.44, 31.20}, map[string]any{"level": "严重"})
	bad[29] = hazard("H30", orb.Point{121.52, 31.20}, map[string]any{"deadline": "soon"})

	// Bad rows: the reject report names them, nothing is written.
	_, err := ingest.New(st).Import(ctx, testdb.FC(t, bad...), ingest.ImportOptions{Kind: "hazards"})
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || len(ie.Rejections) != 2 || ie.Rejections[0].Row != 10 || ie.Rejections[0].Field != "level" ||
		ie.Rejections[1].Row != 30 || ie.Rejections[1].Field != "deadline" {
		t.Fatalf("err = %v; want rows 10 (level) and 30 (deadline) refused", err)
	}
	empty("refused import")
	sameIndexes()

	// The database refuses a row midway (a feature kind without a code breaks the table's
	// CHECK, which the row checks leave to it): nothing is written.
	broken := append([]*geojson.Feature(nil), feats...)
	broken[25] = hazard("H26", orb.Point{121.50, 31.20}, map[string]any{"feature_kind": "enterprises"})
	if _, err := ingest.New(st).Import(ctx, testdb.FC(t, broken...), ingest.ImportOptions{Kind: "hazards"}); err == nil || !strings.Contains(err.Error(), "hazards_check") {
		t.Fatalf("err = %v; want the table's check named", err)
	}
	empty("import failed midway")
	sameIndexes()

	// SkipInvalid: the good rows, with their history.
	res, err := ingest.New(st).Import(ctx, testdb.FC(t, bad...), ingest.ImportOptions{Kind: "hazards", SkipInvalid: true, Actor: "loader"})
	if err != nil || res.Inserted != 38 || res.Rejected != 2 || len(res.Rejections) != 2 {
		t.Fatalf("skip invalid: %+v, %v; want 38 inserted, 2 rejected", res, err)
	}
	sameIndexes()
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazards WHERE code IN ('H10', 'H30')`); n != 0 {
		t.Errorf("%d refused hazards loaded", n)
	}
	var txNow, oldest string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT min(reported_at)::text, max(updated_at)::text FROM hazards WHERE status = 'reported'`).Scan(&oldest, &txNow); err != nil {
		t.Fatal(err)
	}
	if oldest != txNow {
		t.Errorf("a hazard without a date was reported at %s; want the import's now() %s", oldest, txNow)
	}
	for _, c := range []struct {
		sql  string
		want int
	}{
		{`SELECT count(*) FROM hazards WHERE status = 'reported' AND version = 1 AND NOT supervised AND funds IS NULL`, 20},
		{`SELECT count(*) FROM hazards WHERE status = 'assigned' AND reported_at = '2026-11-02T00:00:00Z' AND funds = round((1234.565 + substr(code, 2)::int)::numeric, 2)`, 18},
		{`SELECT count(*) FROM hazards WHERE district_code IS NOT NULL AND street_code IS NOT NULL AND h3 <> 0 AND geom_m IS NOT NULL`, 38},
		{`SELECT count(*) FROM hazard_history h JOIN hazards z ON z.district_code = h.district_code AND z.id = h.hazard_id
		   WHERE h.from_status IS NULL AND h.to_status = z.status AND h.actor = 'loader' AND h.note = 'imported' AND h.at = z.reported_at`, 38},
		{`SELECT count(*) FROM hazard_history`, 38},
	} {
		if n := testdb.Count(t, st, c.sql); n != c.want {
			t.Errorf("%s: %d, want %d", c.sql, n, c.want)
		}
	}
	// Loaded now: the next import goes through the SQL path and adds history only for its new rows.
	res, err = ingest.New(st).Import(ctx, testdb.FC(t, feats[9], feats[0]), ingest.ImportOptions{Kind: "hazards"})
	if err != nil || res.Inserted != 1 || res.Updated != 1 {
		t.Fatalf("re-import: %+v, %v; want 1 inserted, 1 updated", res, err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazard_history`); n != 39 {
		t.Errorf("%d history rows after the re-import; want 39", n)
	}
}
