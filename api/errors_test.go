package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

type testBody struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Plan  struct {
		Funds float64 `json:"funds"`
	} `json:"plan"`
}

func TestBadBodiesAreProblems(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BodyLimit = 1024 })
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")
	ts.route("POST", "/api/v1/test/body", Operation{Summary: "test", Body: testBody{}, Response: testBody{}}, func(c *fiber.Ctx) error {
		var b testBody
		if err := decodeJSON(c, &b); err != nil {
			return err
		}
		return c.JSON(b)
	})
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"ok", `{"name":"x","count":2,"plan":{"funds":1.5}}`, 200, ""},
		{"malformed", `{"name":`, 400, ""},
		{"not JSON", `name=x`, 400, ""},
		{"empty", ``, 400, ""},
		{"two values", `{"name":"x"} {"name":"y"}`, 400, ""},
		{"unknown field", `{"name":"x","colour":"red"}`, 422, "colour"},
		{"wrong type", `{"name":"x","count":"two"}`, 422, "count"},
		{"wrong nested type", `{"plan":{"funds":"lots"}}`, 422, "plan.funds"},
		{"not an object", `[1,2]`, 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, "POST", "/api/v1/test/body", tc.body, "Authorization", auth, "Content-Type", "application/json")
			if tc.status == 200 {
				if resp.StatusCode != 200 {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				return
			}
			p := problemOf(t, resp, body, tc.status)
			if tc.status == 422 {
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Reason == "" {
					t.Errorf("errors %+v, want the field %q", p.Errors, tc.field)
				}
			}
			if p.Detail == "" {
				t.Error("no detail")
			}
		})
	}
}

// A body over Config.BodyLimit is refused by fasthttp before routing (app.Test cannot
// show it: it reports the refusal as its own error), so this runs on a real socket.
func TestOversizeBodyIs413(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.BodyLimit = 1024 })
	addr, _ := servedOn(t, ts)
	body := `{"username":"` + strings.Repeat("x", 2000) + `","password":"p"}`
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	problemOf(t, resp, data, 413)
}

// A database error is a 500 whose body names neither the SQL nor the table; the log has
// the real error under the same request id.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.route("GET", "/api/v1/test/broken", Operation{Summary: "test", Auth: AuthPublic, Response: healthResponse{}}, func(c *fiber.Ctx) error {
		_, err := testdb.DB(ts.st).Exec(c.UserContext(), `SELECT secret_column FROM no_such_table`)
		return err
	})
	ts.route("GET", "/api/v1/test/panic", Operation{Summary: "test", Auth: AuthPublic, Response: healthResponse{}}, func(c *fiber.Ctx) error {
		panic("boom in handler")
	})
	for _, path := range []string{"/api/v1/test/broken", "/api/v1/test/panic"} {
		resp, body := ts.do(t, "GET", path, "")
		p := problemOf(t, resp, body, 500)
		for _, leak := range []string{"no_such_table", "secret_column", "SELECT", "SQLSTATE", "boom", "goroutine"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("%s: the response leaks %q: %s", path, leak, body)
			}
		}
		if !strings.Contains(p.Detail, p.RequestID) {
			t.Errorf("the detail does not quote the request id: %q", p.Detail)
		}
		logs := ts.logs.String()
		if !strings.Contains(logs, p.RequestID) {
			t.Errorf("the log lacks request %s", p.RequestID)
		}
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "no_such_table") || !strings.Contains(logs, "boom in handler") {
		t.Errorf("the log lacks the real errors:\n%s", logs)
	}
}

func TestTypedErrorsMapToStatuses(t *testing.T) {
	ts := newTestServer(t, nil)
	errs := map[string]error{
		"notfound":  &grid.NotFoundError{What: "hazard", Key: "HZ1"},
		"invalid":   &grid.InvalidError{Field: "location", Reason: "is outside Shanghai"},
		"forbidden": grid.ErrForbidden,
		"conflict":  grid.ErrConflict,
		"import":    &ingest.ImportError{Kind: "hazards", Rejections: []ingest.Rejection{{Row: 3, Field: "level", Reason: "unknown level"}}},
		"problem":   Problem(fiber.StatusConflict, "Version Mismatch", "the hazard changed; reload it"),
		"broad":     &grid.TooBroadError{What: "hazard clustering", Hint: "narrow the filter", Err: context.DeadlineExceeded},
	}
	want := map[string]int{"notfound": 404, "invalid": 422, "forbidden": 403, "conflict": 409, "import": 422, "problem": 409, "broad": 422}
	for name, err := range errs {
		ts.route("GET", "/api/v1/test/err/"+name, Operation{Summary: "test", Auth: AuthPublic, Response: healthResponse{}},
			func(*fiber.Ctx) error { return err })
	}
	for name, status := range want {
		resp, body := ts.do(t, "GET", "/api/v1/test/err/"+name, "")
		p := problemOf(t, resp, body, status)
		switch name {
		case "invalid":
			if len(p.Errors) != 1 || p.Errors[0].Field != "location" {
				t.Errorf("%s: %+v", name, p)
			}
		case "import":
			if len(p.Errors) != 1 || p.Errors[0].Row != 3 || p.Errors[0].Field != "level" {
				t.Errorf("%s: %+v", name, p)
			}
		case "problem":
			if p.Title != "Version Mismatch" {
				t.Errorf("%s: %+v", name, p)
			}
		case "broad": // not a 503: retrying will not help
			if p.Title != "Request Too Broad" || !strings.Contains(p.Detail, "narrow the filter") || resp.Header.Get("Retry-After") != "" {
				t.Errorf("%s: %+v", name, p)
			}
		}
	}
}

func TestQueryParams(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxLimit = 500; c.DefaultLimit = 50 })
	ts.route("GET", "/api/v1/test/page", Operation{Summary: "test", Auth: AuthPublic, Params: []Param{LimitParam, OffsetParam}, Response: healthResponse{}}, func(c *fiber.Ctx) error {
		limit, offset, err := ts.page(c)
		if err != nil {
			return err
		}
		return c.JSON(healthResponse{Status: strconv.Itoa(limit) + "," + strconv.Itoa(offset)})
	})
	for q, want := range map[string]string{"": "50,0", "?limit=7&offset=3": "7,3", "?limit=100000": "500,0"} {
		resp, body := ts.do(t, "GET", "/api/v1/test/page"+q, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%q: %d %s, want %s", q, resp.StatusCode, body, want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?offset=-1"} {
		resp, body := ts.do(t, "GET", "/api/v1/test/page"+q, "")
		p := problemOf(t, resp, body, 422)
		if len(p.Errors) != 1 || !strings.Contains(q, p.Errors[0].Field) {
			t.Errorf("%q: %+v", q, p)
		}
	}
}

// TestToProblemFieldErrors checks the 422 mappings of grid's multi-field and whole-file
// errors, returned bare or wrapped, so no handler has to map them itself.
func TestToProblemFieldErrors(t *testing.T) {
	fields := &grid.InvalidFieldsError{Errors: []grid.InvalidError{
		{Field: "deadline", Reason: "is required"},
		{Field: "funds", Reason: "is required for a 重大 hazard"},
	}}
	file := &ingest.FileError{Row: 4, Reason: "malformed JSON: unexpected end"}
	for _, tc := range []struct {
		name   string
		err    error
		detail string
		want   []FieldError
	}{
		{"fields", fields, "deadline: is required (and 1 more)",
			[]FieldError{{Field: "deadline", Reason: "is required"}, {Field: "funds", Reason: "is required for a 重大 hazard"}}},
		{"wrapped fields", fmt.Errorf("assign: %w", fields), "deadline: is required (and 1 more)",
			[]FieldError{{Field: "deadline", Reason: "is required"}, {Field: "funds", Reason: "is required for a 重大 hazard"}}},
		{"file", file, "row 4, malformed JSON: unexpected end",
			[]FieldError{{Row: 4, Reason: "malformed JSON: unexpected end"}}},
		{"file before the first row", fmt.Errorf("import: %w", &ingest.FileError{Reason: "the CSV file is empty: it needs a header row"}),
			"the CSV file is empty: it needs a header row", []FieldError{{Reason: "the CSV file is empty: it needs a header row"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := toProblem(context.Background(), tc.err)
			if p.Status != 422 || p.Title != "Unprocessable Entity" || p.Type != "about:blank" || p.Detail != tc.detail {
				t.Errorf("problem %+v, want 422 with detail %q", p, tc.detail)
			}
			if !reflect.DeepEqual(p.Errors, tc.want) {
				t.Errorf("errors %+v, want %+v", p.Errors, tc.want)
			}
		})
	}
}

// A write that gave up waiting for an import's lock is a 503 to try again, not a 500.
func TestToProblemBusy(t *testing.T) {
	p := toProblem(context.Background(), fmt.Errorf("transition: %w", grid.ErrBusy))
	if p.Status != 503 || p.retryAfter != 5 || p.Detail != grid.ErrBusy.Error() {
		t.Errorf("problem %+v (retry after %d)", p, p.retryAfter)
	}
}
