package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// TestOverdueIsShanghaiEverywhere: "overdue" is one rule, today's date in Shanghai,
// in a hazard's detail as in the street's list, even when the database's sessions run in
// another zone. The zone is picked so that its date differs from Shanghai's right now:
// with the session's current_date the detail disagrees with the list.
func TestOverdueIsShanghaiEverywhere(t *testing.T) {
	ctx := context.Background()
	base := testdb.New(t, testdb.TwoStreets)
	sh := time.Now().In(grid.ShanghaiZone())
	zone := "Etc/GMT+12" // UTC-12: a day behind Shanghai until 20:00 Shanghai time
	if sh.Hour() >= 20 {
		zone = "Pacific/Kiritimati" // UTC+14: a day ahead of Shanghai from 18:00
	}
	st, err := grid.Open(ctx, testdb.URL(t, base)+"&timezone="+url.QueryEscape(zone))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	var sessionToday string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT current_date::text`).Scan(&sessionToday); err != nil {
		t.Fatal(err)
	}
	today := sh.Format(time.DateOnly)
	if sessionToday == today {
		t.Fatalf("the session's date in %s is Shanghai's (%s): the test proves nothing", zone, today)
	}
	ts := serverOn(t, st, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")
	want := map[int64]bool{}
	for _, c := range []struct {
		deadline string
		overdue  bool
	}{{sh.AddDate(0, 0, -1).Format(time.DateOnly), true}, {today, false}, {sh.AddDate(0, 0, 1).Format(time.DateOnly), false}} {
		id := addHazard(t, st, "一般", westSouth)
		if _, err := testdb.DB(st).Exec(ctx, `UPDATE hazards SET deadline = $2::date WHERE id = $1`, id, c.deadline); err != nil {
			t.Fatal(err)
		}
		want[id] = c.overdue
	}
	resp, body := ts.do(t, "GET", "/api/v1/streets/"+westStreet+"/hazards", "", "Authorization", auth)
	var list struct {
		Items []struct {
			ID       int64  `json:"id"`
			Deadline string `json:"deadline"`
			Overdue  bool   `json:"overdue"`
		} `json:"items"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) != len(want) {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	for _, it := range list.Items {
		var d struct {
			Overdue bool `json:"overdue"`
		}
		resp, body := ts.do(t, "GET", fmt.Sprintf("/api/v1/hazards/%d", it.ID), "", "Authorization", auth)
		if resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil {
			t.Fatalf("detail: %d %s", resp.StatusCode, body)
		}
		if it.Overdue != want[it.ID] || d.Overdue != want[it.ID] {
			t.Errorf("deadline %s (Shanghai today %s, session %s): list overdue %v, detail %v, want %v",
				it.Deadline, today, sessionToday, it.Overdue, d.Overdue, want[it.ID])
		}
	}
}

// TestNewDeadlineNotInThePast: a reported hazard and an assignment may be due today in
// Shanghai, not before (422 naming deadline).
func TestNewDeadlineNotInThePast(t *testing.T) {
	ls := newLifecycleServer(t)
	sh := time.Now().In(grid.ShanghaiZone())
	yesterday, today := sh.AddDate(0, 0, -1).Format(time.DateOnly), sh.Format(time.DateOnly)
	report := func(deadline string) string {
		return fmt.Sprintf(`{"level":"一般","category":"消防","description":"d","lon":%v,"lat":%v,"deadline":%q}`, westSouth[0], westSouth[1], deadline)
	}
	resp, body := ls.as(t, "wang", "POST", "/api/v1/hazards", report(yesterday))
	if p := problemOf(t, resp, body, 422); len(p.Errors) != 1 || p.Errors[0].Field != "deadline" {
		t.Errorf("a report due yesterday: %s", body)
	}
	if resp, body := ls.as(t, "wang", "POST", "/api/v1/hazards", report(today)); resp.StatusCode != 201 {
		t.Errorf("a report due today: %d %s", resp.StatusCode, body)
	}
	id := addHazard(t, ls.st, "一般", westSouth)
	v := ls.mustStep(t, "zhou", id, "registered", 1, "")
	resp, body = ls.step(t, "zhou", id, "assigned", v, `,"responsible":"张三","deadline":"`+yesterday+`"`)
	if p := problemOf(t, resp, body, 422); len(p.Errors) != 1 || p.Errors[0].Field != "deadline" {
		t.Errorf("assigning due yesterday: %s", body)
	}
	ls.mustStep(t, "zhou", id, "assigned", v, `,"responsible":"张三","deadline":"`+today+`"`)
}
