package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

type testServer struct {
	*Server
	st   *grid.Store
	logs *testdb.LogBuffer
}

// newTestServer serves a fresh database; edit adjusts the configuration.
func newTestServer(t testing.TB, edit func(*Config)) *testServer {
	t.Helper()
	return serverOn(t, testdb.New(t, nil), edit)
}

func serverOn(t testing.TB, st *grid.Store, edit func(*Config)) *testServer {
	t.Helper()
	logs := &testdb.LogBuffer{}
	// app.Test's requests come from 0.0.0.0: trusted, so tests can set X-Forwarded-For.
	cfg := Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), ProxyHeader: "X-Forwarded-For",
		TrustedProxies: []string{"0.0.0.0"}, PublicURL: "http://example.com"}
	if edit != nil {
		edit(&cfg)
	}
	return &testServer{Server: New(st, cfg), st: st, logs: logs}
}

// do sends one request through app.Test; header pairs follow the body.
func (ts *testServer) do(t testing.TB, method, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.app.Test(req, 10000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func (ts *testServer) addUser(t testing.TB, name, role, street string) int64 {
	t.Helper()
	id, err := ts.st.AddUser(context.Background(), "test", grid.User{Username: name, Role: role, StreetCode: street}, "password-"+name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// login signs name in (password "password-NAME") and returns the bearer header value.
func (ts *testServer) login(t testing.TB, name string) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/api/v1/auth/login", `{"username":"`+name+`","password":"password-`+name+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login %s: %d %s", name, resp.StatusCode, body)
	}
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	return "Bearer " + lr.Token
}

// problemOf checks that a response is application/problem+json with status and returns it.
func problemOf(t *testing.T, resp *http.Response, body []byte, status int) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || p.Title == "" || p.Type == "" || p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-ID") {
		t.Errorf("problem %+v (X-Request-ID %q)", p, resp.Header.Get("X-Request-ID"))
	}
	return p
}
