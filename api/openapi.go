package api

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Auth is how a route's caller signs in.
type Auth int

const (
	// AuthBearer (the default): Authorization: Bearer TOKEN from POST /api/v1/auth/login.
	AuthBearer Auth = iota
	// AuthPublic: no sign-in; principal(c) is nil.
	AuthPublic
	// AuthBearerOrBasic: a bearer token or HTTP Basic credentials of the same users, for
	// /ogc and /tiles (QGIS 3.22 can only send Basic).
	AuthBearerOrBasic
)

// Operation documents one endpoint. s.route mounts the handlers and records the operation
// in the same call, so the OpenAPI document cannot drift from the router; the auth and
// role checks it declares are mounted from it too.
type Operation struct {
	ID          string // operationId; default from method and path (getApiV1StreetsByCodeHazards)
	Summary     string
	Description string
	Tags        []string
	Auth        Auth
	Roles       []string // grid.Role* allowed; empty: any signed-in caller
	Params      []Param  // path parameters not listed here are documented as strings
	// Body is a value of the JSON request body's type (e.g. hazardRequest{}), reflected
	// into a schema; nil for no body. Response likewise for the success body; either may
	// be a Schema for JSON that has no Go type (GeoJSON).
	Body any
	// RawBody lists the media types of a request body that is a file, not JSON (a
	// photo), documented as binary; nil for none.
	RawBody  []string
	Response any
	Status   int      // success status; default 200, or 204 without a Response
	Produces []string // success media types; default application/json
	// Problems lists statuses the handler returns besides the ones the operation implies
	// (400/413/422 with a Body, 422 with query parameters, 401, 403 with Roles, 500, 503).
	Problems []int
	// BodyLimit is the largest request body in bytes; 0 is jsonBodyLimit (1 MB). Over
	// it is a 413, before the body is read (bodylimit.go).
	BodyLimit int
	// Keep has the route's 200 answers kept until the data under them changes
	// (respcache.go); it names the tables an answer is read from (keepAll: any). nil for
	// routes whose answers change with time or are written to.
	Keep func(c *fiber.Ctx) []string
}

// Param is a path, query or header parameter.
type Param struct {
	Name        string
	In          string // "path", "query" or "header"
	Description string
	Required    bool
	Schema      Schema // default {"type": "string"}
	Ref         string // a shared parameter instead: "limit" or "offset"
}

// PathParam is a required string path parameter.
func PathParam(name, doc string) Param {
	return Param{Name: name, In: "path", Description: doc, Required: true}
}

// QueryParam is an optional query parameter; typ is a JSON schema type ("string",
// "integer", "number", "boolean"). Set Schema on the result for enums and formats.
func QueryParam(name, typ, doc string) Param {
	return Param{Name: name, In: "query", Description: doc, Schema: Schema{"type": typ}}
}

// The shared paging parameters (#/components/parameters/limit and offset). QGIS and GDAL
// read the largest page size from limit's schema maximum.
var (
	LimitParam  = Param{Ref: "limit"}
	OffsetParam = Param{Ref: "offset"}
)

type routeSpec struct {
	method, path string
	op           Operation
}

// route mounts handlers at method and path (fiber syntax, :param) behind the sign-in and
// role checks op declares, and records op for the OpenAPI document. A GET also answers
// HEAD. It panics on a malformed or duplicate registration: that is a programming error
// the tests catch at startup.
func (s *Server) route(method, path string, op Operation, handlers ...fiber.Handler) {
	op = op.complete(method, path)
	for _, r := range s.routes {
		if r.method == method && r.path == path {
			panic(fmt.Sprintf("route %s %s registered twice", method, path))
		}
		if r.op.ID == op.ID {
			panic(fmt.Sprintf("operationId %s used by %s %s and %s %s", op.ID, r.method, r.path, method, path))
		}
	}
	chain := []fiber.Handler{markMatched}
	if op.Auth != AuthPublic {
		chain = append(chain, s.authenticate(op.Auth == AuthBearerOrBasic, op.Keep != nil))
	}
	if len(op.Roles) > 0 {
		chain = append(chain, requireRole(op.Roles...))
	}
	if op.Keep != nil {
		chain = append(chain, s.keep(op.Keep))
	}
	chain = append(chain, handlers...)
	s.app.Add(method, path, chain...)
	if method == fiber.MethodGet {
		s.app.Add(fiber.MethodHead, path, chain...)
	}
	s.routes = append(s.routes, routeSpec{method: method, path: path, op: op})
}

// plain mounts an undocumented route: only the probes and /metrics, which are for
// machines in the operator's network rather than API clients, and the map page's static
// files (web.go).
func (s *Server) plain(method, path string, h fiber.Handler) {
	s.app.Add(method, path, markMatched, h)
	s.undocumented = append(s.undocumented, method+" "+path)
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)(<[^>]*>)?`)

// openAPIPath turns fiber's /streets/:code into OpenAPI's /streets/{code}.
func openAPIPath(path string) string { return fiberParam.ReplaceAllString(path, "{$1}") }

// complete fills the defaults of op and checks it against path.
func (op Operation) complete(method, path string) Operation {
	if strings.ContainsAny(path, "*+?") {
		panic("route " + path + ": wildcards and optional parameters cannot be documented")
	}
	inPath := map[string]bool{}
	for _, m := range fiberParam.FindAllStringSubmatch(path, -1) {
		inPath[m[1]] = true
	}
	op.Params = slices.Clone(op.Params)
	for _, p := range op.Params {
		if p.In == "path" && !inPath[p.Name] {
			panic(fmt.Sprintf("route %s: parameter %q is not in the path", path, p.Name))
		}
	}
	for _, m := range fiberParam.FindAllStringSubmatch(path, -1) {
		if !slices.ContainsFunc(op.Params, func(p Param) bool { return p.In == "path" && p.Name == m[1] }) {
			op.Params = append(op.Params, PathParam(m[1], ""))
		}
	}
	if op.ID == "" {
		op.ID = operationID(method, path)
	}
	if op.BodyLimit == 0 {
		op.BodyLimit = jsonBodyLimit
	}
	if op.Status == 0 {
		op.Status = http.StatusOK
		if op.Response == nil {
			op.Status = http.StatusNoContent
		}
	}
	if len(op.Produces) == 0 && op.Response != nil {
		op.Produces = []string{fiber.MIMEApplicationJSON}
	}
	if op.Keep != nil && !strings.Contains(op.Description, "If-None-Match") {
		op.Description = strings.TrimSpace(op.Description + " The answer carries an ETag; If-None-Match naming it gives 304 while the data under it is unchanged.")
	}
	return op
}

// operationID makes getApiV1StreetsByCodeHazards of GET /api/v1/streets/:code/hazards.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '.' || r == '-' || r == '_' }) {
		if m := fiberParam.FindStringSubmatch(seg); m != nil {
			b.WriteString("By")
			seg = m[1]
		}
		if seg != "" {
			b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
		}
	}
	return b.String()
}

// openAPI builds the document from the registered routes. It is built per request: it is
// small, and so it can never be stale.
func (s *Server) openAPI() map[string]any {
	sc := newSchemas()
	problemRef := sc.of(problem{})
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	for _, r := range s.routes {
		p := openAPIPath(r.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.method)] = r.op.document(sc, problemRef)
		for _, t := range r.op.Tags {
			tags[t] = true
		}
	}
	// Request bodies after every answer, so a type both read and written keeps its name
	// for the answers (schemas.inputRef).
	sc.request = true
	for _, r := range s.routes {
		if r.op.Body != nil {
			paths[openAPIPath(r.path)][strings.ToLower(r.method)].(map[string]any)["requestBody"] = map[string]any{
				"required":    true,
				"description": fmt.Sprintf("at most %s; a larger body is a 413", byteSize(r.op.BodyLimit)),
				"content":     map[string]any{fiber.MIMEApplicationJSON: map[string]any{"schema": sc.of(r.op.Body)}},
			}
		}
		if r.op.RawBody != nil { // photos: a file as the body
			content := map[string]any{}
			for _, mt := range r.op.RawBody {
				content[mt] = map[string]any{"schema": Schema{"type": "string", "format": "binary"}}
			}
			paths[openAPIPath(r.path)][strings.ToLower(r.method)].(map[string]any)["requestBody"] = map[string]any{
				"required":    true,
				"description": fmt.Sprintf("the file, at most %s; a larger body is a 413", byteSize(r.op.BodyLimit)),
				"content":     content,
			}
		}
	}
	sc.request = false
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "SafeGrid",
			"version": "1.0.0",
			"description": "Work-safety supervision for Shanghai: grid officers, street offices, planners and admins on H3 cells and PostGIS. Errors are application/problem+json (RFC 9457). " +
				fmt.Sprintf("JSON bodies are read strictly: field names are case-sensitive, unknown or repeated fields and NUL characters are refused (422 naming the field), a body that is not UTF-8 is a 400; a string field without a maxLength of its own takes at most %d characters, an integer without a range must fit 32 bits. "+
					"A request body's required fields must be present (else 422 naming each); the others are optional or take the default their description gives. "+
					"Timestamps are written as RFC 3339 in UTC with milliseconds (2026-12-02T10:14:19.778Z); calendar dates (deadline) are YYYY-MM-DD Asia/Shanghai dates.", defaultMaxLength),
		},
		"paths": paths,
		"tags":  tagList(tags),
		"components": map[string]any{
			"schemas":    sc.defs,
			"parameters": s.sharedParams(),
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "description": "the token from POST /api/v1/auth/login"},
				"basicAuth":  map[string]any{"type": "http", "scheme": "basic", "description": "username and password; /ogc and /tiles only (QGIS)"},
			},
		},
		"security": []any{map[string]any{"bearerAuth": []string{}}},
	}
}

func (s *Server) sharedParams() map[string]any {
	return map[string]any{
		"limit": map[string]any{
			"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
			"description": fmt.Sprintf("items per page; larger values are lowered to %d", s.cfg.MaxLimit),
			"schema":      Schema{"type": "integer", "minimum": 1, "maximum": s.cfg.MaxLimit, "default": s.cfg.DefaultLimit},
		},
		"offset": map[string]any{
			"name": "offset", "in": "query", "required": false, "style": "form", "explode": false,
			"description": "items to skip",
			"schema":      Schema{"type": "integer", "minimum": 0, "default": 0},
		},
	}
}

func tagList(tags map[string]bool) []any {
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = map[string]any{"name": n}
	}
	return out
}

// document is op as an OpenAPI operation object.
func (op Operation) document(sc *schemas, problemRef Schema) map[string]any {
	d := map[string]any{"operationId": op.ID, "summary": op.Summary, "responses": op.responses(sc, problemRef)}
	desc := op.Description
	if len(op.Roles) > 0 {
		desc = strings.TrimSpace(desc + "\n\nRoles: " + strings.Join(op.Roles, ", ") + ".")
		d["x-roles"] = op.Roles
	}
	if desc != "" {
		d["description"] = desc
	}
	if len(op.Tags) > 0 {
		d["tags"] = op.Tags
	}
	switch op.Auth {
	case AuthPublic:
		d["security"] = []any{}
	case AuthBearerOrBasic:
		d["security"] = []any{map[string]any{"bearerAuth": []string{}}, map[string]any{"basicAuth": []string{}}}
	}
	if params := op.params(); len(params) > 0 {
		d["parameters"] = params
	}
	return d // the requestBody is added by openAPI, after every answer
}

func (op Operation) params() []any {
	var out []any
	for _, p := range op.Params {
		if p.Ref != "" {
			out = append(out, map[string]any{"$ref": "#/components/parameters/" + p.Ref})
			continue
		}
		schema := p.Schema
		if schema == nil {
			schema = Schema{"type": "string"}
		}
		m := map[string]any{"name": p.Name, "in": p.In, "required": p.Required || p.In == "path", "schema": schema}
		if p.Description != "" {
			m["description"] = p.Description
		}
		out = append(out, m)
	}
	return out
}

func (op Operation) responses(sc *schemas, problemRef Schema) map[string]any {
	ok := map[string]any{"description": http.StatusText(op.Status)}
	if op.Response != nil {
		content := map[string]any{}
		for _, mt := range op.Produces {
			if strings.Contains(mt, "json") {
				content[mt] = map[string]any{"schema": sc.of(op.Response)}
			} else {
				content[mt] = map[string]any{"schema": Schema{"type": "string", "format": "binary"}}
			}
		}
		ok["content"] = content
	}
	out := map[string]any{strconv.Itoa(op.Status): ok}
	for _, st := range op.problemStatuses() {
		out[strconv.Itoa(st)] = map[string]any{
			"description": http.StatusText(st),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemRef}},
		}
	}
	return out
}

func (op Operation) problemStatuses() []int {
	st := slices.Clone(op.Problems)
	st = append(st, http.StatusInternalServerError, http.StatusServiceUnavailable)
	if op.Body != nil || op.RawBody != nil {
		st = append(st, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
	}
	if slices.ContainsFunc(op.Params, func(p Param) bool { return p.In == "query" || p.Ref != "" }) {
		st = append(st, http.StatusUnprocessableEntity)
	}
	if op.Auth != AuthPublic {
		st = append(st, http.StatusUnauthorized)
	}
	if op.Auth == AuthBearerOrBasic {
		st = append(st, http.StatusTooManyRequests) // failed Basic sign-ins are rate-limited
	}
	if len(op.Roles) > 0 {
		st = append(st, http.StatusForbidden)
	}
	slices.Sort(st)
	return slices.Compact(st)
}

// openAPIHandler serves the document, as the OpenAPI media type when the client asks for
// it (OGC API clients follow a service-desc link of that type) and as JSON otherwise.
func (s *Server) openAPIHandler(c *fiber.Ctx) error {
	const oai = "application/vnd.oai.openapi+json;version=3.0"
	ct := fiber.MIMEApplicationJSON
	if strings.Contains(c.Get(fiber.HeaderAccept), "openapi") {
		ct = oai
	}
	if err := c.JSON(s.openAPI()); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	return nil
}
