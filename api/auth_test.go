package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

func TestLogin(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")

	resp, body := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann","password":"password-ann"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var lr map[string]any
	_ = json.Unmarshal(body, &lr)
	exp, err := time.Parse(time.RFC3339, lr["expires_at"].(string))
	if len(lr) != 3 || len(lr["token"].(string)) != 43 || lr["role"] != "admin" || err != nil || time.Until(exp) < 11*time.Hour {
		t.Errorf("login response %s", body)
	}

	// A wrong password and an unknown user are the same 401: no user enumeration.
	resp, body = ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann","password":"wrong-password"}`)
	wrong := problemOf(t, resp, body, 401)
	resp, body = ts.do(t, "POST", "/api/v1/auth/login", `{"username":"nobody","password":"wrong-password"}`)
	unknown := problemOf(t, resp, body, 401)
	if wrong.Title != unknown.Title || wrong.Detail != unknown.Detail {
		t.Errorf("wrong password %+v and unknown user %+v differ", wrong, unknown)
	}

	resp, body = ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann"}`)
	p := problemOf(t, resp, body, 422)
	if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
		t.Errorf("missing password: %+v", p)
	}
}

func TestLoginRateLimit(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	now := time.Now()
	ts.logins.now = func() time.Time { return now }
	try := func(pass, ip string) (int, string) {
		resp, _ := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"ann","password":"`+pass+`"}`, "X-Forwarded-For", ip)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 5 {
		if st, _ := try("wrong-password", "10.0.0.1"); st != 401 {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	st, retry := try("wrong-password", "10.0.0.1")
	if st != 429 {
		t.Fatalf("sixth failure: %d, want 429", st)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q", retry)
	}
	if st, _ := try("password-ann", "10.0.0.1"); st != 429 {
		t.Errorf("the right password while blocked: %d, want 429", st)
	}
	if st, _ := try("password-ann", "10.0.0.2"); st != 200 {
		t.Errorf("another address: %d, want 200", st)
	}
	now = now.Add(61 * time.Second)
	if st, _ := try("password-ann", "10.0.0.1"); st != 200 {
		t.Errorf("after the window: %d, want 200", st)
	}
}

func TestTokenExpiryAndLogout(t *testing.T) {
	st := testdb.New(t, withStreets)
	ts := serverOn(t, st, nil)
	street := firstStreet(t, st)
	ts.addUser(t, "zhou", grid.RoleStreet, street)
	auth := ts.login(t, "zhou")

	resp, body := ts.do(t, "GET", "/api/v1/me", "", "Authorization", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	var me meResponse
	_ = json.Unmarshal(body, &me)
	if me.Username != "zhou" || me.Role != "street" || me.StreetCode == nil || *me.StreetCode != street || me.Units == nil {
		t.Errorf("me %s", body)
	}

	for name, h := range map[string][]string{
		"no header":      nil,
		"unknown token":  {"Authorization", "Bearer 0000"},
		"another scheme": {"Authorization", "Token abc"},
		"basic on /api":  {"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("zhou:password-zhou"))},
	} {
		resp, body := ts.do(t, "GET", "/api/v1/me", "", h...)
		problemOf(t, resp, body, 401)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, resp.Header.Get("WWW-Authenticate"))
		}
	}

	resp, _ = ts.do(t, "POST", "/api/v1/auth/logout", "", "Authorization", auth)
	if resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, body = ts.do(t, "GET", "/api/v1/me", "", "Authorization", auth)
	problemOf(t, resp, body, 401)

	auth = ts.login(t, "zhou")
	if _, err := testdb.DB(st).Exec(context.Background(), `UPDATE sessions SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", "/api/v1/me", "", "Authorization", auth)
	problemOf(t, resp, body, 401)
}

func TestRolesAreEnforced(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	ts.addUser(t, "wang", grid.RoleOfficer, "")
	ts.route("GET", "/api/v1/test/admin-only", Operation{Summary: "test", Roles: []string{grid.RoleAdmin, grid.RolePlanner}, Response: healthResponse{}},
		func(c *fiber.Ctx) error { return c.JSON(healthResponse{Status: principal(c).Username}) })

	resp, body := ts.do(t, "GET", "/api/v1/test/admin-only", "", "Authorization", ts.login(t, "wang"))
	p := problemOf(t, resp, body, 403)
	if !strings.Contains(p.Detail, "admin or planner") {
		t.Errorf("403 detail %q", p.Detail)
	}
	resp, body = ts.do(t, "GET", "/api/v1/test/admin-only", "", "Authorization", ts.login(t, "ann"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ann") {
		t.Errorf("admin: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/api/v1/test/admin-only", "")
	problemOf(t, resp, body, 401)
}

func TestBasicAuthOnOGC(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "wang", grid.RoleOfficer, "")
	ts.route("GET", "/ogc/test", Operation{Summary: "test", Auth: AuthBearerOrBasic, Response: healthResponse{}},
		func(c *fiber.Ctx) error {
			return c.JSON(healthResponse{Status: principal(c).Username + "/" + principal(c).Role})
		})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	for _, auth := range []string{basic("wang", "password-wang"), basic("wang", "password-wang"), ts.login(t, "wang")} {
		resp, body := ts.do(t, "GET", "/ogc/test", "", "Authorization", auth)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "wang/officer") {
			t.Errorf("%.6s: %d %s", auth, resp.StatusCode, body)
		}
	}
	resp, body := ts.do(t, "GET", "/ogc/test", "", "Authorization", basic("wang", "wrong-password"))
	problemOf(t, resp, body, 401)
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q: QGIS needs a Basic challenge", resp.Header.Get("WWW-Authenticate"))
	}
	resp, body = ts.do(t, "GET", "/ogc/test", "")
	problemOf(t, resp, body, 401)
	resp, body = ts.do(t, "GET", "/ogc/test", "", "Authorization", "Basic !!!")
	problemOf(t, resp, body, 401)
	// Failed Basic sign-ins count towards the same rate limit as logins.
	for range 5 {
		ts.do(t, "GET", "/ogc/test", "", "Authorization", basic("wang", "wrong-password"))
	}
	resp, body = ts.do(t, "GET", "/ogc/test", "", "Authorization", basic("wang", "wrong-password"))
	problemOf(t, resp, body, 429)
}

var withStreets = &testdb.Setup{Name: "api-streets", Load: func(ctx context.Context, st *grid.Store) error {
	// One district and one street are enough for street users and grid units.
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES ('310104', '徐汇区', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310104003', '天平路街道', ST_Multi(ST_MakeEnvelope(121.42, 31.12, 121.46, 31.16, 4326)))`,
	} {
		if _, err := testdb.DB(st).Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}}

func firstStreet(t *testing.T, st *grid.Store) string {
	t.Helper()
	var code string
	if err := testdb.DB(st).QueryRow(context.Background(), `SELECT code FROM areas WHERE level = 'street' ORDER BY code LIMIT 1`).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return code
}

func TestMeListsAnOfficersUnits(t *testing.T) {
	st := testdb.New(t, withStreets)
	ts := serverOn(t, st, nil)
	id := ts.addUser(t, "wang", grid.RoleOfficer, "")
	ctx := context.Background()
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', '一号网格', '310104003', $1)`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310104', 11, 'U1'), ('310104', 12, 'U1')`); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.do(t, "GET", "/api/v1/me", "", "Authorization", ts.login(t, "wang"))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var me meResponse
	_ = json.Unmarshal(body, &me)
	if me.StreetCode != nil || len(me.Units) != 1 || me.Units[0].Code != "U1" || me.Units[0].Cells != 2 {
		t.Errorf("me %s", body)
	}
}
