package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

// update rewrites the golden files from what the code serves now: go test ./api -update.
// Do it only in the commit that changes the API on purpose.
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestOpenAPIGolden pins the served OpenAPI document, so a restructuring cannot change the
// API by accident.
func TestOpenAPIGolden(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, body := ts.do(t, "GET", "/api/openapi.json", "")
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	const path = "testdata/openapi.golden.json"
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("the served OpenAPI document differs from %s (go test ./api -run TestOpenAPIGolden -update rewrites it, on purpose only)", path)
	}
}
