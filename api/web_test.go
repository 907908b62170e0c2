package api

import (
	"strings"
	"testing"

	"safegrid/web"
)

// TestWebPage: the map page and its assets come from the binary, need no token, revalidate
// by ETag, and nothing outside the embedded directory can be read. Without a built bundle
// (go test before make build) the page answers 503 in words.
func TestWebPage(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, body := ts.do(t, "GET", "/", "")
	if !web.Built() {
		if resp.StatusCode != 503 || !strings.Contains(string(body), "make build") {
			t.Fatalf("unbuilt page: %d %s", resp.StatusCode, body)
		}
		return
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), `/assets/app.js`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("index.html without its bundle or CSP: %s", resp.Header.Get("Content-Security-Policy"))
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := ts.do(t, "GET", "/", "", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	for path, mime := range map[string]string{
		"/assets/app.js":                 "text/javascript",
		"/assets/app.css":                "text/css",
		"/assets/maplibre-gl-worker.mjs": "text/javascript", // module workers need a JavaScript type
	} {
		resp, body := ts.do(t, "GET", path, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), mime) || len(body) == 0 {
			t.Errorf("GET %s: %d %s (%d bytes)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	for _, path := range []string{"/assets/nope.js", "/assets/.gitkeep", "/assets/../embed.go", "/assets/%2e%2e/embed.go"} {
		if resp, _ := ts.do(t, "GET", path, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}
