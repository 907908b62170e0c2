package api

import (
	"bytes"
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
