package grid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// gridFixture adds an officer, a planner and two grid units of one street (cells 1, 2 in
// unit U1 assigned to the officer; cell 3 in U2, unassigned) and returns the officer's id.
func gridFixture(t *testing.T, st *grid.Store) (officerID int64, street string) {
	t.Helper()
	ctx := context.Background()
	if err := testdb.DB(st).QueryRow(ctx, `SELECT code FROM areas WHERE level = 'street' ORDER BY code LIMIT 1`).Scan(&street); err != nil {
		t.Fatal(err)
	}
	officerID, err := st.AddUser(ctx, "test", grid.User{Username: "wang", Role: grid.RoleOfficer}, "password-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddUser(ctx, "test", grid.User{Username: "li", Role: grid.RolePlanner}, "password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id)
VALUES ('U1', '一号网格', $1, $2), ('U2', '二号网格', $1, NULL)`, street, officerID); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code)
VALUES (left($1, 6), 1, 'U1'), (left($1, 6), 2, 'U1'), (left($1, 6), 3, 'U2')`, street); err != nil {
		t.Fatal(err)
	}
	return officerID, street
}

func TestLoginAuthenticateLogout(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	gridFixture(t, st)

	if _, err := st.Login(ctx, "wang", "wrong-password", time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := st.Login(ctx, "nobody", "password-1", time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	sess, err := st.Login(ctx, "wang", "password-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Token) != 43 || sess.Principal.Role != grid.RoleOfficer || time.Until(sess.ExpiresAt) < 59*time.Minute {
		t.Errorf("session %+v", sess)
	}
	var stored int
	_ = testdb.DB(st).QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, sess.Token).Scan(&stored)
	if stored != 1 {
		t.Errorf("the session is not stored under the token's SHA-256")
	}
	p, err := st.Authenticate(ctx, sess.Token)
	if err != nil || p.Username != "wang" {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	if _, err := st.Authenticate(ctx, sess.Token+"x"); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("a wrong token: %v", err)
	}
	if err := st.Logout(ctx, p, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("a revoked token: %v", err)
	}
	if err := st.Logout(ctx, p, sess.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("logging out twice: %v", err)
	}

	// Expired tokens and disabled users are refused.
	sess2, _ := st.Login(ctx, "wang", "password-1", time.Hour)
	_, _ = testdb.DB(st).Exec(ctx, `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL`)
	if _, err := st.Authenticate(ctx, sess2.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("an expired token: %v", err)
	}
	sess3, _ := st.Login(ctx, "wang", "password-1", time.Hour)
	_, _ = testdb.DB(st).Exec(ctx, `UPDATE users SET disabled = true WHERE username = 'wang'`)
	if _, err := st.Authenticate(ctx, sess3.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("a disabled user's token: %v", err)
	}
	if _, err := st.Login(ctx, "wang", "password-1", time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
		t.Errorf("a disabled user logs in: %v", err)
	}

	want := map[string]int{"login": 3, "login_failed": 3, "logout": 1}
	for action, n := range want {
		if got := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = $1`, action); got != n {
			t.Errorf("%d %s records in audit_log, want %d", got, action, n)
		}
	}
}

func TestOfficerScope(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	officer, _ := gridFixture(t, st)

	cells, err := st.OfficerCells(ctx, officer)
	if err != nil || len(cells) != 2 || cells[0] != 1 || cells[1] != 2 {
		t.Fatalf("officer cells %v, %v", cells, err)
	}
	for cell, want := range map[int64]bool{1: true, 3: false, 99: false} {
		if ok, err := st.OfficerHasCell(ctx, officer, cell); err != nil || ok != want {
			t.Errorf("OfficerHasCell(%d) = %v, %v", cell, ok, err)
		}
	}
	// The SQL helpers, as handlers use them.
	n := testdb.Count(t, st, `SELECT count(*) FROM (VALUES (1::bigint), (2), (3)) v(h3) WHERE `+grid.InOfficerCells("v.h3", 1), officer)
	if n != 2 {
		t.Errorf("InOfficerCells kept %d of 3 rows, want 2", n)
	}
	n = testdb.Count(t, st, `SELECT count(*) FROM (VALUES (ARRAY[3, 2]::bigint[]), (ARRAY[3]), (ARRAY[7, 1])) v(cells) WHERE `+grid.OverlapsOfficerCells("v.cells", 1), officer)
	if n != 2 {
		t.Errorf("OverlapsOfficerCells kept %d of 3 rows, want 2", n)
	}
}

func TestAssignUnit(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	officer, _ := gridFixture(t, st)

	var nf *grid.NotFoundError
	if err := supervise.New(st).AssignUnit(ctx, "test", "U2", "nobody"); !errors.As(err, &nf) || nf.What != "officer" {
		t.Errorf("unknown officer: %v", err)
	}
	if err := supervise.New(st).AssignUnit(ctx, "test", "U9", "wang"); !errors.As(err, &nf) || nf.What != "grid unit" {
		t.Errorf("unknown unit: %v", err)
	}
	var inv *grid.InvalidError
	if err := supervise.New(st).AssignUnit(ctx, "test", "U2", "li"); !errors.As(err, &inv) || inv.Field != "officer" {
		t.Errorf("a planner as officer: %v", err)
	}
	if err := supervise.New(st).AssignUnit(ctx, "test", "U2", "wang"); err != nil {
		t.Fatal(err)
	}
	if cells, _ := st.OfficerCells(ctx, officer); len(cells) != 3 {
		t.Errorf("after assigning U2 the officer has %d cells, want 3", len(cells))
	}
	if err := supervise.New(st).UnassignUnit(ctx, "test", "U1"); err != nil {
		t.Fatal(err)
	}
	units, err := st.OfficerUnits(ctx, officer)
	if err != nil || len(units) != 1 || units[0].Code != "U2" || units[0].Cells != 1 {
		t.Errorf("units after unassigning U1: %+v, %v", units, err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE actor = 'test' AND action IN ('assign', 'unassign')`); n != 2 {
		t.Errorf("%d audit records, want 2 (failed attempts write none)", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'unassign' AND target = 'U1' AND details->>'previous' = 'wang'`); n != 1 {
		t.Errorf("the unassign record does not name the previous officer")
	}
}

func TestAuditStoresDetails(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	tx, err := testdb.DB(st).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Audit(ctx, tx, "alice", "hazard_transition", "HZ1", map[string]any{"to": "registered"}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if err := st.Audit(ctx, nil, "alice", "export", "310104001", nil); err != nil {
		t.Fatal(err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log`); n != 1 {
		t.Errorf("%d records: the rolled-back one must be gone", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE actor = 'alice' AND action = 'export' AND details IS NULL`); n != 1 {
		t.Errorf("record without details missing")
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{errors.New("syntax error"), false},
	} {
		if got := grid.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("IsUnavailable(%v) = %v", tc.err, got)
		}
	}
}
