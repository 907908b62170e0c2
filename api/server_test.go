package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

func TestHealthzAndRequestID(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, body := ts.do(t, "GET", "/healthz", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	if len(resp.Header.Get("X-Request-ID")) != 24 {
		t.Errorf("no generated request id: %q", resp.Header.Get("X-Request-ID"))
	}
	resp, _ = ts.do(t, "GET", "/healthz", "", "X-Request-ID", "abc-123")
	if got := resp.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("request id %q, want the client's abc-123", got)
	}
	resp, _ = ts.do(t, "GET", "/healthz", "", "X-Request-ID", "evil\"} injected")
	if got := resp.Header.Get("X-Request-ID"); strings.Contains(got, "evil") {
		t.Errorf("an unsafe request id was kept: %q", got)
	}
	if !strings.Contains(ts.logs.String(), `"request_id":"abc-123"`) {
		t.Errorf("the access log lacks the request id:\n%s", ts.logs)
	}
}

// deadStore is a store whose pool points at a port nothing listens on.
func deadStore(t *testing.T) *grid.Store {
	st, err := grid.OpenLazy(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestReadyz(t *testing.T) {
	ts := newTestServer(t, nil)
	if resp, body := ts.do(t, "GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Fatalf("readyz with a database: %d %s", resp.StatusCode, body)
	}
	ts.draining.Store(true)
	resp, body := ts.do(t, "GET", "/readyz", "")
	problemOf(t, resp, body, 503)
	ts.draining.Store(false)

	dead := serverOn(t, deadStore(t), nil)
	resp, body = dead.do(t, "GET", "/readyz", "")
	p := problemOf(t, resp, body, 503)
	if strings.Contains(p.Detail, "127.0.0.1") || strings.Contains(p.Detail, "refused") {
		t.Errorf("the detail leaks the connection error: %q", p.Detail)
	}
}

// With the database down, a request that needs it is a 503 with Retry-After, not a 401
// or a 500 (here: login, which reads the users table).
func TestDatabaseDownIs503(t *testing.T) {
	dead := serverOn(t, deadStore(t), nil)
	resp, body := dead.do(t, "POST", "/api/v1/auth/login", `{"username":"a1","password":"password-a1"}`)
	problemOf(t, resp, body, 503)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	resp, body = dead.do(t, "GET", "/api/v1/me", "", "Authorization", "Bearer abc")
	problemOf(t, resp, body, 503)
}

// A connection the server drops mid-query (as when PostgreSQL restarts) is a 503, and the
// pool replaces the connection by itself: the next request succeeds.
func TestDroppedConnectionIs503ThenRecovers(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")
	ts.route("GET", "/api/v1/test/terminate", Operation{Summary: "test", Response: healthResponse{}}, func(c *fiber.Ctx) error {
		_, err := testdb.DB(ts.st).Exec(c.UserContext(), `SELECT pg_terminate_backend(pg_backend_pid())`)
		return err
	})
	resp, body := ts.do(t, "GET", "/api/v1/test/terminate", "", "Authorization", auth)
	problemOf(t, resp, body, 503)
	for i := range 3 {
		if resp, body := ts.do(t, "GET", "/api/v1/me", "", "Authorization", auth); resp.StatusCode != 200 {
			t.Fatalf("request %d after the drop: %d %s", i, resp.StatusCode, body)
		}
	}
}

func TestRequestTimeoutIs503(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")
	ts.cfg.RequestTimeout = 200 * time.Millisecond // after the login: bcrypt is slow under -race
	ts.route("GET", "/api/v1/test/slow", Operation{Summary: "test", Response: healthResponse{}}, func(c *fiber.Ctx) error {
		_, err := testdb.DB(ts.st).Exec(c.UserContext(), `SELECT pg_sleep(5)`)
		return err
	})
	start := time.Now()
	resp, body := ts.do(t, "GET", "/api/v1/test/slow", "", "Authorization", auth)
	problemOf(t, resp, body, 503)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %v", d)
	}
}

// The statement_timeout set through grid.Open holds on every connection of the pool.
func TestStatementTimeoutOption(t *testing.T) {
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)
	cfg := Config{StatementTimeout: 1500 * time.Millisecond}
	st2, err := grid.Open(context.Background(), url, cfg.StoreOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var v, app string
	if err := testdb.DB(st2).QueryRow(context.Background(), `SELECT current_setting('statement_timeout'), current_setting('application_name')`).Scan(&v, &app); err != nil {
		t.Fatal(err)
	}
	if v != "1500ms" || app != "safegrid" {
		t.Errorf("statement_timeout %q, application_name %q", v, app)
	}
}

// servedOn starts the server on a real socket, as `safegrid serve` does.
func servedOn(t *testing.T, ts *testServer) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Links point where the clients (GDAL, OWSLib) reach it, as --public-url would say.
	ts.public = publicBase{scheme: "http", host: ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, ln) }()
	var once bool
	stop = func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

// A client that hangs up cancels its query: the statement disappears from
// pg_stat_activity long before it would have finished.
func TestClientDisconnectCancelsQuery(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")
	gotErr := make(chan error, 1)
	ts.route("GET", "/api/v1/test/sleep", Operation{Summary: "test", Response: healthResponse{}}, func(c *fiber.Ctx) error {
		_, err := testdb.DB(ts.st).Exec(c.UserContext(), `SELECT pg_sleep(30) /* disconnect-test */`)
		gotErr <- err
		return err
	})
	addr, _ := servedOn(t, ts)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /api/v1/test/sleep HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n", auth)
	running := func() int {
		var n int
		_ = testdb.DB(ts.st).QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30) /* disconnect-test%' AND pid <> pg_backend_pid()`).Scan(&n)
		return n
	}
	waitFor(t, 5*time.Second, func() bool { return running() == 1 }, "the query to start")
	conn.Close()
	start := time.Now()
	select {
	case err := <-gotErr:
		if !errors.Is(err, context.Canceled) && !strings.Contains(fmt.Sprint(err), "cancel") {
			t.Errorf("the query ended with %v, want a cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the query was not cancelled 5 s after the client left")
	}
	waitFor(t, 5*time.Second, func() bool { return running() == 0 }, "the statement to leave pg_stat_activity")
	t.Logf("cancelled %v after the client left", time.Since(start))
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(ts.logs.String(), `"status":499`) }, "the 499 access log line")
}

// SIGTERM (the context ending) lets the request in flight finish before Serve returns.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.route("GET", "/api/v1/test/slowok", Operation{Summary: "test", Auth: AuthPublic, Response: healthResponse{}}, func(c *fiber.Ctx) error {
		if _, err := testdb.DB(ts.st).Exec(c.UserContext(), `SELECT pg_sleep(0.7)`); err != nil {
			return err
		}
		return c.JSON(healthResponse{Status: "done"})
	})
	addr, stop := servedOn(t, ts)
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/v1/test/slowok")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		res <- result{status: resp.StatusCode, body: line}
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("Serve returned after %v, before the request could finish", time.Since(start))
	}
	r := <-res
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "done") {
		t.Fatalf("the in-flight request got %+v", r)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.route("GET", "/api/v1/test/items/:id", Operation{Summary: "test", Auth: AuthPublic, Response: healthResponse{}}, func(c *fiber.Ctx) error {
		return c.JSON(healthResponse{Status: c.Params("id")})
	})
	for _, p := range []string{"/api/v1/test/items/41", "/api/v1/test/items/42", "/no/such/path/1", "/no/such/path/2"} {
		ts.do(t, "GET", p, "")
	}
	resp, body := ts.do(t, "GET", "/metrics", "")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	m := string(body)
	want := `safegrid_http_requests_total{method="GET",route="/api/v1/test/items/:id",status="2xx"} 2`
	if !strings.Contains(m, want) {
		t.Errorf("metrics lack %s", want)
	}
	for _, raw := range []string{"items/41", "items/42", "/no/such"} {
		if strings.Contains(m, raw) {
			t.Errorf("a raw path %q became a label", raw)
		}
	}
	if !strings.Contains(m, `safegrid_http_unmatched_requests_total{status="4xx"} 2`) {
		t.Error("unmatched requests are not counted")
	}
	if !strings.Contains(m, "safegrid_db_pool_max_conns") {
		t.Error("no pool metrics")
	}
}

// A label is not a view of fasthttp's reused buffers: after requests of other methods
// (a POST's "POST" once turned into "GETT" in a stored label) /metrics still answers.
func TestMetricsLabelsOwnTheirStrings(t *testing.T) {
	ts := newTestServer(t, nil)
	for range 2 {
		for _, m := range []string{"POST", "GET", "POST"} {
			ts.do(t, m, "/api/v1/auth/login", `{"username":"nobody","password":"wrong-password"}`, "Content-Type", "application/json")
			ts.do(t, "GET", "/healthz", "")
		}
		if resp, body := ts.do(t, "GET", "/metrics", ""); resp.StatusCode != 200 {
			t.Fatalf("metrics: %d %s", resp.StatusCode, body)
		}
	}
	_, body := ts.do(t, "GET", "/metrics", "")
	for _, m := range []string{"POST", "GET"} {
		if !strings.Contains(string(body), `method="`+m+`"`) {
			t.Errorf("no %s label in the metrics", m)
		}
	}
}

func TestNotFoundAndMethodNotAllowedAreProblems(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, body := ts.do(t, "GET", "/api/v1/nothing-here", "")
	problemOf(t, resp, body, 404)
	resp, body = ts.do(t, "DELETE", "/api/v1/auth/login", "")
	problemOf(t, resp, body, 405)
}

// The schema reflection describes the Go types handlers encode.
func TestSchemaReflection(t *testing.T) {
	type inner struct {
		N int64 `json:"n"`
	}
	type outer struct {
		Name  string            `json:"name" doc:"the name"`
		Kind  string            `json:"kind,omitempty" enum:"a,b"`
		In    *inner            `json:"in"`
		List  []inner           `json:"list"`
		Tags  map[string]string `json:"tags,omitempty"`
		When  time.Time         `json:"when"`
		Skip  string            `json:"-"`
		inner                   // embedded: its fields are flattened
	}
	sc := newSchemas()
	ref := sc.of(outer{})
	if ref["$ref"] != "#/components/schemas/Outer" {
		t.Fatalf("ref %v", ref)
	}
	got, _ := json.Marshal(sc.defs["Outer"])
	for _, want := range []string{
		`"name":{"description":"the name","type":"string"}`,
		`"kind":{"enum":["a","b"],"type":"string"}`,
		`"in":{"allOf":[{"$ref":"#/components/schemas/Inner"}],"nullable":true}`,
		`"list":{"items":{"$ref":"#/components/schemas/Inner"},"type":"array"}`,
		`"when":{"format":"date-time","type":"string"}`,
		`"n":{"format":"int64","type":"integer"}`,
		`"required":["name","in","list","when","n"]`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("schema %s\nlacks %s", got, want)
		}
	}
	if strings.Contains(string(got), "Skip") {
		t.Error("json:\"-\" field documented")
	}
}
