package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb/maptile"
	"github.com/valyala/fasthttp/fasthttputil"

	"safegrid/grid"
	"safegrid/grid/testdb"
	"safegrid/web"
)

// FuzzHTTP sends whatever the fuzzer makes of a request to the running service, over its
// real HTTP parser, router, sign-in and handlers, against a real database with the grid
// fixture's data and a user of each role. The property: no request is answered with a
// 5xx, and every 4xx is application/problem+json with its status in the body.
//
// An input is (route, method, who, path, query, ctype, body, cred):
//   - route chooses a route of the server's own list, "METHOD /path/:param" as registered
//     (any other text picks one by its hash, so every route family is reached);
//   - method is the request's method when it is one of HTTP's, and the route's own
//     otherwise; after a "!" it is sent as it is (a method fiber does not know);
//   - path fills the route's parameters in order, separated by "/" (an empty or missing
//     one takes a value that exists in the fixture); a path starting with "/" is sent
//     as it is instead;
//   - query is the query string, body the body, ctype the Content-Type (none when empty);
//   - who is the credential: anon, basic (cred base64-encoded as Basic), basic-raw and
//     bearer-raw (cred as it is), or the role of a fixture user, by token (admin,
//     planner, street, officer) or by Basic (basic-admin, basic-street).
//
// Bytes the HTTP framing cannot carry (CR, LF, space and other controls in the request
// line; CR and LF in a header) are percent-encoded or dropped; everything else, NUL and
// invalid UTF-8 included, goes through as it is.
//
// Every write is allowed, so the database changes as the fuzzer runs. What would stop
// later inputs from meaning anything is put back after each successful write (see
// fuzzHarness.restore): the fixture users' role, street, password and enabled state, their
// tokens (a logout or a password change revokes them), and the officer's grid unit.
// The login rate limit is raised out of reach: inputs that fail sign-ins would otherwise
// turn every later one into a 429 (TestLoginLimiterUnderANameSpray tests the limiter).
//
// `make fuzz` runs it; the seed corpus is in testdata/fuzz/FuzzHTTP and runs in make test.
func FuzzHTTP(f *testing.F) {
	h := newFuzzHarness(f)
	f.Fuzz(func(t *testing.T, route, method, who, path, query, ctype string, body, cred []byte) {
		r := h.request(route, method, who, path, query, ctype, body, cred)
		t.Logf("%.200q → %d %.300s", r.raw[:bytes.IndexByte(r.raw, '\r')+1], r.status, r.body) // go test -v shows each request line
		h.check(t, r)
	})
}

// fuzzRoute is one route of the server: documented or plain.
type fuzzRoute struct{ method, path string }

type fuzzHarness struct {
	fx     *gridFixture
	routes []fuzzRoute
	byKey  map[string]int
	ln     *fasthttputil.InmemoryListener
	logs   *tailLog
	// users are the fixture's users as they must stay; tokens their bearer tokens.
	users  []fuzzUser
	mu     sync.Mutex
	tokens map[string]string
	params map[string]string // a value that exists for each route parameter
}

type fuzzUser struct {
	name, role, street, hash string
	district                 string // the district bureau's (区安监局)
}

func newFuzzHarness(f testing.TB) *fuzzHarness {
	f.Helper()
	logs := &tailLog{max: 64 << 10}
	st := testdb.New(f, nil)
	ts := serverOn(f, st, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c.LoginAttempts = 1 << 30
	})
	fx := newGridFixtureOn(f, ts)
	h := &fuzzHarness{fx: fx, logs: logs, byKey: map[string]int{}, tokens: map[string]string{}}
	for _, r := range ts.routes {
		h.routes = append(h.routes, fuzzRoute{r.method, r.path})
	}
	for _, r := range ts.undocumented {
		m, p, _ := strings.Cut(r, " ")
		h.routes = append(h.routes, fuzzRoute{m, p})
	}
	for i, r := range h.routes {
		h.byKey[r.method+" "+r.path] = i
	}
	ctx := context.Background()
	if _, err := ts.st.AddUser(ctx, "test", grid.User{Username: "qu", Role: grid.RoleDistrict, DistrictCode: "310101"}, "password-qu"); err != nil {
		f.Fatal(err)
	}
	for _, u := range []struct{ name, role, street string }{
		{"adm", grid.RoleAdmin, ""}, {"plan", grid.RolePlanner, ""}, {"sta", grid.RoleStreet, fx.streetA},
		{"stb", grid.RoleStreet, fx.streetB}, {"off1", grid.RoleOfficer, ""}, {"off3", grid.RoleOfficer, ""},
	} {
		var hash string
		if err := testdb.DB(st).QueryRow(ctx, `SELECT password_hash FROM users WHERE username = $1`, u.name).Scan(&hash); err != nil {
			f.Fatal(err)
		}
		h.users = append(h.users, fuzzUser{u.name, u.role, u.street, hash, ""})
	}
	var quHash string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT password_hash FROM users WHERE username = 'qu'`).Scan(&quHash); err != nil {
		f.Fatal(err)
	}
	h.users = append(h.users, fuzzUser{"qu", grid.RoleDistrict, "", quHash, "310101"})
	// fz-victim is the default target of the admin's user routes: disabling, removing
	// and resetting it leaves the fixture's users alone unless the input names them.
	ts.addUser(f, "fz-victim", grid.RoleStreet, fx.streetB)
	var victim string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT password_hash FROM users WHERE username = 'fz-victim'`).Scan(&victim); err != nil {
		f.Fatal(err)
	}
	h.users = append(h.users, fuzzUser{"fz-victim", grid.RoleStreet, fx.streetB, victim, ""})
	h.tokens["admin"], h.tokens["street"] = fx.admin, fx.sta
	h.tokens["district"] = ts.login(f, "qu")
	h.tokens["officer"], h.tokens["planner"] = fx.off1, fx.planner
	tile := maptile.At(centre(fx.c1, 0, 0), 14)
	h.params = map[string]string{
		"id": strconv.FormatInt(fx.hazardID["H1"], 10), "username": "fz-victim", "collectionId": "enterprises",
		"featureId": "1", "layer": "enterprises", "kind": "hazards", "cell": fx.c1.String(),
		"z": "14", "x": strconv.Itoa(int(tile.X)), "y": strconv.Itoa(int(tile.Y)),
	}
	ln := fasthttputil.NewInmemoryListener()
	ctxServe, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctxServe, ln) }()
	f.Cleanup(func() { cancel(); <-done })
	h.ln = ln
	return h
}

// fuzzReq is one request as sent, for the failure message.
type fuzzReq struct {
	raw    []byte
	method string
	write  bool // a method that may change something
	err    error
	status int
	header http.Header
	body   []byte
}

// request builds the raw request of an input, sends it and reads the answer.
func (h *fuzzHarness) request(route, method, who, path, query, ctype string, body, cred []byte) *fuzzReq {
	i, ok := h.byKey[route]
	if !ok {
		sum := fnv.New32a()
		_, _ = sum.Write([]byte(route))
		i = int(sum.Sum32() % uint32(len(h.routes)))
	}
	r := h.routes[i]
	if raw, ok := strings.CutPrefix(method, "!"); ok {
		method = requestToken(raw)
	} else if !routableMethod([]byte(method)) {
		method = r.method
	}
	target := path
	if !strings.HasPrefix(path, "/") {
		target = h.fill(r.path, strings.Split(path, "/"))
	}
	target = requestTarget(target)
	if query != "" {
		target += "?" + requestTarget(query)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: safegrid.test\r\nConnection: close\r\n", method, target)
	if auth := h.credential(who, cred); auth != "" {
		b.WriteString("Authorization: " + headerValue(auth) + "\r\n")
	}
	if ctype != "" {
		b.WriteString("Content-Type: " + headerValue(ctype) + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	req := &fuzzReq{raw: append([]byte(b.String()), body...), method: method}
	req.write = method != "GET" && method != "HEAD" && method != "OPTIONS"
	h.send(req)
	return req
}

// fill puts values (or the fixture's own) into a route's parameters.
func (h *fuzzHarness) fill(route string, values []string) string {
	n := 0
	next := func(name string) string {
		var v string
		if n < len(values) {
			v = values[n]
		}
		n++
		if v != "" {
			return v
		}
		switch {
		case name == "code" && strings.Contains(route, "/streets/"):
			return h.fx.streetA
		case name == "code":
			return "U2"
		case name == "id" && strings.Contains(route, "/sessions/"):
			return "1"
		case name == "*":
			return "app.js"
		}
		if v, ok := h.params[name]; ok {
			return v
		}
		return "1"
	}
	out := fiberParam.ReplaceAllStringFunc(route, func(m string) string {
		return next(fiberParam.FindStringSubmatch(m)[1])
	})
	return strings.ReplaceAll(out, "*", next("*"))
}

func (h *fuzzHarness) credential(who string, cred []byte) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch who {
	case "", "anon":
		return ""
	case "basic":
		return "Basic " + base64.StdEncoding.EncodeToString(cred)
	case "basic-raw":
		return "Basic " + string(cred)
	case "bearer-raw":
		return "Bearer " + string(cred)
	case "basic-admin":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("adm:password-adm"))
	case "basic-street":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("sta:password-sta"))
	}
	if tok, ok := h.tokens[who]; ok {
		return tok
	}
	return string(cred) // any other text: cred is the whole header value
}

func (h *fuzzHarness) send(r *fuzzReq) {
	conn, err := h.ln.Dial()
	if err != nil {
		r.err = err
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	// The server may answer (a 413, a 400) before it has read the whole body.
	go func() { _, _ = conn.Write(r.raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: r.method})
	if err != nil {
		r.err = err
		return
	}
	defer resp.Body.Close()
	r.status, r.header = resp.StatusCode, resp.Header
	r.body, r.err = io.ReadAll(resp.Body)
}

// check is the property; it also puts the fixture back after a successful write.
func (h *fuzzHarness) check(t *testing.T, r *fuzzReq) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nrequest: %q\nresponse: %d %s\nserver log: %s", fmt.Sprintf(format, args...), r.raw, r.status, r.body, h.logs.String())
	}
	switch {
	case r.err != nil:
		fail("no answer: %v", r.err)
	case r.status == fiber.StatusServiceUnavailable && !web.Built() && (r.method == "HEAD" || bytes.Contains(r.body, []byte("make build"))):
		// The map page of a binary built without its bundle (go test before make build):
		// the server's state, not the request's doing (TestWebPage).
	case r.status >= 500:
		fail("a client's request answered %d", r.status)
	case strings.Contains(string(r.body), "SQLSTATE"):
		fail("SQL error text in the answer")
	case r.status >= 400:
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			fail("a %d with Content-Type %q", r.status, ct)
		}
		var p problem
		if r.method != "HEAD" && (json.Unmarshal(r.body, &p) != nil || p.Status != r.status || p.Title == "") {
			fail("a %d whose body is not its problem", r.status)
		}
	case r.write && r.status < 300:
		if err := h.restore(); err != nil {
			t.Fatalf("putting the fixture back: %v", err)
		}
	}
}

// restore puts the fixture's users, their tokens and the officer's grid unit back as
// they were, after a write that may have changed them. It is cheap when nothing changed.
func (h *fuzzHarness) restore() error {
	ctx := context.Background()
	db := testdb.DB(h.fx.ts.st)
	for _, u := range h.users {
		var street, district any
		if u.street != "" {
			street = u.street
		}
		if u.district != "" {
			district = u.district
		}
		if _, err := db.Exec(ctx, `UPDATE users SET disabled = false, removed_at = NULL, role = $2, street_code = $3, password_hash = $4, district_code = $5
WHERE username = $1 AND (disabled OR removed_at IS NOT NULL OR role <> $2 OR street_code IS DISTINCT FROM $3 OR password_hash <> $4
       OR district_code IS DISTINCT FROM $5)`,
			u.name, u.role, street, u.hash, district); err != nil {
			return err
		}
	}
	if _, err := db.Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id)
SELECT 'U1', '甲一网格', $1, id FROM users WHERE username = 'off1'
ON CONFLICT (code) DO UPDATE SET officer_id = EXCLUDED.officer_id, street_code = EXCLUDED.street_code
WHERE grid_units.officer_id IS DISTINCT FROM EXCLUDED.officer_id OR grid_units.street_code <> EXCLUDED.street_code`, h.fx.streetA); err != nil {
		return err
	}
	for _, c := range []int64{int64(h.fx.c1), int64(h.fx.c2)} {
		if _, err := db.Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310101', $1, 'U1')
ON CONFLICT (h3) DO UPDATE SET unit_code = 'U1' WHERE grid_cells.unit_code <> 'U1'`, c); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for who, name := range map[string]string{"admin": "adm", "planner": "plan", "street": "sta", "officer": "off1", "district": "qu"} {
		tok := strings.TrimPrefix(h.tokens[who], "Bearer ")
		if _, err := h.fx.ts.st.Authenticate(ctx, tok); err == nil {
			continue
		}
		s, err := h.fx.ts.st.Login(ctx, name, "password-"+name, time.Hour)
		if err != nil {
			return fmt.Errorf("signing %s in again: %w", name, err)
		}
		h.tokens[who] = "Bearer " + s.Token
	}
	return nil
}

// requestToken keeps the bytes of an HTTP method the request line can carry.
func requestToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// requestTarget percent-encodes what would end or break the request line (controls,
// space, DEL, '#'); NUL, '%' and bytes above 0x7f stay, so raw bad bytes reach the server.
func requestTarget(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != 0) || c == ' ' || c == 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// headerValue drops what would end a header line.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// tailLog keeps the last max bytes written to it: the server's warnings and errors, shown
// when an input fails, without growing through a long fuzz run.
type tailLog struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (l *tailLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - l.max; over > 0 {
		l.buf = slices.Clone(l.buf[over:])
	}
	return len(p), nil
}

func (l *tailLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// The harness puts back what a successful write takes from later inputs: after a logout,
// a password change, disabling, removing and demoting fixture users and taking the
// officer's grid unit away, every role still signs in and the officer still has cells.
func TestFuzzHarnessPutsTheFixtureBack(t *testing.T) {
	h := newFuzzHarness(t)
	const J = "application/json"
	for _, in := range []struct{ route, who, path, body string }{
		{"POST /api/v1/auth/logout", "admin", "", ""},
		{"POST /api/v1/me/password", "street", "", `{"old_password":"password-sta","new_password":"another-password"}`},
		{"POST /api/v1/admin/users/:username/disable", "admin", "off1", ""},
		{"DELETE /api/v1/admin/users/:username", "admin", "plan", ""},
		{"PATCH /api/v1/admin/users/:username", "admin", "sta", `{"role":"planner"}`},
		{"PATCH /api/v1/admin/users/:username", "admin", "qu", `{"role":"street","street_code":"310101002"}`},
		{"DELETE /api/v1/grid/units/:code", "admin", "U1", ""},
	} {
		r := h.request(in.route, "", in.who, in.path, "", J, []byte(in.body), nil)
		if r.status/100 != 2 {
			t.Fatalf("%s: %d %s", in.route, r.status, r.body)
		}
		h.check(t, r)
	}
	for _, who := range []string{"admin", "planner", "street", "officer", "district"} {
		if r := h.request("GET /api/v1/me", "", who, "", "", "", nil, nil); r.status != 200 {
			t.Errorf("%s after the writes: %d %s", who, r.status, r.body)
		}
	}
	if r := h.request("GET /ogc/collections", "", "basic-street", "", "", "", nil, nil); r.status != 200 {
		t.Errorf("sta's Basic credentials after the writes: %d %s", r.status, r.body)
	}
	r := h.request("GET /api/v1/me/cells", "", "officer", "", "", "", nil, nil)
	var cells struct{ Features []json.RawMessage }
	if err := json.Unmarshal(r.body, &cells); err != nil || r.status != 200 || len(cells.Features) != 2 {
		t.Errorf("the officer's cells: %d %s", r.status, r.body)
	}
	if r := h.request("GET /api/v1/me", "", "street", "", "", "", nil, nil); !bytes.Contains(r.body, []byte(`"street"`)) {
		t.Errorf("sta is no longer a street office: %s", r.body)
	}
	if r := h.request("GET /api/v1/me", "", "district", "", "", "", nil, nil); !bytes.Contains(r.body, []byte(`"district_code":"310101"`)) {
		t.Errorf("qu is no longer 310101's district bureau: %s", r.body)
	}
}
