package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// A username no account can have is refused (422 naming username) before the limiter
// counts it or audit_log stores it; the rule is the users table's own CHECK.
func TestLoginChecksTheNameFirst(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	bad := []string{strings.Repeat("x", 65), "a", "ann smith", "<script>", "安全员", "ann\\nINFO forged", "a%00b"}
	for _, name := range bad {
		resp, body := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"`+name+`","password":"whatever-it-is"}`)
		p := problemOf(t, resp, body, 422)
		if len(p.Errors) != 1 || p.Errors[0].Field != "username" {
			t.Errorf("%q: %+v", name, p)
		}
	}
	if n, _ := ts.logins.size(); n != 0 {
		t.Errorf("the limiter holds %d entries for refused names", n)
	}
	var rows, long int
	if err := testdb.DB(ts.st).QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'login_failed'),
		count(*) FILTER (WHERE length(actor) > 64 OR length(coalesce(target, '')) > 64) FROM audit_log`).Scan(&rows, &long); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || long != 0 {
		t.Errorf("audit_log: %d failed logins, %d overlong names stored for refused names", rows, long)
	}
	// A well-formed unknown name is still the plain 401 of a wrong password, and its audit
	// record keeps the caller's address beside the name it claimed.
	resp, body := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"nobody","password":"whatever-it-is"}`)
	problemOf(t, resp, body, 401)
	listen, _ := servedOn(t, ts) // over a socket, so the request has a client address
	if st, body := post(t, listen, "/api/v1/auth/login", `{"username":"nobody","password":"whatever-it-is"}`); st != 401 {
		t.Fatalf("over a socket: %d %s", st, body)
	}
	var actor, addr string
	if err := testdb.DB(ts.st).QueryRow(context.Background(), `SELECT actor, coalesce(details->>'addr', '') FROM audit_log
		WHERE action = 'login_failed' ORDER BY id DESC LIMIT 1`).Scan(&actor, &addr); err != nil {
		t.Fatal(err)
	}
	if actor != "nobody" || addr != "127.0.0.1" {
		t.Errorf("failed sign-in audited as actor %q from %q, want nobody from 127.0.0.1", actor, addr)
	}
}

// A spray of 20,000 distinct usernames from one address: the address is blocked after
// addrFactor × LoginAttempts failures, the limiter's tables stay bounded, the spray
// stores nothing more in audit_log, and another address signs in as usual.
func TestLoginLimiterUnderANameSpray(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	const names = 20000
	blocked := 0
	for i := range names {
		resp, _ := ts.do(t, "POST", "/api/v1/auth/login", fmt.Sprintf(`{"username":"spray%05d","password":"wrong-password"}`, i), "X-Forwarded-For", "10.9.9.9")
		switch resp.StatusCode {
		case 429:
			blocked++
		case 401:
			if i-blocked > 2*addrFactor*DefaultConfig().LoginAttempts {
				t.Fatalf("%d failures from one address and still not blocked", i-blocked)
			}
		default:
			t.Fatalf("name %d: %d", i, resp.StatusCode)
		}
	}
	want := addrFactor * DefaultConfig().LoginAttempts
	if blocked != names-want {
		t.Errorf("%d of %d attempts blocked, want all after the first %d", blocked, names, want)
	}
	if n, a := ts.logins.size(); n > want || a != 1 {
		t.Errorf("limiter holds %d name keys and %d addresses after the spray", n, a)
	}
	var failed int
	_ = testdb.DB(ts.st).QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'login_failed'`).Scan(&failed)
	if failed != want {
		t.Errorf("%d failed logins audited, want %d", failed, want)
	}
	resp, body := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann","password":"password-ann"}`, "X-Forwarded-For", "10.9.9.10")
	if resp.StatusCode != 200 {
		t.Errorf("another address: %d %s", resp.StatusCode, body)
	}
	resp, _ = ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann","password":"password-ann"}`, "X-Forwarded-For", "10.9.9.9")
	if resp.StatusCode != 429 {
		t.Errorf("the spraying address with a good password: %d, want 429", resp.StatusCode)
	}
}

// The limiter's tables are LRUs: distinct names from distinct addresses never hold more
// than limiterEntries keys each.
func TestLimiterIsBounded(t *testing.T) {
	l := newLimiter(5, time.Minute)
	for i := range 3 * limiterEntries {
		l.fail(fmt.Sprintf("user%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n, a := l.size(); n != limiterEntries || a != limiterEntries {
		t.Errorf("%d names, %d addresses", n, a)
	}
	for range 5 {
		l.fail("ann", "10.0.0.1")
	}
	if l.retryAfter("ann", "10.0.0.1") == 0 || l.retryAfter("bob", "10.0.0.1") != 0 || l.retryAfter("ann", "10.0.0.2") != 0 {
		t.Error("per-name limit")
	}
}

// rawGet sends a request line as it is (bytes a client library would escape) and
// returns the status and body.
func rawGet(t *testing.T, addr, target string, header ...string) (int, string) {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\r\nHost: safegrid\r\n"
	for i := 0; i+1 < len(header); i += 2 {
		req += header[i] + ": " + header[i+1] + "\r\n"
	}
	resp, body := rawRequest(t, addr, req+"\r\n")
	return resp.StatusCode, string(body)
}

// NUL and bytes that are not UTF-8 in query and path parameters and in Basic credentials
// are a 400 problem naming what is wrong, never a 500 from PostgreSQL.
func TestBadBytesInParameters(t *testing.T) {
	f := newGridFixture(t)
	addr, _ := servedOn(t, f.ts)
	street := "/api/v1/streets/" + f.streetA + "/hazards"
	for _, tc := range []struct {
		target, auth string
		status       int
		field        string
	}{
		{street + "?category=%00", f.sta, 400, "category"},
		{street + "?category=%FF%FE", f.sta, 400, "category"},
		{street + "?category=a\xffb", f.sta, 400, "category"},
		{street + "?community=%00", f.sta, 400, "community"},
		{street + "?%FF=1", f.sta, 400, "(a query parameter name)"},
		{"/api/v1/grid/units/U\xff1", f.admin, 400, "code"},
		{"/api/v1/grid/units?street=%00", f.admin, 400, "street"},
		{"/api/v1/cells/89\xff", f.off1, 400, "cell"},
		{"/ogc/collections/enterprises/items?name=%00", f.admin, 400, "name"},
		{"/api/v1/hazards/1\xff", f.admin, 400, "id"},
	} {
		st, body := rawGet(t, addr, tc.target, "Authorization", tc.auth)
		if st != tc.status || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("%q: %d %s", tc.target, st, body)
		}
	}
	basic := func(cred string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) }
	for _, cred := range []string{"a\x00b:password", "a\xffb:password", "ann:pass\x00word", "ann:\xff\xfe", strings.Repeat("u", 5000) + ":x"} {
		st, body := rawGet(t, addr, "/ogc/collections", "Authorization", basic(cred))
		if st != 401 || !strings.Contains(body, "malformed Basic credentials") {
			t.Errorf("Basic %.20q: %d %s", cred, st, body)
		}
	}
}

// An unknown street or district in an admin's filter is a 400 naming the parameter, not
// an empty list that looks like "nothing there".
func TestUnknownAreaInAFilterIs400(t *testing.T) {
	f := newGridFixture(t)
	for _, tc := range []struct{ path, field string }{
		{"/api/v1/grid/units?street=310199999", "street"},
		{"/api/v1/grid/units?street=31019", "street"},
		{"/api/v1/grid/audit?street=310199999", "street"},
		{"/api/v1/analysis/hazard-clusters?street=310199999", "street"},
		{"/api/v1/analysis/hazard-clusters?district=310199", "district"},
	} {
		resp, body := f.get(t, f.admin, tc.path, nil)
		p := problemOf(t, resp, body, 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %+v", tc.path, p)
		}
	}
	for _, path := range []string{"/api/v1/grid/units?street=" + f.streetA, "/api/v1/grid/audit?street=" + f.streetA} {
		if resp, body := f.get(t, f.admin, path, nil); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}
