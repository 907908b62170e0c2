package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// Found by FuzzHTTP: what the fuzzer turned up, each kept as a test of its own.

// rawRequest sends request bytes as they are and returns the response and its body.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// A method that is none of HTTP's, and a raw NUL in the request target, are 400 problems
// with the security headers, like every other client mistake: fiber answered the first
// with a text/plain "Invalid http method" and the second with a 404 for an empty path.
func TestUnroutableRequestsAreProblems(t *testing.T) {
	ts := newTestServer(t, nil)
	addr, _ := servedOn(t, ts)
	for _, tc := range []struct{ line, detail string }{
		{"GETT /metrics", "unknown HTTP method"},
		{"G\xffT /api/v1/me", "unknown HTTP method"},
		{"get /healthz", "unknown HTTP method"},
		{"GET /api/v1/hazards/1\x00", "NUL byte"},
		{"GET /ogc/collections/enterprises/items?f=\x00", "NUL byte"},
	} {
		resp, body := rawRequest(t, addr, tc.line+" HTTP/1.1\r\nHost: safegrid\r\nConnection: close\r\n\r\n")
		p := problemOf(t, resp, body, 400)
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%q: %+v", tc.line, p)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%q: no security headers: %v", tc.line, resp.Header)
		}
	}
	// Every method fiber routes is still routed.
	for _, m := range fiber.DefaultMethods {
		if !routableMethod([]byte(m)) {
			t.Errorf("%s is refused", m)
		}
	}
	resp, body := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: safegrid\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}
}

// An imported hazard's funds must fit hazards.funds, numeric(14,2): a larger value, or
// one that rounds up past 999,999,999,999.99, refuses its row naming row and field (it
// failed the whole import with a 500, "numeric field overflow").
func TestImportFundsMustFitTheColumn(t *testing.T) {
	f := newGridFixture(t)
	const header = "code,level,category,description,funds,lon,lat\n"
	file := header + "FZ1,一般,消防安全,描述,1e15,121.45,31.2\n" +
		"FZ2,一般,消防安全,描述,999999999999.995,121.45,31.2\n" +
		"FZ3,一般,消防安全,描述,999999999999.99,121.45,31.2\n"
	hazards := func() int { return testdb.Count(t, f.ts.st, `SELECT count(*) FROM hazards`) }
	before := hazards()
	post := func(query, ct, body string) (*http.Response, []byte) {
		return f.ts.do(t, "POST", "/api/v1/import/hazards"+query, body, "Authorization", f.admin, "Content-Type", ct)
	}
	resp, body := post("", "text/csv", file)
	p := problemOf(t, resp, body, 422)
	if len(p.Errors) != 2 || p.Errors[0].Row != 1 || p.Errors[1].Row != 2 ||
		p.Errors[0].Field != "funds" || p.Errors[1].Field != "funds" || !strings.Contains(p.Errors[0].Reason, "999999999999.99") {
		t.Errorf("CSV: %+v", p)
	}
	if strings.Contains(string(body), "SQLSTATE") || strings.Contains(string(body), "overflow") {
		t.Errorf("database text in the answer: %s", body)
	}
	geojson := `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[121.45,31.2]},
"properties":{"code":"FZ4","level":"一般","category":"c","description":"d","funds":1e13}}]}`
	resp, body = post("", "application/geo+json", geojson)
	p = problemOf(t, resp, body, 422)
	if len(p.Errors) != 1 || p.Errors[0].Row != 1 || p.Errors[0].Field != "funds" {
		t.Errorf("GeoJSON: %+v", p)
	}
	if n := hazards(); n != before {
		t.Fatalf("refused files wrote %d hazards", n-before)
	}
	// skip_invalid loads the row that fits, with its funds to the fen.
	resp, body = post("?skip_invalid=true", "text/csv", file)
	var res ingest.ImportResult
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != 200 || res.Inserted != 1 || res.Rejected != 2 {
		t.Fatalf("skip_invalid: %d %s", resp.StatusCode, body)
	}
	var funds string
	if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT funds::text FROM hazards WHERE code = 'FZ3'`).Scan(&funds); err != nil || funds != "999999999999.99" {
		t.Errorf("FZ3's funds %q (%v)", funds, err)
	}
}

// The largest funds a row may carry is the column's.
func TestFundsFieldLimit(t *testing.T) {
	k, _ := grid.KindByName("hazards")
	funds := k.Fields[k.FieldIndex("funds")]
	for v, ok := range map[any]bool{"999999999999.99": true, 999999999999.99: true, "0": true,
		"999999999999.991": false, 1e12: false, "1e400": false, -0.01: false} {
		if _, err := funds.Convert(v); (err == nil) != ok {
			t.Errorf("%v: %v", v, err)
		}
	}
}

// The coverage routes' district names a loaded district, or it is a 400 naming it, as
// the other analyses' and admin filters' areas are (it was an empty analysis).
func TestCoverageUnknownDistrictIs400(t *testing.T) {
	f := newGridFixture(t)
	for _, path := range []string{
		"/api/v1/analysis/coverage/cells?district=310199",
		"/api/v1/analysis/coverage/tiles.json?district=310199",
		"/api/v1/analysis/coverage/tiles/12/3430/1672.mvt?district=310199",
	} {
		resp, body := f.get(t, f.planner, path, nil)
		p := problemOf(t, resp, body, 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != "district" {
			t.Errorf("%s: %+v", path, p)
		}
	}
	resp, body := f.get(t, f.planner, "/api/v1/analysis/coverage/cells?district=31019x", nil)
	if p := problemOf(t, resp, body, 422); len(p.Errors) != 1 || p.Errors[0].Field != "district" {
		t.Errorf("malformed district: %+v", p)
	}
	for _, path := range []string{"/api/v1/analysis/coverage/cells?district=310101", "/api/v1/analysis/coverage/tiles.json?district=310101"} {
		if resp, body := f.get(t, f.planner, path, nil); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// A CQL2 date of the year 0000 (time.Parse takes it, PostgreSQL's text input does not)
// is compared like any other date: it was a 500, "date/time field value out of range".
// Found by probing the corner cases FuzzHTTP's seeds did not reach.
func TestFilterDateOfYearZero(t *testing.T) {
	f := newGridFixture(t)
	all := f.items(t, f.admin, "/ogc/collections/hazards/items").NumberMatched
	for _, filter := range []string{
		"filter=" + url.QueryEscape("deadline > DATE('0000-01-01')"),
		"filter=" + url.QueryEscape("deadline > '0000-01-01'"), // GDAL writes dates as strings
		"filter-lang=cql2-json&filter=" + url.QueryEscape(`{"op":">","args":[{"property":"deadline"},{"date":"0000-01-01"}]}`),
	} {
		if p := f.items(t, f.admin, "/ogc/collections/hazards/items?"+filter); p.NumberMatched != all || all == 0 {
			t.Errorf("%s: %d of %d hazards", filter, p.NumberMatched, all)
		}
	}
	if p := f.items(t, f.admin, "/ogc/collections/hazards/items?filter="+url.QueryEscape("deadline < DATE('0000-12-31')")); p.NumberMatched != 0 {
		t.Errorf("before the year 1: %d hazards", p.NumberMatched)
	}
}
