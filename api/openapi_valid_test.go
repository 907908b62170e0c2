package api

import (
	"bytes"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIValidates loads the served documents, the service's and /ogc's, with
// kin-openapi and validates them as OpenAPI 3.0 (schemas, references, parameters,
// examples and defaults against their schemas).
func TestOpenAPIValidates(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "adm", "admin", "")
	auth := ts.login(t, "adm")
	for _, path := range []string{"/api/openapi.json", "/ogc/api"} {
		resp, body := ts.do(t, "GET", path, "", "Authorization", auth)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(body)
		if err != nil {
			t.Fatalf("%s does not load: %v", path, err)
		}
		if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation(), openapi3.EnableSchemaDefaultsValidation(),
			openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaFormatValidation()); err != nil {
			t.Errorf("%s is not valid OpenAPI 3: %v", path, err)
		}
		if len(doc.Paths.Map()) < 5 {
			t.Errorf("%s: %d paths", path, len(doc.Paths.Map()))
		}
	}
	// The validator is awake: a schema type that does not exist is refused.
	_, body := ts.do(t, "GET", "/api/openapi.json", "")
	broken := bytes.Replace(body, []byte(`"type":"integer"`), []byte(`"type":"integr"`), 1)
	loader := openapi3.NewLoader()
	if doc, err := loader.LoadFromData(broken); err == nil && doc.Validate(loader.Context) == nil {
		t.Error("kin-openapi takes a schema of type integr")
	}
}

// TestRequestSchemas: in a request body only required:"true" fields are required; a
// type whose request schema differs from its answer's gets a second component
// (Name+"Input"), one whose schema is the same shares the answer's.
func TestRequestSchemas(t *testing.T) {
	type point struct {
		Lon float64 `json:"lon" required:"true"`
		Lat float64 `json:"lat" required:"true"`
	}
	type params struct {
		Minutes float64 `json:"minutes" doc:"default 5"`
		Where   point   `json:"where" required:"true"`
	}
	type result struct {
		Params params `json:"params"`
		At     point  `json:"at"`
	}
	sc := newSchemas()
	sc.of(result{})
	sc.request = true
	body := sc.of(params{})
	if body["$ref"] != "#/components/schemas/ParamsInput" {
		t.Errorf("request body %v", body)
	}
	req := func(name string) any { return sc.defs[name]["required"] }
	if got := req("Params"); !slices.Equal(got.([]string), []string{"minutes", "where"}) {
		t.Errorf("the answer's Params requires %v", got)
	}
	if got := req("ParamsInput"); !slices.Equal(got.([]string), []string{"where"}) {
		t.Errorf("the request's ParamsInput requires %v", got)
	}
	if _, ok := sc.defs["PointInput"]; ok || !slices.Equal(req("Point").([]string), []string{"lon", "lat"}) {
		t.Errorf("point: %v", sc.defs)
	}
}
