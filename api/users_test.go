package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

var msStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func usersOf(t *testing.T, body []byte) userPage {
	t.Helper()
	var p userPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return p
}

func userInfoOf(t *testing.T, body []byte) userInfo {
	t.Helper()
	var u userInfo
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return u
}

func names(p userPage) []string {
	out := []string{}
	for _, u := range p.Items {
		out = append(out, u.Username)
	}
	return out
}

// loginWith signs in with a password and returns the bearer header, or "" on failure.
func (ts *testServer) loginWith(t *testing.T, name, password string) string {
	t.Helper()
	js, _ := json.Marshal(loginRequest{Username: name, Password: password})
	resp, body := ts.do(t, "POST", "/api/v1/auth/login", string(js))
	if resp.StatusCode != 200 {
		return ""
	}
	var lr loginResponse
	_ = json.Unmarshal(body, &lr)
	return "Bearer " + lr.Token
}

func TestAdminUsersNeedAdmin(t *testing.T) {
	ls := newLifecycleServer(t)
	routes := [][2]string{
		{"GET", "/api/v1/admin/users"}, {"POST", "/api/v1/admin/users"}, {"GET", "/api/v1/admin/users/wang"},
		{"PATCH", "/api/v1/admin/users/wang"}, {"POST", "/api/v1/admin/users/wang/disable"},
		{"POST", "/api/v1/admin/users/wang/enable"}, {"POST", "/api/v1/admin/users/wang/password"},
		{"DELETE", "/api/v1/admin/users/wang"}, {"GET", "/api/v1/admin/users/wang/sessions"},
		{"DELETE", "/api/v1/admin/users/wang/sessions"}, {"DELETE", "/api/v1/admin/users/wang/sessions/1"},
	}
	for _, r := range routes {
		for _, user := range []string{"pei", "zhou", "wang"} {
			resp, body := ls.as(t, user, r[0], r[1], `{}`)
			problemOf(t, resp, body, 403)
		}
		resp, body := ls.do(t, r[0], r[1], `{}`)
		problemOf(t, resp, body, 401)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM users WHERE disabled OR removed_at IS NOT NULL`); n != 0 {
		t.Errorf("a refused request changed %d users", n)
	}
}

func TestAdminUsersList(t *testing.T) {
	ls := newLifecycleServer(t) // ann admin, pei planner, zhou (west) and li (east) street, wang (W1, west) and zhao officers
	if _, err := testdb.DB(ls.st).Exec(t.Context(), `UPDATE users SET display_name = '系统管理员' WHERE username = 'ann'`); err != nil {
		t.Fatal(err)
	}
	list := func(query string) userPage {
		t.Helper()
		resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users"+query, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, body)
		}
		return usersOf(t, body)
	}
	for query, want := range map[string][]string{
		"":                            {"ann", "li", "pei", "wang", "zhao", "zhou"},
		"?role=street":                {"li", "zhou"},
		"?role=officer":               {"wang", "zhao"},
		"?street=" + westStreet:       {"wang", "zhou"}, // its street office and the officer of W1
		"?street=" + eastStreet:       {"li"},
		"?unit=W1":                    {"wang"},
		"?disabled=false":             {"ann", "li", "pei", "wang", "zhao", "zhou"},
		"?disabled=true":              {},
		"?q=ZH":                       {"zhao", "zhou"},
		"?q=" + url.QueryEscape("管理"): {"ann"},
		"?role=officer&q=wa":          {"wang"},
		"?limit=2&offset=1":           {"li", "pei"},
		"?offset=10":                  {},
	} {
		p := list(query)
		if !slices.Equal(names(p), want) {
			t.Errorf("%q: %v, want %v", query, names(p), want)
		}
		if query == "?limit=2&offset=1" || query == "?offset=10" {
			if p.Total != 6 {
				t.Errorf("%q: total %d, want 6", query, p.Total)
			}
		} else if p.Total != len(want) {
			t.Errorf("%q: total %d, want %d", query, p.Total, len(want))
		}
	}

	// Bad filters are refused naming the parameter, never an empty list.
	for query, field := range map[string]string{
		"?role=boss":         "role",
		"?street=31010":      "street",
		"?street=310104999":  "street",
		"?unit=W9":           "unit",
		"?disabled=maybe":    "disabled",
		"?limit=0":           "limit",
		"?offset=-1":         "offset",
		"?role=admin&unit=X": "unit",
	} {
		resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users"+query, "")
		if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{field}) {
			t.Errorf("%q: fields %v, want %s", query, fields(p), field)
		}
	}
	// Bytes no text can hold are refused for every route before the handler (checkParams):
	// a 400, still naming the parameter.
	for query, field := range map[string]string{"?street=%00": "street", "?q=a%00b": "q", "?q=%ff%fe": "q"} {
		resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users"+query, "")
		if p := problemOf(t, resp, body, 400); !slices.Equal(fields(p), []string{field}) {
			t.Errorf("%q: fields %v, want %s", query, fields(p), field)
		}
	}

	// One user, with the JSON the UI reads.
	resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users/wang", "")
	if resp.StatusCode != 200 {
		t.Fatalf("wang: %d %s", resp.StatusCode, body)
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	if _, ok := raw["street_code"]; ok {
		t.Errorf("an officer has a street_code: %s", body)
	}
	u := userInfoOf(t, body)
	if u.Username != "wang" || u.Role != "officer" || !slices.Equal(u.Units, []string{"W1"}) || u.Disabled || u.Sessions != 1 ||
		!msStamp.MatchString(u.CreatedAt) || u.LastLoginAt == nil || !msStamp.MatchString(*u.LastLoginAt) {
		t.Errorf("wang %s", body)
	}
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/zhou", "")
	if u := userInfoOf(t, body); resp.StatusCode != 200 || u.StreetCode != westStreet || u.Units == nil || len(u.Units) != 0 {
		t.Errorf("zhou %s", body)
	}
	for _, name := range []string{"nobody", "a%00b", "x"} {
		resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/"+name, "")
		problemOf(t, resp, body, 404)
	}
	// Someone who never signed in has a null last_login_at.
	ls.addUser(t, "newbie", grid.RolePlanner, "")
	_, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/newbie", "")
	if !strings.Contains(string(body), `"last_login_at":null`) || !strings.Contains(string(body), `"sessions":0`) {
		t.Errorf("newbie %s", body)
	}
}

func TestAdminUsersCreateAndChange(t *testing.T) {
	ls := newLifecycleServer(t)
	post := func(body string) (int, []byte) {
		t.Helper()
		resp, b := ls.as(t, "ann", "POST", "/api/v1/admin/users", body)
		return resp.StatusCode, b
	}

	// Without a password one is generated, returned once, and works.
	status, body := post(`{"username":"sun","display_name":"孙规划","role":"planner"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var cr createUserResponse
	_ = json.Unmarshal(body, &cr)
	if cr.User.Username != "sun" || cr.User.DisplayName != "孙规划" || cr.User.Role != "planner" || len(cr.Password) < 16 {
		t.Errorf("created %s", body)
	}
	if ls.loginWith(t, "sun", cr.Password) == "" {
		t.Errorf("the generated password does not sign in")
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = 'user_add' AND target = 'sun' AND actor = 'ann' AND NOT details::text LIKE '%' || $1 || '%'`, cr.Password); n != 1 {
		t.Errorf("%d audit records of the add without the password", n)
	}
	// With one: no password in the answer.
	status, body = post(`{"username":"tang","role":"street","street_code":"` + eastStreet + `","password":"a-long-secret"}`)
	if status != 201 || strings.Contains(string(body), `"password"`) || !strings.Contains(string(body), `"street_code":"`+eastStreet+`"`) {
		t.Errorf("create with a password: %d %s", status, body)
	}
	// A taken name is a 409 saying so.
	status, body = post(`{"username":"sun","role":"planner"}`)
	if status != 409 || !strings.Contains(string(body), "user 'sun' already exists") || strings.Contains(string(body), "SQLSTATE") {
		t.Errorf("duplicate: %d %s", status, body)
	}
	for req, want := range map[string][]string{
		`{"username":"x","role":"boss","password":"short"}`:                                    {"password", "role", "username"},
		`{"username":"ok.name","role":"street","password":"a-long-secret"}`:                    {"street_code"},
		`{"username":"ok.name","role":"planner","street_code":"` + eastStreet + `"}`:           {"street_code"},
		`{"username":"ok.name","role":"street","street_code":"310104999"}`:                     {"street_code"},
		`{"username":"ok.name","role":"street","street_code":"3101\u0000"}`:                    {"street_code"},
		`{"username":"ok.name","role":"planner","password":"OK.NAME"}`:                         {"password"},
		`{"username":"ok.name","role":"planner","password":"ok.nameok.name!"}`:                 {"password"},
		`{"username":"ok.name","role":"planner","display_name":"a\u0000b"}`:                    {"display_name"},
		`{"username":"ok.name","role":"planner","password":"` + strings.Repeat("长", 30) + `"}`: {"password"},
		`{"username":"ok.name","role":"planner","admin":true}`:                                 {"admin"},
		`{"username":"ok.name","role":5}`:                                                      {"role"},
	} {
		status, body := post(req)
		if status != 422 {
			t.Errorf("%s: %d %s", req, status, body)
			continue
		}
		var p problem
		_ = json.Unmarshal(body, &p)
		if !slices.Equal(fields(p), want) {
			t.Errorf("%s: fields %v, want %v (%s)", req, fields(p), want, body)
		}
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM users WHERE username = 'ok.name'`); n != 0 {
		t.Errorf("a refused user was written")
	}

	patch := func(name, body string) (int, []byte) {
		t.Helper()
		resp, b := ls.as(t, "ann", "PATCH", "/api/v1/admin/users/"+name, body)
		return resp.StatusCode, b
	}
	// A street office becomes a planner: the street goes, and its token has the new role at once.
	status, body = patch("zhou", `{"role":"planner","display_name":"周"}`)
	if u := userInfoOf(t, body); status != 200 || u.Role != "planner" || u.StreetCode != "" || u.DisplayName != "周" {
		t.Errorf("zhou to planner: %d %s", status, body)
	}
	if _, body := ls.as(t, "zhou", "GET", "/api/v1/me", ""); !strings.Contains(string(body), `"role":"planner"`) || !strings.Contains(string(body), `"street_code":null`) {
		t.Errorf("zhou's /me after the change: %s", body)
	}
	status, body = patch("zhou", `{"role":"street","street_code":"`+eastStreet+`"}`)
	if u := userInfoOf(t, body); status != 200 || u.Role != "street" || u.StreetCode != eastStreet {
		t.Errorf("zhou to street: %d %s", status, body)
	}
	// An officer who becomes a planner leaves their units without an officer.
	status, body = patch("wang", `{"role":"planner"}`)
	if u := userInfoOf(t, body); status != 200 || len(u.Units) != 0 {
		t.Errorf("wang to planner: %d %s", status, body)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM grid_units WHERE code = 'W1' AND officer_id IS NULL`); n != 1 {
		t.Errorf("W1 still has an officer")
	}
	if status, body = patch("wang", `{}`); status != 200 || userInfoOf(t, body).Role != "planner" {
		t.Errorf("an empty change: %d %s", status, body)
	}
	for name, c := range map[string]struct {
		body   string
		status int
		field  string
	}{
		"nobody": {`{"role":"planner"}`, 404, ""},
		"li":     {`{"role":"boss"}`, 422, "role"},
		"pei":    {`{"role":"street"}`, 422, "street_code"},
		"zhao":   {`{"street_code":"` + westStreet + `"}`, 422, "street_code"},
		"ann":    {`{"role":"planner"}`, 422, "username"}, // your own role
	} {
		status, body := patch(name, c.body)
		if status != c.status || c.field != "" && !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("patch %s %s: %d %s", name, c.body, status, body)
		}
	}
}

func TestAdminUsersDisableResetRemove(t *testing.T) {
	ls := newLifecycleServer(t)
	// wang reports a hazard and records its history before he is removed.
	resp, body := ls.as(t, "wang", "POST", "/api/v1/hazards",
		fmt.Sprintf(`{"level":"一般","category":"消防","description":"通道堵塞","lon":%v,"lat":%v}`, westSouth[0], westSouth[1]))
	if resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, body)
	}
	var h struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal(body, &h)

	// Disable: 200 with the user, their token is refused, enable does not revive it.
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/zhao/disable", "")
	if u := userInfoOf(t, body); resp.StatusCode != 200 || !u.Disabled || u.Sessions != 0 {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "zhao", "GET", "/api/v1/me", "")
	problemOf(t, resp, body, 401)
	if ls.loginWith(t, "zhao", "password-zhao") != "" {
		t.Errorf("a disabled user signed in")
	}
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users?disabled=true", "")
	if !slices.Equal(names(usersOf(t, body)), []string{"zhao"}) {
		t.Errorf("disabled users: %s", body)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/zhao/enable", "")
	if u := userInfoOf(t, body); resp.StatusCode != 200 || u.Disabled {
		t.Fatalf("enable: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "zhao", "GET", "/api/v1/me", "")
	problemOf(t, resp, body, 401)
	if ls.loginWith(t, "zhao", "password-zhao") == "" {
		t.Errorf("an enabled user cannot sign in")
	}
	// Nobody disables or removes themselves.
	for _, r := range [][2]string{{"POST", "/api/v1/admin/users/ann/disable"}, {"DELETE", "/api/v1/admin/users/ann"}} {
		resp, body = ls.as(t, "ann", r[0], r[1], "")
		if p := problemOf(t, resp, body, 422); !strings.Contains(p.Detail, "your own account") {
			t.Errorf("%v: %+v", r, p)
		}
	}

	// Reset a password: generated, returned once; their sessions are revoked.
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/pei/password", "")
	var pr passwordResponse
	_ = json.Unmarshal(body, &pr)
	if resp.StatusCode != 200 || len(pr.Password) < 16 {
		t.Fatalf("reset: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "pei", "GET", "/api/v1/me", "")
	problemOf(t, resp, body, 401)
	if ls.loginWith(t, "pei", "password-pei") != "" || ls.loginWith(t, "pei", pr.Password) == "" {
		t.Errorf("after the reset the old password works or the new one does not")
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/pei/password", `{"password":"chosen-by-admin"}`)
	if resp.StatusCode != 200 || string(body) != `{}` || ls.loginWith(t, "pei", "chosen-by-admin") == "" {
		t.Errorf("reset to a given password: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/pei/password", `{"password":"pei"}`)
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"password"}) {
		t.Errorf("a bad password: %+v", p)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users/nobody/password", `{}`)
	problemOf(t, resp, body, 404)

	// Remove wang: 204; he is gone from the API, his history is not.
	auditBefore := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE actor = 'wang' OR target = 'wang'`)
	resp, body = ls.as(t, "ann", "DELETE", "/api/v1/admin/users/wang", "")
	if resp.StatusCode != 204 {
		t.Fatalf("remove: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "wang", "GET", "/api/v1/me", "")
	problemOf(t, resp, body, 401)
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/wang", "")
	problemOf(t, resp, body, 404)
	resp, body = ls.as(t, "ann", "DELETE", "/api/v1/admin/users/wang", "")
	problemOf(t, resp, body, 404)
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users?role=officer", "")
	if !slices.Equal(names(usersOf(t, body)), []string{"zhao"}) {
		t.Errorf("a removed user is listed: %s", body)
	}
	resp, body = ls.as(t, "ann", "GET", fmt.Sprintf("/api/v1/hazards/%d", h.ID), "")
	var hd supervise.HazardDetail
	_ = json.Unmarshal(body, &hd)
	if resp.StatusCode != 200 || hd.Reporter == nil || *hd.Reporter != "wang" || len(hd.History) != 1 || hd.History[0].Actor != "wang" {
		t.Errorf("the removed user's hazard: %d %s", resp.StatusCode, body)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE (actor = 'wang' OR target = 'wang') AND action <> 'user_remove'`); n != auditBefore {
		t.Errorf("audit rows of wang: %d, were %d", n, auditBefore)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM grid_units WHERE code = 'W1' AND officer_id IS NULL`); n != 1 {
		t.Errorf("the removed officer still holds W1")
	}
	if ls.loginWith(t, "wang", "password-wang") != "" {
		t.Errorf("a removed user signed in")
	}
	// His name stays taken.
	resp, body = ls.as(t, "ann", "POST", "/api/v1/admin/users", `{"username":"wang","role":"officer"}`)
	if p := problemOf(t, resp, body, 409); !strings.Contains(p.Detail, "user 'wang' was removed") {
		t.Errorf("re-adding a removed name: %+v", p)
	}

	want := map[string]int{"user_disable": 1, "user_enable": 1, "user_password_reset": 2, "user_remove": 1}
	for action, n := range want {
		if got := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = $1 AND actor = 'ann'`, action); got != n {
			t.Errorf("%d %s audit records, want %d", got, action, n)
		}
	}
}

func TestAdminUserSessions(t *testing.T) {
	ls := newLifecycleServer(t)
	second := ls.login(t, "wang")
	sessions := func() sessionPage {
		t.Helper()
		resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users/wang/sessions", "")
		if resp.StatusCode != 200 {
			t.Fatalf("sessions: %d %s", resp.StatusCode, body)
		}
		var p sessionPage
		_ = json.Unmarshal(body, &p)
		return p
	}
	p := sessions()
	if p.Total != 2 || len(p.Items) != 2 || p.Items[0].ID <= p.Items[1].ID || p.Items[0].Revoked ||
		!msStamp.MatchString(p.Items[0].CreatedAt) || !msStamp.MatchString(p.Items[0].ExpiresAt) {
		t.Fatalf("sessions %+v", p)
	}
	// Using a token sets last_seen_at.
	ls.as(t, "wang", "GET", "/api/v1/me", "")
	if p := sessions(); p.Items[1].LastSeenAt == nil || !msStamp.MatchString(*p.Items[1].LastSeenAt) || p.Items[0].LastSeenAt != nil {
		t.Errorf("last seen: %+v", p.Items)
	}
	resp, body := ls.as(t, "ann", "GET", "/api/v1/admin/users/wang/sessions?limit=1&offset=1", "")
	var page sessionPage
	_ = json.Unmarshal(body, &page)
	if resp.StatusCode != 200 || page.Total != 2 || len(page.Items) != 1 || page.Items[0].ID != p.Items[1].ID {
		t.Errorf("a page of sessions: %s", body)
	}

	// Revoke the newer session (the second login): that token goes, the first stays.
	resp, body = ls.as(t, "ann", "DELETE", fmt.Sprintf("/api/v1/admin/users/wang/sessions/%d", p.Items[0].ID), "")
	if resp.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.do(t, "GET", "/api/v1/me", "", "Authorization", second)
	problemOf(t, resp, body, 401)
	if resp, _ := ls.as(t, "wang", "GET", "/api/v1/me", ""); resp.StatusCode != 200 {
		t.Errorf("the other session was revoked too")
	}
	if q := sessions(); !q.Items[0].Revoked || q.Items[1].Revoked {
		t.Errorf("after revoking: %+v", q.Items)
	}
	if resp, _ := ls.as(t, "ann", "DELETE", fmt.Sprintf("/api/v1/admin/users/wang/sessions/%d", p.Items[0].ID), ""); resp.StatusCode != 204 {
		t.Errorf("revoking again: %d", resp.StatusCode)
	}
	// Another user's session, or none, is not found.
	var annSession int64
	_ = testdb.DB(ls.st).QueryRow(t.Context(), `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'ann'`).Scan(&annSession)
	for _, path := range []string{fmt.Sprintf("wang/sessions/%d", annSession), "wang/sessions/999999", "wang/sessions/abc",
		"wang/sessions/-1", "wang/sessions/99999999999999999999", "nobody/sessions", "nobody/sessions/1"} {
		method := "DELETE"
		resp, body := ls.as(t, "ann", method, "/api/v1/admin/users/"+path, "")
		problemOf(t, resp, body, 404)
	}
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/nobody/sessions", "")
	problemOf(t, resp, body, 404)
	if resp, _ := ls.as(t, "ann", "GET", "/api/v1/me", ""); resp.StatusCode != 200 {
		t.Errorf("ann's session was revoked by a refused request")
	}

	// Revoke all.
	ls.login(t, "wang")
	resp, _ = ls.as(t, "ann", "DELETE", "/api/v1/admin/users/wang/sessions", "")
	if resp.StatusCode != 204 {
		t.Fatalf("revoke all: %d", resp.StatusCode)
	}
	resp, body = ls.as(t, "wang", "GET", "/api/v1/me", "")
	problemOf(t, resp, body, 401)
	resp, body = ls.as(t, "ann", "GET", "/api/v1/admin/users/wang", "")
	if u := userInfoOf(t, body); u.Sessions != 0 {
		t.Errorf("sessions after revoking all: %s", body)
	}
	for action, n := range map[string]int{"session_revoke": 1, "sessions_revoke": 1} {
		if got := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = $1 AND actor = 'ann' AND target = 'wang'`, action); got != n {
			t.Errorf("%d %s audit records, want %d", got, action, n)
		}
	}
}

// TestChangesTakeEffectAtOnce: after disabling, removing, resetting a password or
// revoking a session, the very next request with the old bearer token or the old HTTP
// Basic credentials is refused, though the Basic credentials were remembered.
func TestChangesTakeEffectAtOnce(t *testing.T) {
	ls := newLifecycleServer(t)
	ls.route("GET", "/ogc/test-who", Operation{Summary: "test", Auth: AuthBearerOrBasic, Response: healthResponse{}},
		func(c *fiber.Ctx) error {
			return c.JSON(healthResponse{Status: principal(c).Username + "/" + principal(c).Role})
		})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	who := func(auth string) (int, string) {
		resp, body := ls.do(t, "GET", "/ogc/test-who", "", "Authorization", auth)
		return resp.StatusCode, string(body)
	}
	warm := func(user string) (bearer, basicAuth string) {
		t.Helper()
		bearer, basicAuth = ls.login(t, user), basic(user, "password-"+user)
		for _, a := range []string{basicAuth, basicAuth, bearer} { // the second Basic request is served from memory
			if st, body := who(a); st != 200 || !strings.Contains(body, user+"/") {
				t.Fatalf("%s before the change: %d %s", user, st, body)
			}
		}
		return bearer, basicAuth
	}
	for _, c := range []struct{ user, method, path, body string }{
		{"zhao", "POST", "/api/v1/admin/users/zhao/disable", ""},
		{"pei", "POST", "/api/v1/admin/users/pei/password", `{"password":"another-secret"}`},
		{"li", "DELETE", "/api/v1/admin/users/li", ""},
	} {
		bearer, basicAuth := warm(c.user)
		if resp, body := ls.as(t, "ann", c.method, c.path, c.body); resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
		if st, body := who(basicAuth); st != 401 {
			t.Errorf("%s %s: Basic still works: %d %s", c.method, c.path, st, body)
		}
		if st, body := who(bearer); st != 401 {
			t.Errorf("%s %s: the token still works: %d %s", c.method, c.path, st, body)
		}
	}
	// The new password works over Basic at once.
	if st, body := who(basic("pei", "another-secret")); st != 200 {
		t.Errorf("pei's new password: %d %s", st, body)
	}
	// Revoking a session: that token is refused at once.
	bearer, basicAuth := warm("wang")
	var id int64
	_ = testdb.DB(ls.st).QueryRow(t.Context(), `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
WHERE u.username = 'wang' AND s.revoked_at IS NULL ORDER BY s.id DESC LIMIT 1`).Scan(&id)
	if resp, _ := ls.as(t, "ann", "DELETE", fmt.Sprintf("/api/v1/admin/users/wang/sessions/%d", id), ""); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if st, body := who(bearer); st != 401 {
		t.Errorf("a revoked token still works: %d %s", st, body)
	}
	// A new role applies to remembered Basic credentials at once too.
	if resp, body := ls.as(t, "ann", "PATCH", "/api/v1/admin/users/wang", `{"role":"planner"}`); resp.StatusCode != 200 {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	if st, body := who(basicAuth); st != 200 || !strings.Contains(body, "wang/planner") {
		t.Errorf("Basic after a role change: %d %s", st, body)
	}
}

func TestChangeOwnPassword(t *testing.T) {
	ls := newLifecycleServer(t)
	other := ls.login(t, "zhou") // a second session of zhou's
	change := func(body string) (int, []byte) {
		resp, b := ls.as(t, "zhou", "POST", "/api/v1/me/password", body)
		return resp.StatusCode, b
	}
	for body, field := range map[string]string{
		`{"old_password":"wrong-password","new_password":"zhou-has-a-new-one"}`: "old_password",
		`{"old_password":"password-zhou","new_password":"short"}`:               "new_password",
		`{"old_password":"password-zhou","new_password":"ZHOUzhouZHOU"}`:        "new_password",
		`{"old_password":"password-zhou","new_password":"password-zhou"}`:       "new_password",
		`{"old_password":"","new_password":"zhou-has-a-new-one"}`:               "old_password",
		`{"new_password":"zhou-has-a-new-one"}`:                                 "old_password",
		`{"old_password":"password-zhou","new_password":"x","extra":1}`:         "extra",
	} {
		status, b := change(body)
		var p problem
		_ = json.Unmarshal(b, &p)
		if status != 422 || !slices.Contains(fields(p), field) {
			t.Errorf("%s: %d %s", body, status, b)
		}
	}
	// Still signed in after a wrong old password.
	if resp, _ := ls.as(t, "zhou", "GET", "/api/v1/me", ""); resp.StatusCode != 200 {
		t.Fatalf("signed out by a wrong old password")
	}
	if status, b := change(`{"old_password":"password-zhou","new_password":"zhou-has-a-new-one"}`); status != 204 {
		t.Fatalf("change: %d %s", status, b)
	}
	if resp, _ := ls.as(t, "zhou", "GET", "/api/v1/me", ""); resp.StatusCode != 200 {
		t.Errorf("the session that changed the password was revoked")
	}
	if resp, _ := ls.do(t, "GET", "/api/v1/me", "", "Authorization", other); resp.StatusCode != 401 {
		t.Errorf("zhou's other session survived the change: %d", resp.StatusCode)
	}
	if ls.loginWith(t, "zhou", "password-zhou") != "" || ls.loginWith(t, "zhou", "zhou-has-a-new-one") == "" {
		t.Errorf("after the change the old password works or the new one does not")
	}
	// Any role may change their own; an officer here.
	resp, b := ls.as(t, "wang", "POST", "/api/v1/me/password", `{"old_password":"password-wang","new_password":"wang-new-secret"}`)
	if resp.StatusCode != 204 {
		t.Errorf("officer: %d %s", resp.StatusCode, b)
	}
	// Guessing the old password is rate limited like signing in.
	for range 5 {
		change(`{"old_password":"guess","new_password":"zhou-has-a-new-two"}`)
	}
	if status, b := change(`{"old_password":"guess","new_password":"zhou-has-a-new-two"}`); status != 429 {
		t.Errorf("the sixth wrong guess: %d %s", status, b)
	}
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = 'password_change'`); n != 2 {
		t.Errorf("%d password_change audit records, want 2", n)
	}
}
