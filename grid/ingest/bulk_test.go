package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// indexDefs lists a table's indexes and constraints, to see that a bulk load leaves them
// as it found them.
func indexDefs(t *testing.T, st *grid.Store, table string) string {
	t.Helper()
	var s string
	err := testdb.DB(st).QueryRow(context.Background(), `
SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT indexdef AS d FROM pg_indexes WHERE tablename = $1
  UNION ALL
  SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass) x`, table).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An import into an empty table takes the bulk path (indexes dropped and rebuilt, settled
// rows copied straight in, the rest through staging); the result must be the same.
func TestBulkImportEmptyTable(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	before := indexDefs(t, st, "gas_occupancy_sites")

	bowtie := orb.Polygon{{{121.470, 31.230}, {121.475, 31.235}, {121.475, 31.230}, {121.470, 31.235}, {121.470, 31.230}}}
	site := func(code string) map[string]any {
		return map[string]any{"code": code, "occupant": "违章建筑", "status": "待整治"}
	}
	data := testdb.FC(t,
		testdb.Feat(peoplesSquare, site("S1")),
		testdb.Feat(bowtie, site("S2")), // needs ST_MakeValid: goes through staging
		testdb.Feat(lujiazui, site("S3")),
	)
	res, err := ingest.New(st).Import(ctx, data, ingest.ImportOptions{Kind: "gas_occupancy_sites", Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 3 || res.Updated != 0 || res.Rejected != 0 {
		t.Fatalf("result %+v, want 3 inserted", res)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM gas_occupancy_sites WHERE ST_IsValid(geom) AND district_code IS NOT NULL AND h3_cells IS NOT NULL`); n != 3 {
		t.Errorf("%d good rows, want 3", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM gas_occupancy_sites WHERE code = 'S2' AND ST_GeometryType(geom) = 'ST_MultiPolygon' AND district_code = '310101'`); n != 1 {
		t.Errorf("the repaired site is not a multipolygon in 黄浦")
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM gas_occupancy_sites WHERE code = 'S1' AND ST_SRID(geom) = 4326 AND district_code = '310101' AND street_code IS NOT NULL`); n != 1 {
		t.Errorf("the site copied straight in is not tagged in 黄浦 with SRID 4326")
	}
	if after := indexDefs(t, st, "gas_occupancy_sites"); after != before {
		t.Errorf("indexes and constraints changed:\n%s\nwant\n%s", after, before)
	}

	// The table is no longer empty: the usual path updates.
	res, err = ingest.New(st).Import(ctx, testdb.FC(t, testdb.Feat(peoplesSquare, site("S1"))), ingest.ImportOptions{Kind: "gas_occupancy_sites"})
	if err != nil || res.Updated != 1 || res.Inserted != 0 {
		t.Fatalf("re-import: %+v, %v; want 1 updated", res, err)
	}
}

// A refused bulk import writes nothing and leaves the dropped indexes in place.
func TestBulkImportRefusedKeepsIndexes(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	before := indexDefs(t, st, "enterprises")
	bad := enterprise(t, 2, lujiazui)
	bad.Properties["industry"] = "化工"
	_, err := ingest.New(st).Import(ctx, testdb.FC(t, enterprise(t, 1, peoplesSquare), bad), ingest.ImportOptions{Kind: "enterprises"})
	if err == nil || !strings.Contains(err.Error(), "nothing imported") {
		t.Fatalf("err = %v, want an ImportError", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM enterprises`); n != 0 {
		t.Errorf("%d enterprises after a refused import", n)
	}
	if after := indexDefs(t, st, "enterprises"); after != before {
		t.Errorf("indexes and constraints changed:\n%s\nwant\n%s", after, before)
	}
	// With SkipInvalid the good row is loaded.
	res, err := ingest.New(st).Import(ctx, testdb.FC(t, enterprise(t, 1, peoplesSquare), bad), ingest.ImportOptions{Kind: "enterprises", SkipInvalid: true})
	if err != nil || res.Inserted != 1 || res.Rejected != 1 {
		t.Fatalf("skip invalid: %+v, %v", res, err)
	}
	if after := indexDefs(t, st, "enterprises"); after != before {
		t.Errorf("indexes and constraints changed:\n%s\nwant\n%s", after, before)
	}
}

// The bulk path turns the row-by-row foreign-key checks off and checks each key once at
// the end: a row pointing at no area must still fail the import, naming the key.
func TestBulkForeignKeysCheckedOnce(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	tx, err := testdb.DB(st).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	deferred, check, err := ingest.DeferForeignKeys(ctx, tx, "enterprises")
	if err != nil {
		t.Fatal(err)
	}
	if !deferred {
		t.Skip("the test role may not set session_replication_role; the keys stay row by row")
	}
	ins := `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, h3, geom)
VALUES ($1, '91310101MA1FL0XX1B', 'x', '其他', '低', 1, ST_SetSRID(ST_MakePoint(121.47, 31.23), 4326))`
	var v0, v1 int64
	if err := tx.QueryRow(ctx, `SELECT version FROM data_versions WHERE name = 'enterprises'`).Scan(&v0); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, ins, "310101"); err != nil {
		t.Fatal(err)
	}
	// The data-version trigger is ENABLE ALWAYS: it fires with the other triggers off.
	if err := tx.QueryRow(ctx, `SELECT version FROM data_versions WHERE name = 'enterprises'`).Scan(&v1); err != nil || v1 <= v0 {
		t.Fatalf("data version %d -> %d (%v); want a step up", v0, v1, err)
	}
	if err := check(); err != nil {
		t.Fatalf("a good row: %v", err)
	}
	var role string
	if err := tx.QueryRow(ctx, "SHOW session_replication_role").Scan(&role); err != nil || role != "origin" {
		t.Fatalf("session_replication_role after the check = %q, %v; want origin", role, err)
	}

	// (The first transaction holds the data-version row until it ends: writers of a table
	// take turns on it.)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	tx2, err := testdb.DB(st).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)
	_, check2, err := ingest.DeferForeignKeys(ctx, tx2, "enterprises")
	if err != nil {
		t.Fatal(err)
	}
	// With the triggers off the INSERT of a district that does not exist goes through ...
	if _, err := tx2.Exec(ctx, strings.Replace(ins, "MA1FL0XX1B", "MA1FL0XX2B", 1), "310199"); err != nil {
		t.Fatal(err)
	}
	// ... and the check at the end refuses it.
	err = check2()
	if err == nil || !strings.Contains(err.Error(), "310199") || !strings.Contains(err.Error(), "areas") {
		t.Fatalf("check = %v; want the missing district 310199 named", err)
	}
}

// The bulk path writes its own binary COPY; the SQL path (staging, then UPDATE) writes
// through PostgreSQL's own conversions. Importing the demo's files into empty tables and
// then again (every row updated from staging) must leave every column as it was (but a
// hazard's version, which each update counts).
func TestBulkWritesWhatSQLWrites(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	dir := t.TempDir()
	m, err := demo.Generate(demo.Options{Scale: 0.02, Seed: 5, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	load := func(kind, path string) *ingest.ImportResult {
		t.Helper()
		return demoImport(ctx, t, st, dir, kind, path)
	}
	dump := func(table string) []string {
		t.Helper()
		return queryTexts(t, st, "SELECT (to_jsonb(t) - 'id' - 'updated_at' - 'version')::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
	}
	tested := 0
	for _, f := range m.Files {
		k, ok := grid.KindByName(f.Kind)
		if !ok {
			continue // users, grid units and cells are not import kinds
		}
		first := load(f.Kind, f.Path)
		if f.Kind == "areas" {
			continue
		}
		before := dump(k.Table)
		second := load(f.Kind, f.Path)
		if first.Inserted == 0 || second.Updated != first.Inserted {
			t.Fatalf("%s: first import %+v, second %+v; want every row inserted, then updated", f.Kind, first, second)
		}
		after := dump(k.Table)
		if len(after) != len(before) {
			t.Fatalf("%s: %d rows, then %d", f.Kind, len(before), len(after))
		}
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("%s: the bulk path wrote\n%s\nthe SQL path\n%s", f.Kind, before[i], after[i])
			}
		}
		tested++
	}
	if tested < 7 {
		t.Fatalf("compared %d kinds; want the six feature kinds and hazards", tested)
	}
}

// demoImport imports the file path of the demo written to dir, of kind, into st, as "test".
func demoImport(ctx context.Context, t *testing.T, st *grid.Store, dir, kind, path string) *ingest.ImportResult {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format := ingest.FormatGeoJSON
	if strings.HasSuffix(path, ".csv") {
		format = ingest.FormatCSV
	}
	res, err := ingest.New(st).Import(ctx, f, ingest.ImportOptions{Kind: kind, Format: format, Actor: "test"})
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return res
}

// queryTexts runs q, which selects one text column, ordered by it.
func queryTexts(t *testing.T, st *grid.Store, q string) []string {
	t.Helper()
	rows, err := testdb.DB(st).Query(context.Background(), q+" ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
