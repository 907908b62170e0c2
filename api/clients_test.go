package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// stampRE is a timestamp as every answer writes it: RFC 3339, UTC, milliseconds.
var stampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// TestReportHazardAnswersAsGet: POST /api/v1/hazards answers, byte for byte, what GET
// /api/v1/hazards/{id} then answers for the new hazard (version and history included),
// with the same ETag; so does a transition for the state it leaves. If-None-Match with
// that ETag is a 304 until the hazard changes.
func TestReportHazardAnswersAsGet(t *testing.T) {
	f := newGridFixture(t)
	loc := centre(f.c1, 0.0002, 0.0001)
	resp, posted := f.post(t, f.off1, "/api/v1/hazards", fmt.Sprintf(
		`{"level":"一般","category":"消防安全","description":"灭火器过期","lon":%v,"lat":%v,"feature_kind":"enterprises","feature_code":%q}`,
		loc[0], loc[1], f.uscc["E1"]))
	if resp.StatusCode != 201 {
		t.Fatalf("report: %d %s", resp.StatusCode, posted)
	}
	var created struct {
		ID      int64 `json:"id"`
		Version int   `json:"version"`
	}
	if err := json.Unmarshal(posted, &created); err != nil || created.ID == 0 || created.Version != 1 {
		t.Fatalf("report answered %s (%v)", posted, err)
	}
	path := fmt.Sprintf("/api/v1/hazards/%d", created.ID)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Location") != path || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("report headers: ETag %q, Location %q, Content-Type %q", etag, resp.Header.Get("Location"), resp.Header.Get("Content-Type"))
	}
	// The reporter and the street office (whose street it lies in) read the same bytes.
	for _, who := range []string{f.off1, f.sta} {
		resp, got := f.get(t, who, path, nil)
		if resp.StatusCode != 200 || !bytes.Equal(got, posted) {
			t.Errorf("GET %d:\n%s\nPOST answered:\n%s", resp.StatusCode, got, posted)
		}
		if resp.Header.Get("ETag") != etag {
			t.Errorf("GET ETag %q, POST %q", resp.Header.Get("ETag"), etag)
		}
	}
	resp, body := f.ts.do(t, "GET", path, "", "Authorization", f.off1, "If-None-Match", etag)
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match the report's ETag: %d %s", resp.StatusCode, body)
	}

	// A step: its answer is the next GET's, and the old ETag no longer matches.
	resp, stepped := f.post(t, f.sta, path+"/transition", `{"to":"registered","version":1}`)
	if resp.StatusCode != 200 {
		t.Fatalf("transition: %d %s", resp.StatusCode, stepped)
	}
	stepTag := resp.Header.Get("ETag")
	resp, got := f.ts.do(t, "GET", path, "", "Authorization", f.off1, "If-None-Match", etag)
	if resp.StatusCode != 200 || !bytes.Equal(got, stepped) || resp.Header.Get("ETag") != stepTag || stepTag == etag {
		t.Errorf("after the step: %d ETag %q (step %q, report %q)\n%s\nstep answered\n%s", resp.StatusCode, resp.Header.Get("ETag"), stepTag, etag, got, stepped)
	}
	var h struct {
		Version int `json:"version"`
		History []struct {
			To string `json:"to"`
			At string `json:"at"`
		} `json:"history"`
		ReportedAt string `json:"reported_at"`
		UpdatedAt  string `json:"updated_at"`
	}
	if err := json.Unmarshal(got, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || len(h.History) != 2 || h.History[1].To != "registered" || !stampRE.MatchString(h.History[1].At) ||
		!stampRE.MatchString(h.ReportedAt) || !stampRE.MatchString(h.UpdatedAt) {
		t.Errorf("after the step: %s", got)
	}
}
