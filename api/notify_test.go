package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/testdb"
)

// TestNotificationsAPI: a user lists, filters and marks their own notifications; another
// user's notification is a 404 with the same body as one that does not exist; the marks
// are audited.
func TestNotificationsAPI(t *testing.T) {
	ts := serverOn(t, testdb.New(t, testdb.TwoStreets), nil)
	ctx := context.Background()
	ts.addUser(t, "sta", grid.RoleStreet, testdb.WestStreet)
	ts.addUser(t, "stb", grid.RoleStreet, testdb.EastStreet)
	off := ts.addUser(t, "off", grid.RoleOfficer, "")
	for i := range 3 {
		m := grid.Message{Key: fmt.Sprintf("t/%d", i), Kind: "due_3d", Title: fmt.Sprintf("提醒 %d", i), Street: testdb.WestStreet, Data: map[string]any{"n": i}}
		if _, err := ts.st.Notify(ctx, nil, m, grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.WestStreet}, grid.UserRecipient(off)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.st.Notify(ctx, nil, grid.Message{Key: "t/east", Kind: "overdue", Title: "东"}, grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.EastStreet}); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.New(ts.st).FanOut(ctx); err != nil {
		t.Fatal(err)
	}
	sta, stb := ts.login(t, "sta"), ts.login(t, "stb")
	page := func(auth, query string) notificationPage {
		t.Helper()
		resp, body := ts.do(t, "GET", "/api/v1/me/notifications"+query, "", "Authorization", auth)
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		var p notificationPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := page(sta, "?limit=2")
	if p.Total != 3 || p.Unread != 3 || len(p.Items) != 2 || p.Items[0].Title != "提醒 2" || string(p.Items[0].Data) != `{"n":2}` ||
		p.Items[0].ReadAt != nil || *p.Items[0].StreetCode != testdb.WestStreet || !strings.HasSuffix(p.Items[0].CreatedAt, "Z") {
		t.Fatalf("page %+v", p)
	}
	first := p.Items[0].ID
	if resp, body := ts.do(t, "POST", fmt.Sprintf("/api/v1/me/notifications/%d/read", first), "", "Authorization", sta); resp.StatusCode != 204 {
		t.Fatalf("read: %d %s", resp.StatusCode, body)
	}
	if p := page(sta, "?unread=true"); p.Total != 2 || p.Unread != 2 || len(p.Items) != 2 || p.Items[0].ID == first {
		t.Fatalf("unread after one read: %+v", p)
	}
	// Another user's notification answers exactly like a missing one.
	_, missing := ts.do(t, "POST", "/api/v1/me/notifications/999999/read", "", "Authorization", stb)
	resp, theirs := ts.do(t, "POST", fmt.Sprintf("/api/v1/me/notifications/%d/read", first+1), "", "Authorization", stb)
	problemOf(t, resp, theirs, 404)
	if strip := func(b []byte) string {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "request_id")
		d, _ := m["detail"].(string)
		m["detail"] = strings.NewReplacer(fmt.Sprint(first+1), "N", "999999", "N").Replace(d)
		out, _ := json.Marshal(m)
		return string(out)
	}; strip(missing) != strip(theirs) {
		t.Errorf("another's notification %s, a missing one %s", theirs, missing)
	}
	resp, body := ts.do(t, "POST", "/api/v1/me/notifications/abc/read", "", "Authorization", stb)
	problemOf(t, resp, body, 404)
	if p := page(stb, ""); p.Total != 1 || p.Unread != 1 {
		t.Errorf("the other street's list %+v", p)
	}
	resp, body = ts.do(t, "POST", "/api/v1/me/notifications/read-all", "", "Authorization", sta)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"marked":2}` {
		t.Fatalf("read-all: %d %s", resp.StatusCode, body)
	}
	if p := page(sta, ""); p.Unread != 0 || p.Total != 3 {
		t.Errorf("after read-all %+v", p)
	}
	if p := page(ts.login(t, "off"), ""); p.Unread != 3 {
		t.Errorf("the officer's own copies were touched: %+v", p)
	}
	resp, body = ts.do(t, "GET", "/api/v1/me/notifications?unread=maybe", "", "Authorization", sta)
	if p := problemOf(t, resp, body, 422); len(p.Errors) != 1 || p.Errors[0].Field != "unread" {
		t.Errorf("bad unread: %+v", p)
	}
	if n := testdb.Count(t, ts.st, `SELECT count(*) FROM audit_log WHERE object_kind = 'notification' AND actor = 'sta'`); n != 2 {
		t.Errorf("%d marks audited, want 2 (one read, one read-all)", n)
	}
}

// TestWebhooksAPI: an admin adds, lists, changes, re-enables and removes webhooks; bad
// values are 422s naming the field; a loopback URL is refused unless the server allows it;
// the delivery log shows the attempts against a real receiver; other roles get 403.
func TestWebhooksAPI(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	strict := serverOn(t, st, nil)
	strict.addUser(t, "adm", grid.RoleAdmin, "")
	strict.addUser(t, "sta", grid.RoleStreet, testdb.WestStreet)
	adm := strict.login(t, "adm")
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	}))
	defer rcv.Close()
	body := `{"name":"西街道值班","url":"` + rcv.URL + `","scope_kind":"street","scope_code":"` + testdb.WestStreet + `"}`
	resp, out := strict.do(t, "POST", "/api/v1/admin/webhooks", body, "Authorization", adm)
	if p := problemOf(t, resp, out, 422); len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Errors[0].Reason, "loopback") {
		t.Fatalf("loopback URL: %+v", p)
	}
	for _, c := range []struct{ body, field string }{
		{`{"name":"x","url":"ftp://example.com","scope_kind":"street","scope_code":"310104003"}`, "url"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"town","scope_code":"310104003"}`, "scope_kind"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104999"}`, "scope_code"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"district","scope_code":"310104003"}`, "scope_code"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003","secret":"short"}`, "secret"},
		{`{"url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003"}`, "name"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003","extra":1}`, "extra"},
		{`{"name":1,"url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003"}`, "name"},
		{`{"name":"x","url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003","secret":"密钥密钥密钥密钥密钥密钥"}`, "secret"},
		{`{"name":"` + strings.Repeat("名", 101) + `","url":"https://203.0.113.9/","scope_kind":"street","scope_code":"310104003"}`, "name"},
	} {
		resp, out := strict.do(t, "POST", "/api/v1/admin/webhooks", c.body, "Authorization", adm)
		if p := problemOf(t, resp, out, 422); len(p.Errors) == 0 || p.Errors[0].Field != c.field {
			t.Errorf("%s: %+v, want the field %s", c.body, p, c.field)
		}
	}
	resp, out = strict.do(t, "POST", "/api/v1/admin/webhooks", body, "Authorization", strict.login(t, "sta"))
	problemOf(t, resp, out, 403)
	big := `{"name":"x","url":"https://203.0.113.9/` + strings.Repeat("a", 17<<10) + `","scope_kind":"street","scope_code":"310104003"}`
	addr, _ := servedOn(t, strict)
	for size, want := range map[int]int{len(body): 422, len(big): 413} { // 422: loopback refused
		resp, out := rawPost(t, addr, "/api/v1/admin/webhooks", fmt.Sprintf("Content-Length: %d\r\nAuthorization: %s\r\n", size, adm), map[int]string{len(body): body, len(big): big}[size])
		if resp.StatusCode != want {
			t.Errorf("a body of %d bytes: %d %s, want %d", size, resp.StatusCode, out, want)
		}
	}

	open := serverOn(t, st, func(c *Config) { c.WebhookAllowPrivate = true })
	resp, out = open.do(t, "POST", "/api/v1/admin/webhooks", body, "Authorization", adm)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	var made webhookCreated
	if err := json.Unmarshal(out, &made); err != nil {
		t.Fatal(err)
	}
	if len(made.Secret) != 64 || !made.Webhook.Enabled || made.Webhook.ScopeCode != testdb.WestStreet || strings.Contains(string(out), `"secret":""`) {
		t.Fatalf("created %s", out)
	}
	path := fmt.Sprintf("/api/v1/admin/webhooks/%d", made.Webhook.ID)
	// A scheme in capitals is the same scheme: saved in lower case, never a database error.
	resp, out = strict.do(t, "PATCH", path, `{"url":"HTTPS://203.0.113.9/Hook"}`, "Authorization", adm)
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"url":"https://203.0.113.9/Hook"`) {
		t.Fatalf("patch url: %d %s", resp.StatusCode, out)
	}
	resp, out = open.do(t, "PATCH", path, `{"url":"`+rcv.URL+`"}`, "Authorization", adm)
	if resp.StatusCode != 200 {
		t.Fatalf("patch url back: %d %s", resp.StatusCode, out)
	}
	resp, out = open.do(t, "GET", "/api/v1/admin/webhooks", "", "Authorization", adm)
	if resp.StatusCode != 200 || strings.Contains(string(out), made.Secret) || !strings.Contains(string(out), `"total":1`) {
		t.Fatalf("list: %d %s", resp.StatusCode, out)
	}
	resp, out = open.do(t, "PATCH", path, `{"name":"西街道"}`, "Authorization", adm)
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"name":"西街道"`) {
		t.Fatalf("patch: %d %s", resp.StatusCode, out)
	}
	resp, out = open.do(t, "PATCH", path, `{"scope_kind":"district"}`, "Authorization", adm)
	if p := problemOf(t, resp, out, 422); p.Errors[0].Field != "scope_code" {
		t.Errorf("scope_kind alone: %+v", p)
	}
	// Deliver to the failing receiver until it is disabled.
	svc := notify.New(st)
	svc.Options = notify.Options{AllowPrivate: true, BackoffBase: 1, BackoffMax: 1, MaxFailures: 2}
	if _, err := st.Notify(context.Background(), nil, grid.Message{Key: "k", Kind: "overdue", Title: "逾期"}, grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.WestStreet}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FanOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := svc.Deliver(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	resp, out = open.do(t, "GET", path, "", "Authorization", adm)
	var w webhookItem
	_ = json.Unmarshal(out, &w)
	if w.Enabled || w.DisabledAt == nil || w.Pending != 1 || w.ConsecutiveFailures != 2 || hits.Load() != 2 {
		t.Fatalf("after failures: %s (hits %d)", out, hits.Load())
	}
	resp, out = open.do(t, "GET", path+"/deliveries", "", "Authorization", adm)
	var log attemptPage
	_ = json.Unmarshal(out, &log)
	if resp.StatusCode != 200 || log.Total != 2 || *log.Items[0].StatusCode != 500 || log.Items[0].Attempt != 2 || log.Items[0].Delivered {
		t.Fatalf("deliveries: %s", out)
	}
	resp, out = open.do(t, "POST", path+"/enable", "", "Authorization", adm)
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"enabled":true`) || !strings.Contains(string(out), `"consecutive_failures":0`) {
		t.Fatalf("enable: %d %s", resp.StatusCode, out)
	}
	for _, p := range []string{"/api/v1/admin/webhooks/99999", "/api/v1/admin/webhooks/x", "/api/v1/admin/webhooks/99999/deliveries"} {
		resp, out := open.do(t, "GET", p, "", "Authorization", adm)
		problemOf(t, resp, out, 404)
	}
	if resp, out := open.do(t, "DELETE", path, "", "Authorization", adm); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, out)
	}
	resp, out = open.do(t, "GET", path, "", "Authorization", adm)
	problemOf(t, resp, out, 404)
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE object_kind = 'webhook'`); n != 7 {
		t.Errorf("%d webhook records audited, want 7 (add, 3 changes, disabled, enable, remove)", n)
	}
}
