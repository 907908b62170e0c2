package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// The lifecycle tests run on testdb.TwoStreets (shared with grid's).
const (
	westStreet = testdb.WestStreet
	eastStreet = testdb.EastStreet
)

var (
	westSouth = testdb.WestSouth
	westNorth = testdb.WestNorth
	eastPoint = testdb.EastPoint
)

func cellOf(p orb.Point) string { return geo.PointCell(p, geo.SupervisionRes).String() }

// addHazard inserts a reported hazard at p, tagged with its areas, and returns its id.
func addHazard(t *testing.T, st *grid.Store, level string, p orb.Point) int64 {
	t.Helper()
	return testdb.AddHazard(t, st, level, p)
}

// lifecycleServer is a server on two streets with one user of each kind: ann (admin),
// pei (planner), zhou (west street), li (east street), wang (officer of unit W1, which
// holds the cells of westSouth and westNorth) and zhao (officer without units).
type lifecycleServer struct {
	*testServer
	auth map[string]string
}

func newLifecycleServer(t *testing.T) *lifecycleServer {
	t.Helper()
	ts := serverOn(t, testdb.New(t, testdb.TwoStreets), nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	ts.addUser(t, "pei", grid.RolePlanner, "")
	ts.addUser(t, "zhou", grid.RoleStreet, westStreet)
	ts.addUser(t, "li", grid.RoleStreet, eastStreet)
	ts.addUser(t, "wang", grid.RoleOfficer, "")
	ts.addUser(t, "zhao", grid.RoleOfficer, "")
	ctx := context.Background()
	if err := supervise.New(ts.st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "W1", Name: "西一网格", StreetCode: westStreet,
		Cells: []string{cellOf(westSouth), cellOf(westNorth)}}); err != nil {
		t.Fatal(err)
	}
	if err := supervise.New(ts.st).AssignUnit(ctx, "test", "W1", "wang"); err != nil {
		t.Fatal(err)
	}
	ls := &lifecycleServer{testServer: ts, auth: map[string]string{}}
	for _, u := range []string{"ann", "pei", "zhou", "li", "wang", "zhao"} {
		ls.auth[u] = ts.login(t, u)
	}
	return ls
}

func (ls *lifecycleServer) as(t *testing.T, user, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	return ls.do(t, method, path, body, "Authorization", ls.auth[user], "Content-Type", "application/json")
}

// step asks user to move hazard id to `to` from version; extra is more JSON members.
func (ls *lifecycleServer) step(t *testing.T, user string, id int64, to string, version int, extra string) (*http.Response, []byte) {
	t.Helper()
	body := fmt.Sprintf(`{"to":%q,"version":%d%s}`, to, version, extra)
	return ls.as(t, user, "POST", fmt.Sprintf("/api/v1/hazards/%d/transition", id), body)
}

// mustStep makes a step that must succeed and returns the new version.
func (ls *lifecycleServer) mustStep(t *testing.T, user string, id int64, to string, version int, extra string) int {
	t.Helper()
	resp, body := ls.step(t, user, id, to, version, extra)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s → %s: %d %s", user, to, to, resp.StatusCode, body)
	}
	var h supervise.HazardDetail
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != to || h.Version != version+1 {
		t.Fatalf("after %s: status %s version %d", to, h.Status, h.Version)
	}
	return h.Version
}

func (ls *lifecycleServer) hazard(t *testing.T, user string, id int64) supervise.HazardDetail {
	t.Helper()
	resp, body := ls.as(t, user, "GET", fmt.Sprintf("/api/v1/hazards/%d", id), "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET hazard %d as %s: %d %s", id, user, resp.StatusCode, body)
	}
	var h supervise.HazardDetail
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func fields(p problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	slices.Sort(out)
	return out
}

var tomorrow = time.Now().AddDate(0, 0, 2).Format(time.DateOnly)

func TestHazardLifecycle(t *testing.T) {
	ls := newLifecycleServer(t)
	id := addHazard(t, ls.st, "一般", westSouth)
	path := fmt.Sprintf("/api/v1/hazards/%d", id)

	// Reading: in scope for the admin, the planner, the west street and wang; not for the
	// east street or an officer without the cell.
	for user, want := range map[string]int{"ann": 200, "pei": 200, "zhou": 200, "wang": 200, "li": 404, "zhao": 404} {
		resp, body := ls.as(t, user, "GET", path, "")
		if resp.StatusCode != want {
			t.Errorf("GET as %s: %d, want %d: %s", user, resp.StatusCode, want, body)
		}
	}
	resp, body := ls.as(t, "ann", "GET", "/api/v1/hazards/999999", "")
	problemOf(t, resp, body, 404)
	resp, body = ls.as(t, "ann", "GET", "/api/v1/hazards/abc", "")
	problemOf(t, resp, body, 404)
	h := ls.hazard(t, "zhou", id)
	if h.Status != "reported" || h.Version != 1 || len(h.History) != 0 || !slices.Equal(h.Next, []string{"registered"}) || h.Supervised {
		t.Fatalf("new hazard %+v", h)
	}

	// Forbidden steps: wrong role, wrong scope, wrong order.
	resp, body = ls.step(t, "pei", id, "registered", 1, "")
	problemOf(t, resp, body, 403) // planners make no steps
	resp, body = ls.step(t, "wang", id, "registered", 1, "")
	if p := problemOf(t, resp, body, 403); !strings.Contains(p.Detail, "admin or street") {
		t.Errorf("officer registering: %q", p.Detail)
	}
	resp, body = ls.step(t, "li", id, "registered", 1, "")
	problemOf(t, resp, body, 404) // another street's hazard is not found
	resp, body = ls.step(t, "zhou", id, "assigned", 1, `,"responsible":"张三","deadline":"`+tomorrow+`"`)
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"to"}) || !strings.Contains(p.Detail, "can go to registered") {
		t.Errorf("skipping a step: %+v", p)
	}
	resp, body = ls.step(t, "zhou", id, "fixed", 1, "")
	problemOf(t, resp, body, 422)
	resp, body = ls.step(t, "zhou", id, "registered", 0, "")
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"version"}) {
		t.Errorf("no version: %+v", p)
	}
	resp, body = ls.step(t, "zhou", id, "registered", 1, `,"funds":1`)
	problemOf(t, resp, body, 422) // plan fields belong to assigning

	v := ls.mustStep(t, "zhou", id, "registered", 1, `,"note":"属实"`)
	// Assigning needs a responsible person and a deadline.
	resp, body = ls.step(t, "zhou", id, "assigned", v, "")
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"deadline", "responsible"}) {
		t.Errorf("assigning without a plan: %+v", p)
	}
	resp, body = ls.step(t, "zhou", id, "assigned", v, `,"responsible":"张三","deadline":"2000-01-01"`)
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"deadline"}) {
		t.Errorf("a past deadline: %+v", p)
	}
	v = ls.mustStep(t, "zhou", id, "assigned", v, `,"responsible":"张三","deadline":"`+tomorrow+`"`)
	resp, body = ls.step(t, "zhao", id, "rectifying", v, "")
	problemOf(t, resp, body, 404) // not zhao's cell: not found
	v = ls.mustStep(t, "wang", id, "rectifying", v, `,"note":"已开始整改"`)
	resp, body = ls.step(t, "wang", id, "verified", v, "")
	problemOf(t, resp, body, 403) // officers do not verify
	v = ls.mustStep(t, "zhou", id, "verified", v, "")
	v = ls.mustStep(t, "zhou", id, "rectifying", v, `,"note":"验收不合格"`) // rejected verification
	v = ls.mustStep(t, "ann", id, "verified", v, "")
	v = ls.mustStep(t, "zhou", id, "closed", v, `,"note":"销号"`)
	resp, body = ls.step(t, "zhou", id, "rectifying", v, "")
	if p := problemOf(t, resp, body, 422); !strings.Contains(p.Detail, "closed") {
		t.Errorf("reopening: %+v", p)
	}

	h = ls.hazard(t, "wang", id)
	if h.Status != "closed" || h.ClosedAt == nil || h.Version != 8 || h.Responsible == nil || *h.Responsible != "张三" ||
		h.Deadline == nil || *h.Deadline != tomorrow || len(h.Next) != 0 {
		t.Errorf("closed hazard %+v", h)
	}
	type step struct{ from, to, actor string }
	want := []step{{"reported", "registered", "zhou"}, {"registered", "assigned", "zhou"}, {"assigned", "rectifying", "wang"},
		{"rectifying", "verified", "zhou"}, {"verified", "rectifying", "zhou"}, {"rectifying", "verified", "ann"}, {"verified", "closed", "zhou"}}
	if len(h.History) != len(want) {
		t.Fatalf("history %+v", h.History)
	}
	for i, w := range want {
		e := h.History[i]
		if *e.From != w.from || e.To != w.to || e.Actor != w.actor {
			t.Errorf("history %d: %s → %s by %s, want %+v", i, *e.From, e.To, e.Actor, w)
		}
	}
	if e := h.History[1]; e.Details["responsible"] != "张三" || e.Details["deadline"] != tomorrow {
		t.Errorf("assignment details %v", e.Details)
	}
	if e := h.History[4]; e.Note == nil || *e.Note != "验收不合格" {
		t.Errorf("rejection note %v", e.Note)
	}
	var audited int
	_ = testdb.DB(ls.st).QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action LIKE 'hazard\_%' AND target = $1`, h.Code).Scan(&audited)
	if audited != len(want) {
		t.Errorf("%d audit records, want %d", audited, len(want))
	}
}

func TestMajorHazardNeedsPlan(t *testing.T) {
	ls := newLifecycleServer(t)
	id := addHazard(t, ls.st, "重大", westNorth)
	v := ls.mustStep(t, "zhou", id, "registered", 1, "")
	resp, body := ls.step(t, "zhou", id, "assigned", v, `,"responsible":"李四","deadline":"`+tomorrow+`"`)
	p := problemOf(t, resp, body, 422)
	if !slices.Equal(fields(p), []string{"funds", "measures"}) || !strings.Contains(p.Detail, "重大") {
		t.Errorf("重大 without measures and funds: %+v", p)
	}
	resp, body = ls.step(t, "zhou", id, "assigned", v, `,"measures":"更换管道"`)
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"deadline", "funds", "responsible"}) {
		t.Errorf("重大 with measures only: %+v", p)
	}
	if h := ls.hazard(t, "zhou", id); h.Status != "registered" || h.Version != v || !h.Supervised {
		t.Fatalf("a refused step changed the hazard: %+v", h)
	}
	v = ls.mustStep(t, "zhou", id, "assigned", v, `,"responsible":"李四","deadline":"`+tomorrow+`","measures":"更换管道","funds":120000.5`)
	h := ls.hazard(t, "ann", id)
	if h.Funds == nil || *h.Funds != 120000.5 || h.Measures == nil || *h.Measures != "更换管道" || h.Version != v {
		t.Errorf("assigned 重大 hazard %+v", h)
	}
	if d := h.History[len(h.History)-1].Details; d["funds"] != 120000.5 || d["measures"] != "更换管道" {
		t.Errorf("plan details %v", d)
	}
}

// Two people change the same hazard from the same version: the second gets 409, the
// first's change stands, and the history holds exactly the steps made.
func TestHazardVersionConflict(t *testing.T) {
	ls := newLifecycleServer(t)
	id := addHazard(t, ls.st, "一般", westSouth)
	ls.mustStep(t, "zhou", id, "registered", 1, `,"note":"first"`)
	resp, body := ls.step(t, "ann", id, "registered", 1, `,"note":"second"`)
	if p := problemOf(t, resp, body, 409); !strings.Contains(p.Detail, "version 1") {
		t.Errorf("stale version: %+v", p)
	}
	h := ls.hazard(t, "ann", id)
	if h.Status != "registered" || h.Version != 2 || len(h.History) != 1 || *h.History[0].Note != "first" {
		t.Fatalf("after the conflict: %+v", h)
	}

	// The same, at once: of several requests with one version exactly one wins.
	id2 := addHazard(t, ls.st, "一般", westSouth)
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, _ := ls.step(t, "zhou", id2, "registered", 1, fmt.Sprintf(`,"note":"racer %d"`, i))
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if codes[0] != 200 || codes[1] != 409 || codes[n-1] != 409 {
		t.Errorf("racing steps answered %v, want one 200 and the rest 409", codes)
	}
	h = ls.hazard(t, "zhou", id2)
	if h.Version != 2 || len(h.History) != 1 {
		t.Errorf("after the race: version %d, history %+v", h.Version, h.History)
	}
}
