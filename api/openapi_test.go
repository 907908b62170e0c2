package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// undocumented are the only routes allowed outside the OpenAPI document. Add to it only
// for machines-only routes (probes, metrics, static files), never for an API endpoint.
var undocumented = []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /", "GET /assets/*"}

type openAPIDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas         map[string]any            `json:"schemas"`
		Parameters      map[string]map[string]any `json:"parameters"`
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

// TestOpenAPICoversEveryRoute walks the router: every route is in the document with the
// same method and path, and the document has nothing the router lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxLimit = 5000 })
	resp, body := ts.do(t, "GET", "/api/openapi.json", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}

	routed := map[string]bool{}
	for _, r := range ts.app.GetRoutes(true) {
		key := r.Method + " " + r.Path
		if r.Method == fiber.MethodHead || slices.Contains(undocumented, key) {
			continue
		}
		routed[r.Method+" "+openAPIPath(r.Path)] = true
		if _, ok := doc.Paths[openAPIPath(r.Path)][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s is routed but not in the OpenAPI document", key)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routed[strings.ToUpper(method)+" "+path] {
				t.Errorf("the document has %s %s, which is not routed", method, path)
			}
		}
	}
	if !slices.Equal(ts.undocumented, undocumented) {
		t.Errorf("undocumented routes %v, want %v", ts.undocumented, undocumented)
	}
	if len(routed) < 4 {
		t.Errorf("only %d routes", len(routed))
	}

	limit := doc.Components.Parameters["limit"]
	schema, _ := limit["schema"].(map[string]any)
	if limit["in"] != "query" || schema["maximum"] != 5000.0 || schema["default"] != 100.0 {
		t.Errorf("#/components/parameters/limit = %v", limit)
	}
	if doc.Components.SecuritySchemes["bearerAuth"]["scheme"] != "bearer" || doc.Components.SecuritySchemes["basicAuth"]["scheme"] != "basic" {
		t.Errorf("security schemes %v", doc.Components.SecuritySchemes)
	}
	checkRefs(t, body, doc)

	login := doc.Paths["/api/v1/auth/login"]["post"]
	if sec, ok := login["security"].([]any); !ok || len(sec) != 0 {
		t.Errorf("login must be documented as public: %v", login["security"])
	}
	if _, ok := login["responses"].(map[string]any)["429"]; !ok {
		t.Error("login does not document 429")
	}
}

// checkRefs: every $ref points at a component that exists.
func checkRefs(t *testing.T, body []byte, doc openAPIDoc) {
	t.Helper()
	for _, part := range strings.Split(string(body), `"$ref":"`)[1:] {
		ref := part[:strings.IndexByte(part, '"')]
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		var ok bool
		switch {
		case strings.HasPrefix(ref, "#/components/schemas/"):
			_, ok = doc.Components.Schemas[name]
		case strings.HasPrefix(ref, "#/components/parameters/"):
			_, ok = doc.Components.Parameters[name]
		}
		if !ok {
			t.Errorf("dangling $ref %s", ref)
		}
	}
}

func TestRouteRegistration(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.route("GET", "/api/v1/test/streets/:code/hazards", Operation{
		Summary: "test", Roles: []string{"street"}, Auth: AuthBearerOrBasic,
		Params:   []Param{PathParam("code", "9-digit street code"), QueryParam("level", "string", "hazard level"), LimitParam},
		Response: healthResponse{}, Produces: []string{"application/json", "text/csv"},
	}, func(c *fiber.Ctx) error { return nil })
	doc := ts.openAPI()
	op := doc["paths"].(map[string]map[string]any)["/api/v1/test/streets/{code}/hazards"]["get"].(map[string]any)
	if op["operationId"] != "getApiV1TestStreetsByCodeHazards" {
		t.Errorf("operationId %v", op["operationId"])
	}
	js, _ := json.Marshal(op)
	for _, want := range []string{`"403"`, `"401"`, `"422"`, `"text/csv"`, `"basicAuth"`, `"x-roles":["street"]`, `"$ref":"#/components/parameters/limit"`, `"9-digit street code"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("operation %s\nlacks %s", js, want)
		}
	}
	mustPanic(t, "duplicate", func() {
		ts.route("GET", "/api/v1/test/streets/:code/hazards", Operation{}, func(c *fiber.Ctx) error { return nil })
	})
	mustPanic(t, "parameter not in path", func() {
		ts.route("GET", "/api/v1/test/x", Operation{Params: []Param{PathParam("id", "")}}, func(c *fiber.Ctx) error { return nil })
	})
	if openAPIPath("/tiles/:layer/:z/:x/:y.mvt") != "/tiles/{layer}/{z}/{x}/{y}.mvt" {
		t.Errorf("openAPIPath: %s", openAPIPath("/tiles/:layer/:z/:x/:y.mvt"))
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}
