package main

import (
	"context"
	"strings"
	"testing"

	"safegrid/grid/testdb"
)

func TestGridAssignAndUnassign(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	url := testdb.URL(t, st)
	ctx := context.Background()
	var street string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT code FROM areas WHERE level = 'street' ORDER BY code LIMIT 1`).Scan(&street); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO grid_units (code, name, street_code) VALUES ('G-1', '一号网格', $1)`, street); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"users", "add", "wang", "--role", "officer", "--generate"},
		{"users", "add", "li", "--role", "planner", "--generate"},
	} {
		if out, err := run(t, url, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"grid", "assign", "--officer", "nobody", "--unit", "G-1"}, `officer "nobody" not found`},
		{[]string{"grid", "assign", "--officer", "wang", "--unit", "G-9"}, `grid unit "G-9" not found`},
		{[]string{"grid", "assign", "--officer", "li", "--unit", "G-1"}, `"li" has the role planner`},
		{[]string{"grid", "unassign", "--unit", "G-9"}, `grid unit "G-9" not found`},
		{[]string{"grid", "assign", "--unit", "G-1"}, `"officer" not set`},
	} {
		if _, err := run(t, url, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %s", tc.args, err, tc.want)
		}
	}

	officer := func() string {
		var name *string
		_ = testdb.DB(st).QueryRow(ctx, `SELECT o.username FROM grid_units g LEFT JOIN users o ON o.id = g.officer_id WHERE g.code = 'G-1'`).Scan(&name)
		if name == nil {
			return ""
		}
		return *name
	}
	out, err := run(t, url, "grid", "assign", "--officer", "wang", "--unit", "G-1")
	if err != nil || !strings.Contains(out, "assigned to wang") || officer() != "wang" {
		t.Fatalf("assign: %q, %v, officer %q", out, err, officer())
	}
	out, err = run(t, url, "grid", "unassign", "--unit", "G-1")
	if err != nil || officer() != "" {
		t.Fatalf("unassign: %q, %v, officer %q", out, err, officer())
	}
	var n int
	_ = testdb.DB(st).QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor LIKE 'cli:%' AND target = 'G-1' AND action IN ('assign', 'unassign')`).Scan(&n)
	if n != 2 {
		t.Errorf("%d audit records of the assignment, want 2", n)
	}
	_ = testdb.DB(st).QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'user_add'`).Scan(&n)
	if n != 2 {
		t.Errorf("%d audit records of users add, want 2", n)
	}
}

func TestServeReadsEnvironment(t *testing.T) {
	t.Setenv("SAFEGRID_REQUEST_TIMEOUT", "not-a-duration")
	_, err := run(t, "postgres://unused@127.0.0.1:1/x", "serve")
	if err == nil || !strings.Contains(err.Error(), "SAFEGRID_REQUEST_TIMEOUT") {
		t.Errorf("a bad environment value: %v", err)
	}
}
