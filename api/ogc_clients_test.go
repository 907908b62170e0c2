package api

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"safegrid/grid/testdb"
)

// clientTool finds a client program the tests drive; without it the test fails under CI
// (scripts/test-deps.sh installs it) and is skipped elsewhere.
func clientTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (scripts/test-deps.sh installs %s)", name, pkg)
		}
		t.Skipf("%s is missing: run scripts/test-deps.sh (apt-get install %s)", name, pkg)
	}
	return p
}

// TestOGCFilterWithGDAL: GDAL's OAPIF driver, given an attribute filter (-where), finds in
// /ogc/api that the server takes CQL text and sends the filter to it instead of reading
// everything; what it reads is the SQL selection, in the officer's scope too. ogr2ogr
// writes it out in CGCS2000 (-t_srs EPSG:4490) with the coordinates PostGIS computes.
func TestOGCFilterWithGDAL(t *testing.T) {
	ogrinfo := clientTool(t, "ogrinfo", "gdal-bin")
	ogr2ogr := clientTool(t, "ogr2ogr", "gdal-bin")
	f := filterFixture(t)
	addr, _ := servedOn(t, f.ts)
	// gdal runs a GDAL program with debugging on; it returns its output and, apart, the
	// debug messages (which name every URL fetched).
	gdal := func(prog, user string, args ...string) (string, string) {
		t.Helper()
		all := append([]string{"--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", user + ":password-" + user,
			"--config", "GDAL_HTTP_TIMEOUT", "30", "--debug", "on"}, args...)
		cmd := exec.Command(prog, all...)
		cmd.Env = append(os.Environ(), "GDAL_HTTP_MAX_RETRY=0")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s\n%s\nservice log:\n%s", prog, args, err, out, stderr.String(), f.ts.logs.String())
		}
		return string(out), stderr.String()
	}
	const where = "risk_level = '重大' AND employees > 100"
	for _, sc := range []struct{ user, scope string }{
		{"adm", "true"},
		{"off1", "h3 IN (SELECT c FROM officer_cells((SELECT id FROM users WHERE username = 'off1')) AS c)"},
	} {
		out, debug := gdal(ogrinfo, sc.user, "-ro", "-al", "-q", "OAPIF:http://"+addr+"/ogc", "enterprises", "-where", where)
		if !strings.Contains(debug, "filter-lang=cql-text") || !strings.Contains(debug, "filter=") || strings.Contains(debug, "evaluated on client side") {
			t.Errorf("GDAL did not send the filter to the server as %s:\n%s", sc.user, debug)
		}
		var got []string
		for _, m := range regexp.MustCompile(`(?m)^\s+uscc \(String\) = (\S+)$`).FindAllStringSubmatch(out, -1) {
			got = append(got, m[1])
		}
		slices.Sort(got)
		var want []string
		for _, id := range f.sqlIDs(t, "SELECT id FROM enterprises WHERE ("+sc.scope+") AND "+where+" ORDER BY uscc") {
			var u string
			if err := testdb.DB(f.ts.st).QueryRow(t.Context(), "SELECT uscc FROM enterprises WHERE id = $1", id).Scan(&u); err != nil {
				t.Fatal(err)
			}
			want = append(want, u)
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("GDAL read %v as %s, SQL selects %v\n%s", got, sc.user, want, regexp.MustCompile(`(?m)^HTTP: Fetch.*$`).FindAllString(debug, -1))
		}
	}

	dst := filepath.Join(t.TempDir(), "major.geojson")
	gdal(ogr2ogr, "adm", "-f", "GeoJSON", "-t_srs", "EPSG:4490", dst, "OAPIF:http://"+addr+"/ogc", "enterprises", "-where", where)
	raw, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties struct{ USCC string }
			Geometry   struct{ Coordinates [2]float64 }
		}
	}
	if err := json.Unmarshal(raw, &fc); err != nil {
		t.Fatal(err)
	}
	if len(fc.Features) == 0 {
		t.Fatalf("ogr2ogr wrote no features: %.500s", raw)
	}
	for _, ft := range fc.Features {
		var x, y float64
		if err := testdb.DB(f.ts.st).QueryRow(t.Context(), `SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, 4490) AS g FROM enterprises WHERE uscc = $1) a`, ft.Properties.USCC).Scan(&x, &y); err != nil {
			t.Fatal(err)
		}
		if c := ft.Geometry.Coordinates; math.Abs(c[0]-x) > 1e-7 || math.Abs(c[1]-y) > 1e-7 {
			t.Errorf("%s in EPSG:4490: %v, PostGIS %v %v", ft.Properties.USCC, c, x, y)
		}
	}
}

// owslibScript reads the service with OWSLib (the Python client most scripts use): the
// queryables, a CQL2 filter with sortby paged by offset, and a page in CGCS2000.
const owslibScript = `
import json, sys
from owslib.ogcapi.features import Features
from owslib.util import Authentication
url, user, pw, flt, sortby = sys.argv[1:6]
w = Features(url, auth=Authentication(user, pw))
q = w.collection_queryables('enterprises')
ids, offset = [], 0
while True:
    page = w.collection_items('enterprises', filter=flt, sortby=sortby, limit=7, offset=offset, **{'filter-lang': 'cql2-text'})
    ids += [f['id'] for f in page['features']]
    offset += 7
    if offset >= page['numberMatched']:
        break
cgcs = w.collection_items('enterprises', filter=flt, sortby=sortby, limit=1, crs='http://www.opengis.net/def/crs/EPSG/0/4490')
print(json.dumps({'queryables': sorted(q['properties']), 'risk_levels': q['properties']['risk_level']['enum'],
                  'ids': ids, 'matched': page['numberMatched'], 'first': cgcs['features'][0]}))
`

// TestOGCWithOWSLib: OWSLib reads the queryables, pages a filtered and sorted selection and
// asks for CGCS2000; each answer is compared with SQL.
func TestOGCWithOWSLib(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, which python3-owslib installs into
	if err := exec.Command(py, "-c", "import owslib").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("OWSLib is missing (scripts/test-deps.sh installs python3-owslib)")
		}
		t.Skip("OWSLib is missing: run scripts/test-deps.sh (apt-get install python3-owslib)")
	}
	f := filterFixture(t)
	addr, _ := servedOn(t, f.ts)
	script := filepath.Join(t.TempDir(), "read.py")
	if err := os.WriteFile(script, []byte(owslibScript), 0o600); err != nil {
		t.Fatal(err)
	}
	const flt = "risk_level IN ('重大', '较大') AND S_INTERSECTS(geom, BBOX(121.40, 31.18, 121.48, 31.25))"
	cmd := exec.Command(py, script, "http://"+addr+"/ogc", "plan", "password-plan", flt, "-employees,name")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("owslib: %v\n%s\nservice log:\n%s", err, out, f.ts.logs.String())
	}
	var got struct {
		Queryables []string
		RiskLevels []string `json:"risk_levels"`
		IDs        []int64
		Matched    int
		First      struct {
			ID       int64
			Geometry struct{ Coordinates [2]float64 }
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !slices.Contains(got.Queryables, "risk_level") || !slices.Contains(got.Queryables, "geom") || !slices.Equal(got.RiskLevels, []string{"重大", "较大", "一般", "低"}) {
		t.Errorf("queryables through OWSLib: %v %v", got.Queryables, got.RiskLevels)
	}
	want := f.sqlIDs(t, `SELECT id FROM enterprises WHERE risk_level IN ('重大', '较大')
		AND ST_Intersects(geom, ST_MakeEnvelope(121.40, 31.18, 121.48, 31.25, 4326)) ORDER BY employees DESC NULLS LAST, name, id`)
	if !slices.Equal(got.IDs, want) || got.Matched != len(want) || len(want) < 8 {
		t.Errorf("OWSLib read %v (numberMatched %d), SQL %v", got.IDs, got.Matched, want)
	}
	var lat, lon float64
	if err := testdb.DB(f.ts.st).QueryRow(t.Context(), `SELECT ST_Y(g), ST_X(g) FROM (SELECT ST_Transform(geom, 4490) AS g FROM enterprises WHERE id = $1) a`, got.First.ID).Scan(&lat, &lon); err != nil {
		t.Fatal(err)
	}
	if c := got.First.Geometry.Coordinates; got.First.ID != want[0] || math.Abs(c[0]-lat) > 1e-7 || math.Abs(c[1]-lon) > 1e-7 {
		t.Errorf("first feature in EPSG:4490 (lat, lon): %d %v, want %d %s", got.First.ID, c, want[0], strconv.FormatFloat(lat, 'f', 7, 64)+" "+fmt.Sprint(lon))
	}
}
