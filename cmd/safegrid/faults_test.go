package main

// The faults of issue 13: the built binary, run as the service and as the CLI, is killed
// and has its database restarted in the middle of imports. These tests start and kill
// real processes; each import is one transaction, so every table must hold either what
// it held before or the whole new file.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

var (
	faultOnce sync.Once
	faultDir  string // the built binary and the generated data, shared by the tests
	faultErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if faultDir != "" {
		os.RemoveAll(faultDir)
	}
	os.Exit(code)
}

// faultKit builds the binary and generates the scale-3 data set as CSV (60,000
// enterprises, 120,000 hazards) once; it returns the binary and the data folder.
func faultKit(t *testing.T) (bin, data string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	faultOnce.Do(func() {
		if faultDir, faultErr = os.MkdirTemp("", "safegrid-faults-"); faultErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(faultDir, "safegrid"), ".").CombinedOutput()
		if err != nil {
			faultErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		out, err = exec.Command(filepath.Join(faultDir, "safegrid"), "generate", "--scale", "3", "--seed", "1",
			"--format", "csv", "--out", filepath.Join(faultDir, "data")).CombinedOutput()
		if err != nil {
			faultErr = fmt.Errorf("generate: %v\n%s", err, out)
		}
	})
	if faultErr != nil {
		t.Fatal(faultErr)
	}
	return filepath.Join(faultDir, "safegrid"), filepath.Join(faultDir, "data")
}

// hazardsFile writes the first n hazards of the generated file with mark appended to
// every description, so rows of this file can be told from rows of another, and returns
// its path and its codes, sorted.
func hazardsFile(t *testing.T, data string, n int, mark string) (string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(data, "hazards.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	code, desc := slices.Index(head, "code"), slices.Index(head, "description")
	if code < 0 || desc < 0 {
		t.Fatalf("hazards.csv header %v", head)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("hazards-%d.csv", n))
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	_ = w.Write(head)
	var codes []string
	for len(codes) < n {
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("hazards.csv has fewer than %d rows: %v", n, err)
		}
		rec[desc] += mark
		codes = append(codes, rec[code])
		_ = w.Write(rec)
	}
	w.Flush()
	if err := errors.Join(w.Error(), out.Close()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(codes)
	return path, codes
}

// csvColumn is one column of a CSV file, sorted.
func csvColumn(t *testing.T, path, col string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(recs[0], col)
	var out []string
	for _, rec := range recs[1:] {
		out = append(out, rec[i])
	}
	slices.Sort(out)
	return out
}

// sumOf is the digest a keyColumn query computes in SQL: md5 of the values joined by
// newlines.
func sumOf(vals []string) string {
	h := md5.Sum([]byte(strings.Join(vals, "\n")))
	return hex.EncodeToString(h[:])
}

// connect opens a connection of the test's own (the service's pool is not the test's).
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshot is every table of a database (row count and a digest of every row), its
// indexes and its constraints, read in one transaction: two equal snapshots hold the
// same data.
func snapshot(t *testing.T, url string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := connect(t, url)
	defer c.Close(ctx)
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, _ := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys' ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	snap := map[string]string{}
	for _, table := range tables {
		var s string
		// The table names come from the catalog, quoted as identifiers.
		// A session's last_seen_at moves whenever its token is used (a read does that too),
		// not with the data: it is left out of the digest.
		q := `SELECT count(*) || ' rows, ' || md5(coalesce(string_agg(md5((to_jsonb(t) - 'last_seen_at')::text), '' ORDER BY md5((to_jsonb(t) - 'last_seen_at')::text)), '')) FROM ` +
			pgx.Identifier{table}.Sanitize() + ` t`
		if err := tx.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		snap[table] = s
	}
	for key, q := range map[string]string{
		"(indexes)":     `SELECT coalesce(string_agg(indexdef, E'\n' ORDER BY indexdef), '') FROM pg_indexes WHERE schemaname = 'public'`,
		"(constraints)": `SELECT coalesce(string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conrelid::regclass::text, conname), '') FROM pg_constraint WHERE connamespace = 'public'::regnamespace`,
		"(triggers)":    `SELECT coalesce(string_agg(tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text, E'\n' ORDER BY tgrelid::regclass::text, tgname), '') FROM pg_trigger WHERE NOT tgisinternal`,
	} {
		var s string
		if err := tx.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		snap[key] = s
	}
	return snap
}

// sameExcept fails the test for every entry of got that differs from want, but those in
// changed.
func sameExcept(t *testing.T, when string, want, got map[string]string, changed ...string) {
	t.Helper()
	for k, w := range want {
		if slices.Contains(changed, k) {
			continue
		}
		if got[k] != w {
			t.Errorf("%s: %s is %s", when, k, difference(w, got[k]))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, were %d", when, len(got), len(want))
	}
}

// difference shows how now differs from was: the lines of each the other lacks.
func difference(was, now string) string {
	wl, nl := strings.Split(was, "\n"), strings.Split(now, "\n")
	var gone, added []string
	for _, l := range wl {
		if !slices.Contains(nl, l) {
			gone = append(gone, l)
		}
	}
	for _, l := range nl {
		if !slices.Contains(wl, l) {
			added = append(added, l)
		}
	}
	return fmt.Sprintf("changed: now %q, before %q", added, gone)
}

// queryInt runs a one-number query on url.
func queryInt(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// keyColumn is sumOf over a column of a table, in SQL.
func keyColumn(t *testing.T, url, table, col string) string {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	var s string
	q := fmt.Sprintf("SELECT md5(coalesce(string_agg(%s, E'\\n' ORDER BY %s COLLATE \"C\"), '')) FROM %s",
		pgx.Identifier{col}.Sanitize(), pgx.Identifier{col}.Sanitize(), pgx.Identifier{table}.Sanitize())
	if err := c.QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitForStatement waits until another session of url's database runs a statement
// matching like (SQL ILIKE), and fails the test after a minute or when stop closes first.
func waitForStatement(t *testing.T, url, like string, stop <-chan struct{}) {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE $1`, like).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case <-stop:
			t.Fatalf("the import ended before a statement like %q was seen", like)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement like %q within a minute", like)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForNoWriters waits until no other session of url's database holds a transaction
// that wrote (one left behind by a killed client ends when its backend notices).
func waitForNoWriters(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for queryInt(t, url, `SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a transaction of the killed service is still open after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// service is `safegrid serve` running as a process of its own.
type service struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *testdb.LogBuffer
}

func startService(t *testing.T, bin, url string, extra ...string) *service {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &service{addr: addr, done: make(chan struct{}), log: &testdb.LogBuffer{}}
	s.cmd = exec.Command(bin, append([]string{"--database-url", url, "serve", "--listen", addr, "--log-level", "warn", "--risk-daily-at", "off"}, extra...)...)
	s.cmd.Env = childEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("service on %s logged:\n%s", addr, s.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("safegrid serve exited: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("safegrid serve not ready after 30 s: %s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 kills the service with SIGKILL: no shutdown, no rollback of its own.
func (s *service) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("service ended with %v, not by SIGKILL", s.cmd.ProcessState)
	}
}

// childEnv is the test's environment without DATABASE_URL: the children get the URL of
// the database under test on their command line.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

// answer is an HTTP response, or the error of a request that got none.
type answer struct {
	status int
	body   []byte
	err    error
}

func (s *service) do(method, path, auth, contentType string, body []byte) answer {
	req, err := http.NewRequest(method, "http://"+s.addr+path, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, err: err}
}

// startImport posts a CSV file to the import route and answers on the channel.
func (s *service) startImport(t *testing.T, auth, kind, path string) <-chan answer {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan answer, 1)
	go func() { ch <- s.do("POST", "/api/v1/import/"+kind, auth, "text/csv", body) }()
	return ch
}

// importOK posts a file and returns the import's result, failing unless it is a 200.
func (s *service) importOK(t *testing.T, auth, kind, path string) map[string]any {
	t.Helper()
	a := <-s.startImport(t, auth, kind, path)
	if a.err != nil || a.status != 200 {
		t.Fatalf("import %s: %d %s %v", kind, a.status, a.body, a.err)
	}
	var res map[string]any
	if err := json.Unmarshal(a.body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// signIn adds an admin and returns a bearer header for them, signed in over HTTP.
func signIn(t *testing.T, s *service, url string) string {
	t.Helper()
	st, err := grid.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const password = "faults-Passw0rd-long-enough"
	if _, err := st.AddUser(context.Background(), "test", grid.User{Username: "faults_admin", Role: grid.RoleAdmin}, password); err != nil {
		t.Fatal(err)
	}
	a := s.do("POST", "/api/v1/auth/login", "", "application/json",
		[]byte(`{"username":"faults_admin","password":"`+password+`"}`))
	var lr struct{ Token string }
	if a.err != nil || a.status != 200 || json.Unmarshal(a.body, &lr) != nil || lr.Token == "" {
		t.Fatalf("login: %d %s %v", a.status, a.body, a.err)
	}
	return "Bearer " + lr.Token
}

// cli runs the binary as a user would and returns its output and error.
func cli(t *testing.T, bin, url string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--database-url", url}, args...)...)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkHazards checks that the hazards table holds exactly the rows of a file: its codes,
// every description with its mark, every row tagged with a district.
func checkHazards(t *testing.T, url string, codes []string, mark string) {
	t.Helper()
	if n := queryInt(t, url, `SELECT count(*) FROM hazards`); n != len(codes) {
		t.Errorf("%d hazards, want the file's %d", n, len(codes))
	}
	if n := queryInt(t, url, `SELECT count(*) FROM hazards WHERE right(description, char_length($1::text)) <> $1::text OR district_code IS NULL`, mark); n != 0 {
		t.Errorf("%d hazards without the new file's description %q or a district", n, mark)
	}
	if got := keyColumn(t, url, "hazards", "code"); got != sumOf(codes) {
		t.Error("the hazards' codes are not the file's")
	}
}

// TestKillDuringImport kills `safegrid serve` with SIGKILL in the middle of imports over
// HTTP: in the bulk COPY into an empty table (secondary indexes dropped), in the COPY of
// an upsert, and in its last statement, after the updates of rows that were there. After
// each kill a new service starts on the same database and every table, index and
// constraint is as before; then the same imports run to completion and the tables hold
// the new files, whole.
func TestKillDuringImport(t *testing.T) {
	t0 := time.Now()
	lap := func(what string) { t.Logf("%5.1f s %s", time.Since(t0).Seconds(), what) }
	bin, data := faultKit(t)
	lap("kit")
	st := testdb.New(t, testdb.Areas)
	url := testdb.URL(t, st)

	// Before: 20,000 hazards, no enterprises.
	before, _ := hazardsFile(t, data, 20000, "")
	if out, err := cli(t, bin, url, "import", "--kind", "hazards", before); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	lap("before")
	next, codes := hazardsFile(t, data, 50000, "（第二批）") // 20,000 updated, 30,000 new
	enterprises := filepath.Join(data, "enterprises.csv")

	// The notification scheduler stays off: it would raise the generated hazards' reminders
	// in the middle of the before/after snapshots this test compares.
	quiet := []string{"--notify-interval", "0"}
	svc := startService(t, bin, url, quiet...)
	auth := signIn(t, svc, url)
	want := snapshot(t, url)
	if !strings.HasPrefix(want["hazards"], "20000 rows") || !strings.HasPrefix(want["enterprises"], "0 rows") {
		t.Fatalf("unexpected start: hazards %s, enterprises %s", want["hazards"], want["enterprises"])
	}

	for _, tc := range []struct {
		name, kind, file string
		statement        string // kill while a statement like this runs
	}{
		{"bulk COPY into the empty enterprises", "enterprises", enterprises, "COPY %enterprises%"},
		{"COPY of the hazards upsert", "hazards", next, "COPY %staging%"},
		{"insert after the hazards' updates", "hazards", next, "WITH w AS (INSERT INTO %hazards%"},
	} {
		ch := svc.startImport(t, auth, tc.kind, tc.file)
		waitForStatement(t, url, tc.statement, svc.done)
		lap("kill " + tc.name)
		svc.kill9(t)
		if a := <-ch; a.err == nil {
			t.Fatalf("%s: the killed service answered %d %s", tc.name, a.status, a.body)
		}
		svc = startService(t, bin, url, quiet...)
		sameExcept(t, "after a kill during the "+tc.name, want, snapshot(t, url))
		if a := svc.do("GET", "/api/v1/me", auth, "", nil); a.status != 200 {
			t.Fatalf("the restarted service: %d %s %v", a.status, a.body, a.err)
		}
		// The killed service's transaction ends when its backend notices; the next
		// import would wait for its locks.
		waitForNoWriters(t, url)
		sameExcept(t, "once the killed import's transaction ended ("+tc.name+")", want, snapshot(t, url))
		lap("checked")
	}

	// Re-run: both imports complete on the restarted service.
	res := svc.importOK(t, auth, "enterprises", enterprises)
	if res["inserted"] != 60000.0 || res["rejected"] != 0.0 {
		t.Errorf("enterprises re-run: %v", res)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM enterprises`); n != 60000 {
		t.Errorf("%d enterprises, want 60000", n)
	}
	if got := keyColumn(t, url, "enterprises", "uscc"); got != sumOf(csvColumn(t, enterprises, "uscc")) {
		t.Error("the enterprises' USCCs are not the file's")
	}
	if n := queryInt(t, url, `SELECT count(*) FROM enterprise_risk_levels WHERE from_level IS NULL AND actor = 'faults_admin'`); n != 60000 {
		t.Errorf("%d first risk levels, want one per enterprise (the killed import left none)", n)
	}
	lap("enterprises")
	res = svc.importOK(t, auth, "hazards", next)
	lap("hazards")
	if res["read"] != 50000.0 || res["updated"] != 20000.0 || res["inserted"] != 30000.0 {
		t.Errorf("hazards re-run: %v", res)
	}
	checkHazards(t, url, codes, "（第二批）")
	if n := queryInt(t, url, `SELECT count(*) FROM hazard_history WHERE note = 'imported'`); n != 50000 {
		t.Errorf("%d imported history rows, want 20,000 before and 30,000 new", n)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM audit_log WHERE action = 'import' AND actor = 'faults_admin'`); n != 2 {
		t.Errorf("%d audited imports by the admin, want the 2 that completed", n)
	}
	// Nothing else changed, and the indexes dropped for the bulk load are back.
	sameExcept(t, "after the re-runs", want, snapshot(t, url), "enterprises", "enterprise_risk_levels", "hazards", "hazard_history", "audit_log", "data_versions")
}

// TestPostgresRestartDuringImport restarts PostgreSQL (a cluster of the test's own) in
// the middle of an import through the running service and of one through the CLI: each
// fails with a sentence saying the connection was lost and nothing was written, nothing
// is written, and the same service answers again once the database is back, /readyz
// reporting the outage meanwhile.
func TestPostgresRestartDuringImport(t *testing.T) {
	bin, data := faultKit(t)
	cl := testdb.NewCluster(t)
	url := cl.URL
	for _, args := range [][]string{
		{"migrate"},
		{"import", "--kind", "areas", filepath.Join(data, "areas.geojson")},
	} {
		if out, err := cli(t, bin, url, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	before, _ := hazardsFile(t, data, 10000, "")
	if out, err := cli(t, bin, url, "import", "--kind", "hazards", before); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	next, codes := hazardsFile(t, data, 40000, "（第二批）")
	third, _ := hazardsFile(t, data, 40000, "（第三批）")

	// The notification scheduler stays off: it would raise the generated hazards' reminders
	// in the middle of the before/after snapshots this test compares.
	quiet := []string{"--notify-interval", "0"}
	svc := startService(t, bin, url, quiet...)
	auth := signIn(t, svc, url)
	want := snapshot(t, url)

	// Through the service: PostgreSQL stops during the COPY.
	ch := svc.startImport(t, auth, "hazards", next)
	waitForStatement(t, url, "COPY %staging%", svc.done)
	cl.Stop()
	a := <-ch
	if a.err != nil {
		t.Fatalf("the import got no answer: %v", a.err)
	}
	checkLost(t, fmt.Sprintf("the import's answer (%d)", a.status), string(a.body))
	if a.status != 503 {
		t.Errorf("import status %d, want 503", a.status)
	}
	var p struct{ Detail string }
	if err := json.Unmarshal(a.body, &p); err != nil || !strings.HasPrefix(p.Detail, "hazards: the database connection was lost") {
		t.Errorf("import problem %s (%v)", a.body, err)
	}
	if r := svc.do("GET", "/readyz", "", "", nil); r.status != 503 {
		t.Errorf("/readyz while the database is down: %d %s", r.status, r.body)
	}
	if r := svc.do("GET", "/api/v1/me", auth, "", nil); r.status != 503 {
		t.Errorf("a request while the database is down: %d %s", r.status, r.body)
	}
	cl.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := svc.do("GET", "/api/v1/me", auth, "", nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service has not recovered 15 s after the restart: %d %s %v", r.status, r.body, r.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := svc.do("GET", "/readyz", "", "", nil); r.status != 200 {
		t.Errorf("/readyz after the restart: %d %s", r.status, r.body)
	}
	sameExcept(t, "after the restart during the service's import", want, snapshot(t, url))

	// The same service, never restarted, runs the import again to completion.
	res := svc.importOK(t, auth, "hazards", next)
	if res["read"] != 40000.0 || res["updated"] != 10000.0 || res["inserted"] != 30000.0 {
		t.Errorf("re-run: %v", res)
	}
	checkHazards(t, url, codes, "（第二批）")
	sameExcept(t, "after the re-run", want, snapshot(t, url), "hazards", "hazard_history", "audit_log", "data_versions")

	// Through the CLI: PostgreSQL restarts during the write after the updates.
	want = snapshot(t, url)
	cmd := exec.Command(bin, "--database-url", url, "import", "--kind", "hazards", third)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }()
	waitForStatement(t, url, "WITH w AS (INSERT INTO %hazards%", exited)
	cl.Stop()
	cl.Start()
	<-exited
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("safegrid import under a restart: %v\n%s", werr, out.String())
	}
	checkLost(t, "the CLI's output", out.String())
	if !strings.Contains(out.String(), third+": hazards: the database connection was lost") {
		t.Errorf("the CLI's output does not name the file and the kind:\n%s", out.String())
	}
	sameExcept(t, "after the restart during the CLI's import", want, snapshot(t, url))
	checkHazards(t, url, codes, "（第二批）")
}

// checkLost checks that an import's error says, as a sentence, that the connection was
// lost, that nothing was written and to run it again, with no SQL error text.
func checkLost(t *testing.T, what, text string) {
	t.Helper()
	for _, want := range []string{"the database connection was lost", "nothing was written", "run the import again"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q:\n%s", what, want, text)
		}
	}
	for _, bad := range []string{"SQLSTATE", "FATAL", "terminating connection", "unexpected EOF", "copy:"} {
		if strings.Contains(text, bad) {
			t.Errorf("%s shows %q:\n%s", what, bad, text)
		}
	}
}
