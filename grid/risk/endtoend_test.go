package risk_test

import (
	"context"
	"testing"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// The whole chain on one database: recomputes write snapshots, the rules inside them warn
// once per cause and queue the notifications, the map reads the latest snapshot with its
// change, and a fall followed by a new rise warns again.
func TestRiskEndToEnd(t *testing.T) {
	st, svc, rc := riskStore(t)
	ctx := context.Background()
	db := testdb.DB(st)
	setLevel := func(level string) {
		t.Helper()
		if _, err := db.Exec(ctx, `UPDATE enterprises SET risk_level = $1 WHERE id = $2`, level, rc.Major); err != nil {
			t.Fatal(err)
		}
	}
	// warnings counts the east street's street-level warnings of rule.
	warnings := func(rule string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM risk_warnings WHERE area_level = 'street' AND area_code = $1 AND rule = $2`,
			testdb.EastStreet, rule).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	admin := &grid.Principal{Role: grid.RoleAdmin, Username: "admin"}
	east := func() risk.AreaRow {
		t.Helper()
		l, err := svc.Areas(ctx, admin, risk.AreaQuery{Level: risk.LevelStreet})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range l.Areas {
			if a.Code == testdb.EastStreet {
				return a
			}
		}
		t.Fatalf("the east street is not on the map: %+v", l.Areas)
		return risk.AreaRow{}
	}

	// Without its 重大 enterprise the east street is below red; the first snapshot has no
	// previous one, so nothing rose.
	setLevel("一般")
	first := recompute(t, svc, risk.Request{})
	if c := east().Colour; c == risk.Red {
		t.Fatalf("the east street is red without its 重大 enterprise (snapshot %d)", first.ID)
	}
	if n := warnings("turned_red") + warnings("colour_rise"); n != 0 {
		t.Fatalf("%d warnings after the first snapshot", n)
	}

	// The enterprise becomes 重大: the floor rule makes the street red, both rules warn once,
	// and the street office and the district are told in the same transaction.
	setLevel("重大")
	second := recompute(t, svc, risk.Request{})
	if a := east(); a.Colour != risk.Red || a.Change != "up" || a.FloorColour == nil || *a.FloorColour != risk.Red {
		t.Fatalf("east street after the rise: colour %s, change %s, floor %v", a.Colour, a.Change, a.FloorColour)
	}
	if warnings("turned_red") != 1 || warnings("colour_rise") != 1 {
		t.Fatalf("after the rise: %d turned_red, %d colour_rise warnings; want 1 each", warnings("turned_red"), warnings("colour_rise"))
	}
	var street, district int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE o.recipient_kind = 'street' AND o.recipient = $1),
	        count(*) FILTER (WHERE o.recipient_kind = 'district' AND o.recipient = '310104')
	   FROM notify_outbox o JOIN risk_warnings w ON o.key = 'risk_warning/' || w.id
	  WHERE w.area_level = 'street' AND w.area_code = $1 AND w.snapshot_id = $2`, testdb.EastStreet, second.ID).Scan(&street, &district); err != nil {
		t.Fatal(err)
	}
	if street != 2 || district != 2 {
		t.Fatalf("notifications of the east street's two warnings: %d to the street office, %d to the district; want 2 and 2", street, district)
	}

	// The same state again: no new warning.
	recompute(t, svc, risk.Request{})
	if warnings("turned_red") != 1 || warnings("colour_rise") != 1 {
		t.Fatalf("a recompute of the same state warned again: %d turned_red, %d colour_rise", warnings("turned_red"), warnings("colour_rise"))
	}
	if a := east(); a.Change != "same" {
		t.Fatalf("east street's change after an unchanged recompute: %s", a.Change)
	}

	// A fall and a new rise are a new cause.
	setLevel("一般")
	recompute(t, svc, risk.Request{})
	if a := east(); a.Change != "down" {
		t.Fatalf("east street's change after the fall: %s", a.Change)
	}
	setLevel("重大")
	recompute(t, svc, risk.Request{})
	if warnings("turned_red") != 2 || warnings("colour_rise") != 2 {
		t.Fatalf("after a fall and a new rise: %d turned_red, %d colour_rise warnings; want 2 each", warnings("turned_red"), warnings("colour_rise"))
	}

	// The street office sees its warnings in the list; the other street's office does not.
	office := &grid.Principal{Role: grid.RoleStreet, StreetCode: testdb.EastStreet, Username: "east"}
	ws, total, err := svc.Warnings(ctx, office, risk.Filter{Rule: "turned_red", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, w := range ws {
		if w.AreaLevel == "street" && w.AreaCode == testdb.EastStreet {
			found++
		}
	}
	if found != 2 || total < 2 {
		t.Fatalf("the east office lists %d of its street's turned_red warnings (total %d); want 2", found, total)
	}
	other := &grid.Principal{Role: grid.RoleStreet, StreetCode: testdb.WestStreet, Username: "west"}
	ws, _, err = svc.Warnings(ctx, other, risk.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.StreetCode != nil && *w.StreetCode == testdb.EastStreet {
			t.Fatalf("the west office sees the east street's warning %d", w.ID)
		}
	}
}
