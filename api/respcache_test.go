package api

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb/maptile"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// lookups is the count of kept-route lookups with result.
func (ts *testServer) lookups(result string) int {
	return int(testutil.ToFloat64(ts.kept.lookups.WithLabelValues(result)))
}

// A kept answer is sent again until a write changes the data under it, and only to
// callers of the same scope: another street office, an officer who lost the cell, a
// signed-out token are refused as if nothing were kept.
func TestKeptAnswersFollowDataAndScope(t *testing.T) {
	f := newGridFixture(t)
	ts := f.ts
	ctx := context.Background()
	list := "/api/v1/streets/" + f.streetA + "/hazards?sort=reported_at"

	var l1 hazardList
	resp, b1 := f.get(t, f.sta, list, &l1)
	if resp.StatusCode != 200 || ts.lookups("miss") != 1 {
		t.Fatalf("first: %d, misses %d: %s", resp.StatusCode, ts.lookups("miss"), b1)
	}
	etag := resp.Header.Get("ETag")
	resp, b2 := f.get(t, f.sta, list, nil)
	if resp.StatusCode != 200 || !bytes.Equal(b1, b2) || ts.lookups("hit") != 1 || resp.Header.Get("ETag") != etag {
		t.Fatalf("second: %d, hits %d, same body %v, ETag %q then %q", resp.StatusCode, ts.lookups("hit"), bytes.Equal(b1, b2), etag, resp.Header.Get("ETag"))
	}
	if resp.Header.Get("Content-Type") != fiber.MIMEApplicationJSON {
		t.Errorf("kept answer headers: %v", resp.Header)
	}
	// The request id is this request's, not the one of the request that made the answer.
	resp, _ = ts.do(t, "GET", list, "", "Authorization", f.sta, "X-Request-ID", "kept-1")
	resp2, _ := ts.do(t, "GET", list, "", "Authorization", f.sta, "X-Request-ID", "kept-2")
	if resp.Header.Get("X-Request-ID") != "kept-1" || resp2.Header.Get("X-Request-ID") != "kept-2" || ts.lookups("hit") != 3 {
		t.Errorf("request ids %q, %q; hits %d", resp.Header.Get("X-Request-ID"), resp2.Header.Get("X-Request-ID"), ts.lookups("hit"))
	}
	resp, body := ts.do(t, "GET", list, "", "Authorization", f.sta, "If-None-Match", etag)
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match: %d %q", resp.StatusCode, body)
	}

	// An inspection does not change a hazard list: the answer stays kept.
	if _, err := testdb.DB(ts.st).Exec(ctx, `INSERT INTO inspections (district_code, enterprise_id, inspected_at, result, h3, geom)
		SELECT district_code, id, now(), 'passed', h3, geom FROM enterprises WHERE uscc = $1`, f.uscc["E1"]); err != nil {
		t.Fatal(err)
	}
	hits := ts.lookups("hit")
	if resp, body := f.get(t, f.sta, list, nil); resp.StatusCode != 200 || !bytes.Equal(body, b1) || ts.lookups("hit") != hits+1 {
		t.Errorf("after an inspection: %d, hits %d (were %d)", resp.StatusCode, ts.lookups("hit"), hits)
	}

	// Another street office is refused street A (not found), kept answer or not.
	resp, body = f.get(t, f.stb, list, nil)
	problemOf(t, resp, body, 404)

	// A write to hazards (any path: here plain SQL) shows in the very next request.
	if _, err := testdb.DB(ts.st).Exec(ctx, `UPDATE hazards SET status = 'registered', version = version + 1 WHERE id = $1`, f.hazardID["H1"]); err != nil {
		t.Fatal(err)
	}
	var l2 hazardList
	if resp, body := f.get(t, f.sta, list, &l2); resp.StatusCode != 200 || len(l2.Items) == 0 {
		t.Fatalf("after the write: %d %s", resp.StatusCode, body)
	}
	if l1.Items[0].Code != "H1" || l1.Items[0].Status != "reported" || l2.Items[0].Code != "H1" || l2.Items[0].Status != "registered" {
		t.Errorf("H1 before %+v, after %+v", l1.Items[0], l2.Items[0])
	}

	// The officer's cell: kept for them, refused to an officer without it, and refused to
	// them once the unit is given to someone else.
	cell := "/api/v1/cells/" + f.c1.String()
	for range 2 {
		if resp, body := f.get(t, f.off1, cell, nil); resp.StatusCode != 200 {
			t.Fatalf("officer's cell: %d %s", resp.StatusCode, body)
		}
	}
	off3 := ts.login(t, "off3")
	resp, body = f.get(t, off3, cell, nil)
	problemOf(t, resp, body, 404)
	if err := supervise.New(ts.st).AssignUnit(ctx, "test", "U1", "off3"); err != nil {
		t.Fatal(err)
	}
	resp, body = f.get(t, f.off1, cell, nil)
	problemOf(t, resp, body, 404)
	if resp, body := f.get(t, off3, cell, nil); resp.StatusCode != 200 {
		t.Fatalf("the new officer: %d %s", resp.StatusCode, body)
	}

	// A signed-out token gets nothing kept.
	if resp, body := ts.do(t, "POST", "/api/v1/auth/logout", "", "Authorization", f.sta); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	resp, body = f.get(t, f.sta, list, nil)
	problemOf(t, resp, body, 401)
}

// A tile is kept across writes to other tables (a hazard report leaves the enterprise
// tile alone) and made again after a write to its own.
func TestKeptTileDependsOnItsTables(t *testing.T) {
	f := newGridFixture(t)
	ts := f.ts
	ctx := context.Background()
	tile := maptile.At(centre(f.c1, 0, 0), 14)
	_, etag := f.tileOf(t, f.planner, "enterprises", tile)
	if _, err := testdb.DB(ts.st).Exec(ctx, `UPDATE hazards SET description = 'x' WHERE id = $1`, f.hazardID["H2"]); err != nil {
		t.Fatal(err)
	}
	hits := ts.lookups("hit")
	if _, e := f.tileOf(t, f.planner, "enterprises", tile); e != etag || ts.lookups("hit") != hits+1 {
		t.Errorf("after a hazard write: ETag %q (was %q), hits %d (were %d)", e, etag, ts.lookups("hit"), hits)
	}
	// The admin has a scope of their own: their first request is made, not sent from the
	// planner's.
	misses := ts.lookups("miss")
	if _, e := f.tileOf(t, f.admin, "enterprises", tile); e != etag || ts.lookups("miss") != misses+1 {
		t.Errorf("admin: ETag %q, misses %d (were %d)", e, ts.lookups("miss"), misses)
	}
	if _, err := testdb.DB(ts.st).Exec(ctx, `UPDATE enterprises SET name = '改名企业' WHERE uscc = $1`, f.uscc["E1"]); err != nil {
		t.Fatal(err)
	}
	layers, e := f.tileOf(t, f.planner, "enterprises", tile)
	if e == etag {
		t.Fatal("the tile was not made again after an enterprise changed")
	}
	var names []string
	for _, ft := range layers[0].Features {
		names = append(names, fmt.Sprint(ft.Properties["name"]))
	}
	if !strings.Contains(strings.Join(names, ","), "改名企业") {
		t.Errorf("names in the tile: %v", names)
	}
}

// Requests for the same answer that arrive while it is being made wait for it: the
// handler runs once. A refusal or error is never kept, and each request makes its own.
func TestKeptAnswerMadeOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "plan", grid.RolePlanner, "")
	auth := ts.login(t, "plan")
	var runs atomic.Int32
	fail := atomic.Bool{}
	ts.route(fiber.MethodGet, "/api/v1/test/slow", Operation{Summary: "test", Keep: keepAll}, func(c *fiber.Ctx) error {
		runs.Add(1)
		time.Sleep(300 * time.Millisecond)
		if fail.Load() {
			return Problem(fiber.StatusConflict, "", "not now")
		}
		return c.JSON(map[string]int32{"run": runs.Load()})
	})
	get := func(n int) []string {
		out := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, body := ts.do(t, "GET", "/api/v1/test/slow", "", "Authorization", auth)
				out[i] = fmt.Sprint(resp.StatusCode, " ", string(body))
			})
		}
		wg.Wait()
		return out
	}
	for _, got := range get(6) {
		if got != `200 {"run":1}` {
			t.Errorf("answer %q", got)
		}
	}
	if runs.Load() != 1 || ts.lookups("miss") != 1 || ts.lookups("shared")+ts.lookups("hit") != 5 {
		t.Errorf("handler ran %d times; misses %d, shared %d, hits %d", runs.Load(), ts.lookups("miss"), ts.lookups("shared"), ts.lookups("hit"))
	}

	// A write anywhere (all tables: keepAll) makes the answer again; a refusal is not kept.
	ts.addUser(t, "someone", grid.RoleAdmin, "")
	fail.Store(true)
	runs.Store(0)
	for _, got := range get(3) {
		if !strings.HasPrefix(got, "409 ") {
			t.Errorf("answer %q", got)
		}
	}
	if runs.Load() < 2 {
		t.Errorf("a refusal was shared: the handler ran %d times for 3 requests", runs.Load())
	}
	fail.Store(false)
	if got := get(1)[0]; !strings.HasPrefix(got, "200 ") {
		t.Errorf("after the refusal: %q", got)
	}
}

// With the cache turned off every request is made.
func TestKeptAnswersOff(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.ResponseCacheMB = -1 })
	if ts.kept != nil {
		t.Fatal("a cache with ResponseCacheMB -1")
	}
	ts.addUser(t, "plan", grid.RolePlanner, "")
	auth := ts.login(t, "plan")
	for range 2 {
		if resp, body := ts.do(t, "GET", "/tiles/areas/10/857/418.mvt", "", "Authorization", auth); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
}

// The cache holds at most its bytes, dropping the least recently used answer.
func TestRespCacheBound(t *testing.T) {
	rc := newRespCache(8 << 10)
	r := func(n int) *keptResponse { return &keptResponse{body: make([]byte, n), etag: `"x"`} }
	rc.put("a", r(700))
	rc.put("b", r(700))
	rc.put("big", r(2<<10)) // over an eighth: not kept
	if rc.get("big") != nil || rc.get("a") == nil {
		t.Fatal("big kept or a lost")
	}
	for i := range 10 {
		rc.put(fmt.Sprint("k", i), r(700))
	}
	if rc.bytes > rc.max || rc.get("b") != nil || rc.get("k9") == nil {
		t.Errorf("bytes %d of %d; b kept %v; k9 kept %v", rc.bytes, rc.max, rc.get("b") != nil, rc.get("k9") != nil)
	}
	rc.put("k9", r(100)) // replacing counts the new size only
	var sum int64
	for _, k := range rc.lru.Keys() {
		v, _ := rc.lru.Peek(k)
		sum += v.size()
	}
	if sum != rc.bytes {
		t.Errorf("bytes %d, entries sum to %d", rc.bytes, sum)
	}
}

// TileJSON carries absolute links, so a server reached under two names keeps one answer
// for each.
func TestKeptTileJSONPerHost(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "plan", grid.RolePlanner, "")
	auth := ts.login(t, "plan")
	for range 2 {
		// A trusted proxy's forwarded host is in the links, so in the key; an untrusted
		// Host is not (TestLinksOnThePublicURL), so it needs no key of its own.
		for _, host := range []string{"a.example", "b.example:8080"} {
			resp, body := ts.do(t, "GET", "http://"+host+"/tiles/areas.json", "", "Authorization", auth, "X-Forwarded-Host", host)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"http://`+host+`/tiles/areas/{z}/{x}/{y}.mvt"`) {
				t.Errorf("%s: %d %s", host, resp.StatusCode, body)
			}
		}
	}
	if ts.lookups("miss") != 2 || ts.lookups("hit") != 2 {
		t.Errorf("misses %d, hits %d", ts.lookups("miss"), ts.lookups("hit"))
	}
}
