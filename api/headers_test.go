package api

import (
	"strings"
	"testing"
)

// Every answer (a document, JSON, an error, a 404, the map page) carries the security
// headers; the map page has its own CSP, which may not be framed either.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "adm", "admin", "")
	auth := ts.login(t, "adm")
	for _, c := range []struct{ method, path, auth string }{
		{"GET", "/healthz", ""}, {"GET", "/openapi.json", ""}, {"GET", "/api/v1/me", ""}, // 401
		{"GET", "/api/v1/hazards/999999", auth}, {"GET", "/no/such/path", ""}, {"POST", "/api/v1/auth/login", ""},
		{"GET", "/ogc", auth}, {"GET", "/", ""}, {"GET", "/assets/app.js", ""},
		{"GET", "/assets/maplibre-gl-worker.mjs", ""},
	} {
		resp, _ := ts.do(t, c.method, c.path, "", "Authorization", c.auth)
		h := resp.Header
		what := c.method + " " + c.path
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			(h.Get("Referrer-Policy") != "no-referrer" && h.Get("Referrer-Policy") != "strict-origin-when-cross-origin") {
			t.Errorf("%s (%d): headers %v", what, resp.StatusCode, h)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q does not forbid framing", what, csp)
		}
		// The page and its files (MapLibre's worker runs under its script's CSP and fetches
		// the tiles) have the page's policy; everything else the API's.
		if (c.path == "/" || strings.HasPrefix(c.path, "/assets/")) && resp.StatusCode == 200 {
			if csp != mapPageCSP || strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "*") {
				t.Errorf("map page CSP %q", csp)
			}
		} else if csp != apiCSP {
			t.Errorf("%s: CSP %q, want %q", what, csp, apiCSP)
		}
	}
}
