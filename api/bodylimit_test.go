package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawPost sends a POST's headers and the first part of its body over a real socket and
// reads the answer, with the rest of the body never sent: a server that waited for the
// whole body would time out.
func rawPost(t *testing.T, addr, path string, header string, first string) (*http.Response, []byte) {
	t.Helper()
	return rawRequest(t, addr, "POST "+path+" HTTP/1.1\r\nHost: safegrid\r\nContent-Type: application/json\r\n"+header+"\r\n"+first)
}

// A 20 MB body to the sign-in or the hazard report is refused with a 413 problem as soon
// as its headers arrive: the server reads none of it (the answer comes though 20 MB were
// never sent). Each route has its own limit: 4 KB for sign-in, 1 MB for JSON, the
// configured one for imports.
func TestBodyLimitsPerRoute(t *testing.T) {
	ts := newTestServer(t, nil)
	addr, _ := servedOn(t, ts)
	const twenty = 20 << 20
	for _, path := range []string{"/api/v1/auth/login", "/api/v1/hazards", "/API/V1/Auth/Login/", "/api/v1/hazards/1/transition"} {
		start := time.Now()
		resp, body := rawPost(t, addr, path, fmt.Sprintf("Content-Length: %d\r\n", twenty), `{"username":"`+strings.Repeat("a", 1000))
		if resp.StatusCode != 413 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: %d %q %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var p problem
		if err := json.Unmarshal(body, &p); err != nil || p.Status != 413 {
			t.Errorf("%s: problem %s", path, body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: 413 after %v", path, d)
		}
	}
	// A chunked body is cut off at the limit too.
	resp, body := rawPost(t, addr, "/api/v1/auth/login", "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\n", 8000, strings.Repeat("a", 8000)))
	if resp.StatusCode != 413 {
		t.Errorf("chunked sign-in: %d %s", resp.StatusCode, body)
	}

	// Under the limits the body reaches the route (401: nobody signed in; 422 or 401 for
	// the sign-in), over them it does not.
	for _, tc := range []struct {
		path string
		size int
		want int
	}{
		{"/api/v1/auth/login", 3 << 10, 422},
		{"/api/v1/auth/login", 5 << 10, 413},
		{"/api/v1/hazards", 900 << 10, 401},
		{"/api/v1/hazards", 2 << 20, 413},
		{"/api/v1/grid/units", 2 << 20, 413},
		{"/api/v1/import/enterprises", 900 << 10, 401},
		// No credentials: an import's large limit is not for anonymous callers.
		{"/api/v1/import/enterprises", 2 << 20, 413},
	} {
		body := `{"x":"` + strings.Repeat("a", tc.size-8) + `"}`
		st, data := 0, []byte(nil)
		if tc.want == 413 { // the server answers and closes while the client still writes
			resp, b := rawPost(t, addr, tc.path, fmt.Sprintf("Content-Length: %d\r\n", len(body)), body[:1000])
			st, data = resp.StatusCode, b
		} else {
			st, data = post(t, addr, tc.path, body)
		}
		if st != tc.want {
			t.Errorf("%s with %d bytes: %d, want %d: %.200s", tc.path, len(body), st, tc.want, data)
		}
	}

	// The import's limit is the configured one.
	small := newTestServer(t, func(c *Config) { c.BodyLimit = 512 << 10 })
	smallAddr, _ := servedOn(t, small)
	if resp, data := rawPost(t, smallAddr, "/api/v1/import/enterprises", fmt.Sprintf("Authorization: Bearer x\r\nContent-Length: %d\r\n", 600<<10), "a"); resp.StatusCode != 413 {
		t.Errorf("import over a 512 KB limit: %d %.200s", resp.StatusCode, data)
	}
	// With credentials in the headers (valid or not: that is checked after the body), an
	// import takes the configured limit: 2 MB reach the route, which refuses the token.
	big := `{"x":"` + strings.Repeat("a", 2<<20) + `"}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/import/enterprises", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer not-a-token")
	req.Header.Set("Content-Type", "application/geo+json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("a 2 MB import with credentials: %d, want 401 (the body read, the token refused)", resp.StatusCode)
		}
	}
}

func post(t *testing.T, addr, path, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}
