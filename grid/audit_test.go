package grid_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"safegrid/grid"
	"safegrid/grid/testdb"
	"safegrid/migrations"
)

// The service's own pool (the role DATABASE_URL names, the tables' owner and here a
// superuser) cannot change or remove an audit record: UPDATE, DELETE (also one that
// matches no row) and TRUNCATE are refused, also with the ordinary triggers silenced
// (session_replication_role = replica, as in the import's bulk path), and the records are
// still there, unchanged.
func TestAuditLogIsAppendOnly(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	db := testdb.DB(st)
	for _, a := range []string{"login", "logout"} {
		if err := st.Audit(ctx, nil, "wang", a, "wang", map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
	}
	var owner bool
	if err := db.QueryRow(ctx, `SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'audit_log'`).Scan(&owner); err != nil || !owner {
		t.Fatalf("the service's role should own audit_log (the case REVOKE cannot cover): %v, %v", owner, err)
	}
	before := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE actor = 'wang' AND details->>'n' = '1'`)
	for _, stmt := range []string{
		`UPDATE audit_log SET actor = 'someone else'`,
		`UPDATE audit_log SET details = NULL WHERE action = 'login'`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)`,
		`DELETE FROM audit_log WHERE false`,
		`TRUNCATE audit_log`,
		`TRUNCATE audit_log RESTART IDENTITY CASCADE`,
	} {
		for _, replica := range []bool{false, true} {
			err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				if replica {
					if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, stmt)
				return err
			})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "append-only") {
				t.Errorf("%s (replica %v): %v, want it refused as append-only", stmt, replica, err)
			}
		}
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE actor = 'wang' AND details->>'n' = '1'`); n != before || n != 2 {
		t.Errorf("%d records left of %d", n, before)
	}
	// Writing goes on.
	if err := st.Audit(ctx, nil, "wang", "login", "wang", nil); err != nil {
		t.Fatalf("insert after the refusals: %v", err)
	}
}

// Audit names the object's kind from the action, and a user's or session's record takes
// a street office's street; Record takes them as given and refuses an unknown kind.
func TestAuditRecordsKindAndStreet(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "cli:root", grid.User{Username: "xi", Role: grid.RoleStreet, StreetCode: "310104003"}, "password-xi"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Login(ctx, "xi", "password-xi", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Login(ctx, "nobody", "wrong-password", time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
		t.Fatal(err)
	}
	if err := st.Record(ctx, nil, grid.AuditEntry{Actor: "xi", Action: "hazard_registered", Kind: grid.AuditHazard, Object: "HZ1", Street: "310104004"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Record(ctx, nil, grid.AuditEntry{Actor: "xi", Action: "x", Kind: "planet", Object: "mars"}); err == nil {
		t.Error("an unknown kind was written")
	}
	rows, _ := testdb.DB(st).Query(ctx, `SELECT action, coalesce(object_kind, ''), coalesce(object_id, ''), coalesce(target, ''), coalesce(street_code, '')
  FROM audit_log ORDER BY id`)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var a, k, o, tg, s string
		err := r.Scan(&a, &k, &o, &tg, &s)
		return strings.Join([]string{a, k, o, tg, s}, "|"), err
	})
	want := []string{
		"user_add|user|xi|xi|310104003",
		"login|session|xi|xi|310104003",
		"login_failed|session|nobody|nobody|",
		"hazard_registered|hazard|HZ1|HZ1|310104004",
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("records\n%q\nwant\n%q (%v)", got, want, err)
	}
}

type auditRow struct {
	id                                  int64
	at                                  time.Time
	actor, action, kind, object, street string
}

// AuditLog: each filter narrows the list as a plain reading of the rows says, newest
// first (time, then id: two records share a time), paged, with the total.
func TestAuditLogFilters(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC) // 2026-12-01 00:00 in Shanghai
	type seed struct {
		minutes                             int
		actor, action, kind, object, street string
	}
	seeds := []seed{
		{0, "wang", "hazard_report", "hazard", "HZ1", "310104003"},
		{5, "li", "hazard_registered", "hazard", "HZ1", "310104003"},
		{5, "li", "hazard_registered", "hazard", "HZ2", "310104004"}, // same time as the one before
		{10, "wang", "inspection", "enterprise", "91310104MA1FL0001X", "310104003"},
		{60, "admin", "assign", "unit", "U1", "310104004"},
		{24 * 60, "admin", "import", "dataset", "enterprises", ""},
		{24*60 + 1, "wang", "login", "session", "wang", ""},
		{-1, "cli", "demo", "", "", ""},
	}
	for _, s := range seeds {
		if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, object_kind, object_id, street_code, details)
VALUES ($1, $2, $3, nullif($5, ''), nullif($4, ''), nullif($5, ''), nullif($6, ''), jsonb_build_object('seed', $3::text))`,
			base.Add(time.Duration(s.minutes)*time.Minute), s.actor, s.action, s.kind, s.object, s.street); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := testdb.DB(st).Query(ctx, `SELECT id, at, actor, action, coalesce(object_kind, ''), coalesce(object_id, ''), coalesce(street_code, '') FROM audit_log`)
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) {
		var a auditRow
		return a, r.Scan(&a.id, &a.at, &a.actor, &a.action, &a.kind, &a.object, &a.street)
	})
	if err != nil || len(all) != len(seeds) {
		t.Fatal(len(all), err)
	}
	slices.SortFunc(all, func(a, b auditRow) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	for _, tc := range []struct {
		name string
		f    grid.AuditFilter
		keep func(auditRow) bool
	}{
		{"everything", grid.AuditFilter{}, func(auditRow) bool { return true }},
		{"actor", grid.AuditFilter{Actor: "wang"}, func(r auditRow) bool { return r.actor == "wang" }},
		{"action", grid.AuditFilter{Action: "hazard_registered"}, func(r auditRow) bool { return r.action == "hazard_registered" }},
		{"kind", grid.AuditFilter{Kind: grid.AuditHazard}, func(r auditRow) bool { return r.kind == "hazard" }},
		{"kind and object", grid.AuditFilter{Kind: grid.AuditHazard, Object: "HZ1"}, func(r auditRow) bool { return r.kind == "hazard" && r.object == "HZ1" }},
		{"object alone", grid.AuditFilter{Object: "wang"}, func(r auditRow) bool { return r.object == "wang" }},
		{"street", grid.AuditFilter{Street: "310104004"}, func(r auditRow) bool { return r.street == "310104004" }},
		{"from", grid.AuditFilter{From: base.Add(5 * time.Minute)}, func(r auditRow) bool { return !r.at.Before(base.Add(5 * time.Minute)) }},
		{"to", grid.AuditFilter{To: base.Add(10 * time.Minute)}, func(r auditRow) bool { return r.at.Before(base.Add(10 * time.Minute)) }},
		{"from and to", grid.AuditFilter{From: base, To: base.Add(24 * time.Hour)}, func(r auditRow) bool {
			return !r.at.Before(base) && r.at.Before(base.Add(24*time.Hour))
		}},
		{"everything at once", grid.AuditFilter{Actor: "li", Action: "hazard_registered", Kind: "hazard", Object: "HZ2", Street: "310104004", From: base, To: base.Add(time.Hour)},
			func(r auditRow) bool { return r.object == "HZ2" }},
		{"nothing matches", grid.AuditFilter{Actor: "wang", Street: "310104004"}, func(auditRow) bool { return false }},
	} {
		var want []int64
		for _, r := range all {
			if tc.keep(r) {
				want = append(want, r.id)
			}
		}
		f := tc.f
		f.Limit = 100
		recs, total, err := st.AuditLog(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := make([]int64, len(recs))
		for i, r := range recs {
			got[i] = r.ID
		}
		if !slices.Equal(got, want) || total != len(want) {
			t.Errorf("%s: %v (total %d), want %v", tc.name, got, total, want)
		}
		if tc.name != "everything" && len(want) == len(all) {
			t.Errorf("%s: the filter narrows nothing; the case tests nothing", tc.name)
		}
		// Paging: two at a time gives the same list.
		var paged []int64
		for off := 0; off < len(want)+2; off += 2 {
			f.Limit, f.Offset = 2, off
			page, ptotal, err := st.AuditLog(ctx, f)
			if err != nil || ptotal != len(want) || len(page) > 2 {
				t.Fatalf("%s page at %d: %d records, total %d, %v", tc.name, off, len(page), ptotal, err)
			}
			for _, r := range page {
				paged = append(paged, r.ID)
			}
		}
		if !slices.Equal(paged, want) {
			t.Errorf("%s paged: %v, want %v", tc.name, paged, want)
		}
	}
	// A record comes back whole.
	recs, _, err := st.AuditLog(ctx, grid.AuditFilter{Action: "inspection", Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	r := recs[0]
	var details map[string]string
	if err := json.Unmarshal(r.Details, &details); err != nil || details["seed"] != "inspection" ||
		r.Actor != "wang" || *r.Kind != "enterprise" || *r.Object != "91310104MA1FL0001X" || *r.Street != "310104003" ||
		!r.At.Equal(base.Add(10*time.Minute)) {
		t.Errorf("record %+v, details %s", r, r.Details)
	}
	recs, _, _ = st.AuditLog(ctx, grid.AuditFilter{Action: "demo", Limit: 1})
	if len(recs) != 1 || recs[0].Kind != nil || recs[0].Object != nil || recs[0].Street != nil {
		t.Errorf("a record about no object: %+v", recs)
	}
}

// A filter no record can match, or the database cannot take, is an InvalidError naming it.
func TestAuditLogRefusesBadFilters(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	now := time.Now()
	for _, tc := range []struct {
		f     grid.AuditFilter
		field string
	}{
		{grid.AuditFilter{Kind: "planet"}, "kind"},
		{grid.AuditFilter{Street: "31010400"}, "street"},
		{grid.AuditFilter{Street: "310104009"}, "street"}, // 9 digits, no such street
		{grid.AuditFilter{Actor: "a\x00b"}, "actor"},
		{grid.AuditFilter{Action: "\xff"}, "action"},
		{grid.AuditFilter{Object: strings.Repeat("x", 201)}, "object"},
		{grid.AuditFilter{From: now, To: now.Add(-time.Second)}, "from"},
		{grid.AuditFilter{Limit: -1}, "limit"},
		{grid.AuditFilter{Limit: grid.AuditMaxRows + 1}, "limit"},
		{grid.AuditFilter{Offset: -1}, "offset"},
	} {
		f := tc.f
		if f.Limit == 0 {
			f.Limit = 10
		}
		_, _, err := st.AuditLog(ctx, f)
		var inv *grid.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%+v: %v, want an InvalidError on %s", tc.f, err, tc.field)
		}
	}
}

// Migration 00010 fills the new columns of the records written before it, and goes down
// and up again (the trigger goes with it, so the records it backfills can be written).
func TestAuditMigrationBackfills(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	pdb := stdlib.OpenDBFromPool(testdb.DB(st))
	defer pdb.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, pdb, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatalf("down to 00009: %v", err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := testdb.DB(st).Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO users (username, role, street_code, password_hash) VALUES ('xi', 'street', '310104003', 'x')`)
	exec(`INSERT INTO grid_units (code, name, street_code) VALUES ('U1', '一号网格', '310104004')`)
	exec(`INSERT INTO hazards (district_code, code, level, category, description, street_code, h3, geom)
VALUES ('310104', 'HZ9', '一般', 'c', 'd', '310104003', 1, ST_SetSRID(ST_MakePoint(121.42, 31.12), 4326))`)
	exec(`INSERT INTO audit_log (actor, action, target, details) VALUES
 ('xi', 'hazard_registered', 'HZ9', NULL),
 ('xi', 'hazard_report', 'HZ-gone', NULL),
 ('adm', 'assign', 'U1', NULL),
 ('adm', 'unit_delete', 'U7', '{"street_code": "310104003"}'),
 ('xi', 'login', 'xi', NULL),
 ('cli:root', 'user_add', 'xi', NULL),
 ('adm', 'import', 'enterprises', NULL),
 ('off', 'inspection', '91310104MA1FL0001X', NULL),
 ('cli', 'demo', 'loaded', NULL)`)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	testdb.DB(st).Reset() // the pool's connections planned audit_log without the new columns
	rows, _ := testdb.DB(st).Query(ctx, `SELECT action || '|' || coalesce(object_kind, '') || '|' || coalesce(object_id, '') || '|' || coalesce(street_code, '')
  FROM audit_log ORDER BY id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{
		"hazard_registered|hazard|HZ9|310104003",
		"hazard_report|hazard|HZ-gone|",
		"assign|unit|U1|310104004",
		"unit_delete|unit|U7|310104003",
		"login|session|xi|310104003",
		"user_add|user|xi|310104003",
		"import|dataset|enterprises|",
		"inspection|enterprise|91310104MA1FL0001X|",
		"demo|||",
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("backfilled\n%q\nwant\n%q (%v)", got, want, err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `DELETE FROM audit_log`); err == nil {
		t.Error("after up again, a DELETE was allowed")
	}
}

// Deployed as docs/SECURITY.md says (the service's role neither a superuser nor the owner
// of audit_log, with SELECT and INSERT on it), the service's role cannot take the trigger
// away either: no UPDATE, DELETE or TRUNCATE, no ALTER TABLE ... DISABLE TRIGGER, no DROP
// TRIGGER or DROP TABLE. It can still write and read the log.
func TestAuditLogClosedToANonOwner(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	db := testdb.DB(st)
	role := fmt.Sprintf("safegrid_test_app_%d", time.Now().UnixNano())
	var dbname string
	if err := db.QueryRow(ctx, `SELECT current_database()`).Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	// The role's name is the test's own; the statements that take identifiers quote them.
	for _, q := range []string{
		`CREATE ROLE ` + pgx.Identifier{role}.Sanitize() + ` LOGIN NOSUPERUSER PASSWORD 'app-password'`,
		`GRANT CONNECT ON DATABASE ` + pgx.Identifier{dbname}.Sanitize() + ` TO ` + pgx.Identifier{role}.Sanitize(),
		`GRANT USAGE ON SCHEMA public TO ` + pgx.Identifier{role}.Sanitize(),
		`GRANT SELECT, INSERT ON audit_log TO ` + pgx.Identifier{role}.Sanitize(),
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = db.Exec(context.Background(), `DROP OWNED BY `+pgx.Identifier{role}.Sanitize())
		_, _ = db.Exec(context.Background(), `DROP ROLE `+pgx.Identifier{role}.Sanitize())
	})
	u, err := url.Parse(testdb.URL(t, st))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "app-password")
	app, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)

	if _, err := app.Exec(ctx, `INSERT INTO audit_log (actor, action) VALUES ('app', 'login')`); err != nil {
		t.Fatalf("the service's role cannot write the log: %v", err)
	}
	var n int
	if err := app.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor = 'app'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the service's role reads %d records, %v", n, err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET actor = 'someone else'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER ALL`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`DROP TRIGGER audit_log_append_only ON audit_log`,
		`DROP TABLE audit_log`,
		`ALTER TABLE audit_log RENAME TO audit_log_old`,
	} {
		if _, err := app.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: allowed", stmt)
		}
	}
	if got := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE actor = 'app' AND action = 'login'`); got != 1 {
		t.Errorf("the record is changed or gone: %d", got)
	}

	// AuditGuard tells the two apart (serve warns about the first).
	if g, err := st.AuditGuard(ctx); err != nil || !g.Superuser || !g.Owner {
		t.Errorf("the project's role: %+v, %v; want a superuser that owns audit_log", g, err)
	}
	appStore, err := grid.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer appStore.Close()
	if g, err := appStore.AuditGuard(ctx); err != nil || g.Superuser || g.Owner {
		t.Errorf("the app role: %+v, %v; want neither", g, err)
	}
}
