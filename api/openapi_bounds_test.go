package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIAccuracyAboveZero: a check-in's accuracy_m must be above 0 (a browser never
// reports 0 m; the route refuses it with a 422 on position.accuracy_m), so the document's
// schema refuses 0 too, while it takes the smallest accuracy the route takes.
func TestOpenAPIAccuracyAboveZero(t *testing.T) {
	f := newGridFixture(t)
	resp, raw := f.get(t, f.admin, "/api/openapi.json", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Paths.Find("/api/v1/inspections").Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	p := centre(f.c1, 0.0001, 0.0001)
	send := func(acc float64) (error, int, []byte) {
		js := fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":%v}}`,
			f.uscc["E1"], p[0], p[1], p[0], p[1], acc)
		var v any
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		resp, out := f.post(t, f.off1, "/api/v1/inspections", js)
		return body.VisitJSON(v), resp.StatusCode, out
	}
	verr, status, out := send(0)
	if status != 422 {
		t.Fatalf("accuracy_m 0: %d %s", status, out)
	}
	var pr problem
	if err := json.Unmarshal(out, &pr); err != nil || !slices.ContainsFunc(pr.Errors, func(e FieldError) bool { return e.Field == "position.accuracy_m" }) {
		t.Errorf("accuracy_m 0: the 422 names %s", out)
	}
	if verr == nil {
		t.Error("accuracy_m 0: the route refuses it, the document's schema takes it")
	}
	if verr, status, out := send(0.5); verr != nil || status != 201 {
		t.Errorf("accuracy_m 0.5: schema %v, route %d %s", verr, status, out)
	}
}

// TestOpenAPIPhotoIDsPositive: the routes that take photos (a report, a transition, an
// inspection) refuse an id of 0 or less with a 422 naming photos[i], so the document's
// schemas refuse them too, and take a positive id.
func TestOpenAPIPhotoIDsPositive(t *testing.T) {
	f := newGridFixture(t)
	resp, raw := f.get(t, f.admin, "/api/openapi.json", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/inspections", "/api/v1/hazards", "/api/v1/hazards/{id}/transition"} {
		body := doc.Paths.Find(path).Post.RequestBody.Value.Content.Get("application/json").Schema.Value
		photos := body.Properties["photos"].Value
		for _, id := range []int64{0, -1} {
			if err := photos.VisitJSON([]any{float64(id)}); err == nil {
				t.Errorf("%s: photos [%d]: the route refuses it, the document's schema takes it", path, id)
			}
		}
		if err := photos.VisitJSON([]any{float64(1)}); err != nil {
			t.Errorf("%s: photos [1]: %v", path, err)
		}
	}
	p := centre(f.c1, 0.0001, 0.0001)
	for _, id := range []int{0, -1} {
		js := fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"photos":[%d]}`, f.uscc["E1"], p[0], p[1], id)
		resp, out := f.post(t, f.off1, "/api/v1/inspections", js)
		var pr problem
		if resp.StatusCode != 422 || json.Unmarshal(out, &pr) != nil ||
			!slices.ContainsFunc(pr.Errors, func(e FieldError) bool { return e.Field == "photos[0]" }) {
			t.Errorf("photos [%d]: %d %s", id, resp.StatusCode, out)
		}
	}
}
