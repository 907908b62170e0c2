package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// check-in: recording with the phone's position, the verdicts, the lists.
func TestInspectionCheckinAPI(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	ent := centre(f.c1, 0.0001, 0) // E1
	body := func(position string) string {
		b := fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v`, f.uscc["E1"], ent[0], ent[1])
		if position != "" {
			b += `,"position":` + position
		}
		return b + "}"
	}
	record := func(position string) supervise.Inspection {
		t.Helper()
		resp, data := f.post(t, f.off1, "/api/v1/inspections", body(position))
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", position, resp.StatusCode, data)
		}
		var in supervise.Inspection
		if err := json.Unmarshal(data, &in); err != nil {
			t.Fatal(err)
		}
		return in
	}
	// 0.0003° of latitude is about 33 m; 0.003° about 333 m.
	near := record(fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":8.5}`, ent[0], ent[1]+0.0003))
	if c := near.Checkin; c.Status != "located" || c.DistanceM == nil || math.Abs(*c.DistanceM-33.3) > 0.5 || *c.AccuracyM != 8.5 {
		t.Errorf("near: %+v", c)
	}
	far := record(fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":8.5}`, ent[0], ent[1]+0.003))
	if c := far.Checkin; c.Status != "far" || *c.DistanceM < 300 || *c.DistanceM > 350 {
		t.Errorf("far: %+v", c)
	}
	vague := record(fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":150}`, ent[0], ent[1]))
	if vague.Checkin.Status != "inaccurate" {
		t.Errorf("inaccurate: %+v", vague.Checkin)
	}
	none := record("")
	if c := none.Checkin; c.Status != "unlocated" || c.Position != nil || c.DistanceM != nil {
		t.Errorf("unlocated: %+v", c)
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM audit_log WHERE action = 'inspection' AND actor = 'off1' AND details ? 'checkin'`); n != 4 {
		t.Errorf("%d audited with their check-in", n)
	}

	// The officer's list shows them, newest first; the filter by verdict.
	var page myInspections
	if resp, data := f.get(t, f.off1, "/api/v1/me/inspections", &page); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	var ids []int64
	for _, in := range page.Items {
		ids = append(ids, in.ID)
	}
	if page.Total != 4 || !slices.Equal(ids, []int64{none.ID, vague.ID, far.ID, near.ID}) || page.Items[2].Checkin.Status != "far" ||
		*page.Items[2].Checkin.DistanceM != *far.Checkin.DistanceM {
		t.Errorf("my inspections %+v", page)
	}
	f.get(t, f.off1, "/api/v1/me/inspections?checkin=far", &page)
	if page.Total != 1 || page.Items[0].ID != far.ID {
		t.Errorf("far only: %+v", page)
	}
	resp, data := f.get(t, f.off1, "/api/v1/me/inspections?checkin=near", nil)
	if p := problemOf(t, resp, data, 422); len(p.Errors) == 0 || p.Errors[0].Field != "checkin" {
		t.Errorf("bad filter: %+v", p)
	}
	// Only officers have a list of their own.
	if resp, _ := f.get(t, f.sta, "/api/v1/me/inspections", nil); resp.StatusCode != 403 {
		t.Errorf("a street office: %d", resp.StatusCode)
	}

	// Bad positions: each names the field, and nothing is stored.
	before := testdb.Count(t, f.ts.st, `SELECT count(*) FROM inspections`)
	for _, tc := range []struct{ name, position, field string }{
		{"outside Shanghai", `{"lon":120.62,"lat":31.32,"accuracy_m":10}`, "position.lon"},
		{"in Beijing", `{"lon":116.4,"lat":39.9,"accuracy_m":10}`, "position.lon"},
		{"swapped", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":10}`, ent[1], ent[0]), "position.lat"},
		{"lon without lat", fmt.Sprintf(`{"lon":%v,"accuracy_m":10}`, ent[0]), "position.lat"},
		{"lat without lon", fmt.Sprintf(`{"lat":%v,"accuracy_m":10}`, ent[1]), "position.lon"},
		{"lat null", fmt.Sprintf(`{"lon":%v,"lat":null,"accuracy_m":10}`, ent[0]), "position.lat"},
		{"no accuracy", fmt.Sprintf(`{"lon":%v,"lat":%v}`, ent[0], ent[1]), "position.accuracy_m"},
		{"zero accuracy", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":0}`, ent[0], ent[1]), "position.accuracy_m"},
		{"negative accuracy", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":-5}`, ent[0], ent[1]), "position.accuracy_m"},
		{"huge accuracy", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":1e300}`, ent[0], ent[1]), "position.accuracy_m"},
		// Above 0 but too small for the real column (it underflowed there: a 500).
		{"vanishing accuracy", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":1e-300}`, ent[0], ent[1]), "position.accuracy_m"},
		{"accuracy as text", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":"good"}`, ent[0], ent[1]), "position.accuracy_m"},
		{"latitude out of range", fmt.Sprintf(`{"lon":%v,"lat":91,"accuracy_m":10}`, ent[0]), "position.lat"},
		{"unknown member", fmt.Sprintf(`{"lon":%v,"lat":%v,"accuracy_m":10,"altitude":4}`, ent[0], ent[1]), "position.altitude"},
		{"not an object", `[121.4, 31.2]`, "position"},
	} {
		resp, data := f.post(t, f.off1, "/api/v1/inspections", body(tc.position))
		if resp.StatusCode != 400 && resp.StatusCode != 422 {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, data)
			continue
		}
		p := problemOf(t, resp, data, resp.StatusCode)
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		if !slices.Contains(fields, tc.field) {
			t.Errorf("%s: %d fields %v (%s), want %s", tc.name, resp.StatusCode, fields, p.Detail, tc.field)
		}
	}
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM inspections`); n != before {
		t.Errorf("refused requests wrote %d inspections", n-before)
	}

	// Out of scope as today, with a position too: another unit's enterprise is one that
	// does not exist, another unit's location a 403.
	e5 := centre(f.c3, 0, 0)
	resp, data = f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":5}}`,
		f.uscc["E5"], ent[0], ent[1], e5[0], e5[1]))
	if p := problemOf(t, resp, data, 422); len(p.Errors) == 0 || p.Errors[0].Field != "enterprise" {
		t.Errorf("another unit's enterprise: %+v", p)
	}
	resp, data = f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":5}}`,
		f.uscc["E5"], e5[0], e5[1], e5[0], e5[1]))
	problemOf(t, resp, data, 403)
	if n := testdb.Count(t, f.ts.st, `SELECT count(*) FROM inspections`); n != before {
		t.Errorf("out of scope wrote %d inspections", n-before)
	}
	var stored string
	if err := testdb.DB(f.ts.st).QueryRow(ctx, `SELECT checkin FROM inspections WHERE id = $1`, far.ID).Scan(&stored); err != nil || stored != "far" {
		t.Errorf("stored verdict %q, %v", stored, err)
	}
}

// The limits come from the configuration.
func TestInspectionCheckinLimitsConfigured(t *testing.T) {
	f := newGridFixtureOn(t, newTestServer(t, func(c *Config) {
		c.Checkin = supervise.CheckinLimits{MaxDistanceM: 500, MaxAccuracyM: 5}
	}))
	ent := centre(f.c1, 0.0001, 0)
	post := func(dlat, acc float64) string {
		resp, data := f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":%v}}`,
			f.uscc["E1"], ent[0], ent[1], ent[0], ent[1]+dlat, acc))
		var in supervise.Inspection
		if resp.StatusCode != 201 || json.Unmarshal(data, &in) != nil {
			t.Fatalf("%d %s", resp.StatusCode, data)
		}
		return in.Checkin.Status
	}
	if got := post(0.003, 4); got != "located" { // 333 m is within 500 m
		t.Errorf("333 m under a 500 m limit: %s", got)
	}
	if got := post(0, 8); got != "inaccurate" { // 8 m is worse than 5 m
		t.Errorf("8 m accuracy under a 5 m limit: %s", got)
	}
}

// The due list in walking order from a position: the due set, nearest first, the legs;
// pages of the same order; bad positions named.
func TestInspectionsDueWalkingOrder(t *testing.T) {
	f := newGridFixture(t)
	var byDue dueInspections
	f.get(t, f.off1, "/api/v1/me/inspections/due", &byDue)
	if byDue.Order != "due" || byDue.Total < 2 || byDue.Items[0].LegM != nil {
		t.Fatalf("by due date: %+v", byDue)
	}
	// From beside c2's centre: E3 and E4 (c2) before E1 (c1), whatever their due dates.
	from := centre(f.c2, 0.001, 0)
	var walk dueInspections
	if resp, data := f.get(t, f.off1, fmt.Sprintf("/api/v1/me/inspections/due?lon=%v&lat=%v", from[0], from[1]), &walk); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	if walk.Order != "walking" || walk.Total != byDue.Total || len(walk.Items) != len(byDue.Items) {
		t.Fatalf("walking: %+v", walk)
	}
	var a, b []string
	for i := range walk.Items {
		a, b = append(a, byDue.Items[i].USCC), append(b, walk.Items[i].USCC)
	}
	if slices.Equal(a, b) {
		t.Errorf("walking order %v is the due order", b)
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("walking order %v is not the due set %v", b, a)
	}
	first := walk.Items[0]
	if first.Cell != f.c2.String() || first.LegM == nil || *first.CumulativeM != *first.LegM || *walk.Items[len(walk.Items)-1].CumulativeM < *first.LegM {
		t.Errorf("first stop %+v", first)
	}
	// Paging: pages of one are the order, item by item.
	for i := range walk.Items {
		var p dueInspections
		f.get(t, f.off1, fmt.Sprintf("/api/v1/me/inspections/due?lon=%v&lat=%v&limit=1&offset=%d", from[0], from[1], i), &p)
		if len(p.Items) != 1 || p.Items[0].USCC != walk.Items[i].USCC || *p.Items[0].CumulativeM != *walk.Items[i].CumulativeM {
			t.Errorf("page %d: %+v", i, p.Items)
		}
	}
	for _, tc := range []struct{ name, query, field string }{
		{"lon without lat", fmt.Sprintf("lon=%v", from[0]), "lat"},
		{"lat without lon", fmt.Sprintf("lat=%v", from[1]), "lon"},
		{"swapped", fmt.Sprintf("lon=%v&lat=%v", from[1], from[0]), "lat"},
		{"outside Shanghai", "lon=120.62&lat=31.32", "lon"},
		{"not a number", fmt.Sprintf("lon=east&lat=%v", from[1]), "lon"},
		{"NaN", fmt.Sprintf("lon=NaN&lat=%v", from[1]), "lon"},
		{"infinite", fmt.Sprintf("lon=%v&lat=Inf", from[0]), "lat"},
	} {
		resp, data := f.get(t, f.off1, "/api/v1/me/inspections/due?"+tc.query, nil)
		if resp.StatusCode != 400 && resp.StatusCode != 422 {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, data)
			continue
		}
		if p := problemOf(t, resp, data, resp.StatusCode); len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %+v, want %s", tc.name, p, tc.field)
		}
	}
	// Other roles are refused as before.
	if resp, _ := f.get(t, f.sta, fmt.Sprintf("/api/v1/me/inspections/due?lon=%v&lat=%v", from[0], from[1]), nil); resp.StatusCode != 403 {
		t.Errorf("a street office: %d", resp.StatusCode)
	}
}
