package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// run executes the CLI in-process, as a user would type it.
func run(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--database-url", url}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestMigrateCommandIsIdempotent(t *testing.T) {
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)
	out, err := run(t, url, "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate on a migrated database: %q, %v", out, err)
	}
}

func TestImportCommandReportsRejects(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	url := testdb.URL(t, st)
	dir := t.TempDir()
	file := filepath.Join(dir, "stations.csv")
	data := "code,name,type,status,vehicles,lon,lat\n" +
		"FS-1,人民广场消防站,一级普通,existing,5,121.4737,31.2304\n" +
		"FS-2,颠倒消防站,一级普通,existing,5,31.2304,121.4737\n" +
		"FS-3,海上消防站,特勤,existing,5,122.6,30.9\n" +
		"FS-4,未知消防站,超大型,existing,5,121.40,31.10\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}

	// Without --skip-invalid: an error naming rows and fields, and nothing written.
	_, err := run(t, url, "import", "--kind", "fire_stations", file)
	if err == nil || !strings.Contains(err.Error(), `row 2, field "geometry"`) || !strings.Contains(err.Error(), `row 4, field "type"`) {
		t.Fatalf("err = %v", err)
	}
	if n := countRows(t, st, "fire_stations"); n != 0 {
		t.Fatalf("%d stations written by a failed import", n)
	}

	out, err := run(t, url, "import", "--kind", "fire_stations", "--skip-invalid", file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "4 rows read, 1 inserted, 0 updated, 3 rejected") {
		t.Errorf("output %q", out)
	}
	f, err := os.Open(file + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"row", "field"}, {"2", "geometry"}, {"3", "geometry"}, {"4", "type"}}
	if len(recs) != len(want) {
		t.Fatalf("report %v", recs)
	}
	for i, w := range want {
		if recs[i][0] != w[0] || recs[i][1] != w[1] || recs[i][2] == "" {
			t.Errorf("report row %d = %v, want %v", i, recs[i], w)
		}
	}
	if n := countRows(t, st, "fire_stations"); n != 1 {
		t.Errorf("%d stations, want 1", n)
	}
}

func TestImportCommandRejectsUnknownKindAndCRS(t *testing.T) {
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)
	file := filepath.Join(t.TempDir(), "x.csv")
	_ = os.WriteFile(file, []byte("lon,lat\n"), 0o644)
	if _, err := run(t, url, "import", "--kind", "restaurants", file); err == nil || !strings.Contains(err.Error(), `unknown kind "restaurants"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := run(t, url, "import", "--kind", "enterprises", "--crs", "epsg:3857", file); err == nil || !strings.Contains(err.Error(), "3857") {
		t.Errorf("unknown CRS: %v", err)
	}
}

func countRows(t *testing.T, st *grid.Store, table string) int {
	t.Helper()
	var n int
	if err := testdb.DB(st).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
