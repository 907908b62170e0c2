package api

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// After concurrent traffic of every method over kept-alive connections (fasthttp reuses
// its request buffers across them), /metrics is still a valid Prometheus exposition and
// every method label is a real HTTP method: a label that was a view of a reused buffer
// turned "POST" into "GETT" or "POS" and broke the exposition.
func TestMetricsParseAfterConcurrentMixedTraffic(t *testing.T) {
	ts := newTestServer(t, nil)
	addr, _ := servedOn(t, ts)
	base := "http://" + addr
	type call struct{ method, path, body string }
	calls := []call{
		{"GET", "/healthz", ""},
		{"POST", "/api/v1/auth/login", `{"username":"nobody","password":"wrong-password"}`},
		{"PUT", "/api/v1/grid/units/U1", `{"name":"x","street_code":"310101001","cells":[]}`},
		{"DELETE", "/api/v1/grid/units/U1", ""},
		{"PATCH", "/api/v1/grid/units/U1", `{}`},
		{"POST", "/api/v1/grid/units/U1/officer", `{"officer":"x"}`},
		{"DELETE", "/api/v1/grid/units/U1/officer", ""},
		{"HEAD", "/healthz", ""},
		{"GET", "/api/v1/me", ""},
		{"OPTIONS", "/api/v1/me", ""},
		{"GETT", "/healthz", ""}, // not a method: counted as unmatched, never as a label
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				c := calls[(g+i)%len(calls)]
				req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", c.method, c.path, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 && c.method != "GETT" {
					t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()

	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	real := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}
	seen := map[string]bool{}
	for _, name := range []string{"safegrid_http_requests_total", "safegrid_http_request_duration_seconds"} {
		mf := families[name]
		if mf == nil {
			t.Fatalf("no %s", name)
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "method" {
					continue
				}
				if !slices.Contains(real, l.GetValue()) {
					t.Errorf("%s has the method label %q", name, l.GetValue())
				}
				seen[l.GetValue()] = true
			}
		}
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		if !seen[m] {
			t.Errorf("no %s label (seen %v)", m, seen)
		}
	}
}
