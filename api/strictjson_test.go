package api

import (
	"fmt"
	"strings"
	"testing"

	"safegrid/grid"
)

// Every JSON body is read strictly: names case-sensitively, no unknown or repeated keys,
// no NUL, UTF-8 only, strings and numbers within their fields' limits; each refusal a 4xx
// problem naming the field, never a 500 and never a quiet reinterpretation.
func TestStrictJSONBodies(t *testing.T) {
	f := newGridFixture(t)
	loc := centre(f.c2, 0.0001, 0.0001)
	report := func(fields string) string {
		return fmt.Sprintf(`{%s"lon":%v,"lat":%v}`, fields, loc[0], loc[1])
	}
	ok := `"level":"一般","category":"消防安全","description":"通道堵塞",`
	transition := "/api/v1/hazards/" + fmt.Sprint(f.hazardID["H1"]) + "/transition"
	for _, tc := range []struct {
		name, auth, path, body string
		status                 int
		field, reason          string
	}{
		{"differently-cased key", f.off1, "/api/v1/hazards", report(`"Level":"重大","category":"c","description":"d",`), 422, "Level", `did you mean "level"`},
		{"unknown key", f.off1, "/api/v1/hazards", report(ok + `"severity":"high",`), 422, "severity", "not a field"},
		{"repeated key", f.off1, "/api/v1/hazards", report(ok + `"level":"重大",`), 422, "level", "twice"},
		{"NUL in a string", f.off1, "/api/v1/hazards", report(`"level":"一般","category":"c","description":"a\u0000b",`), 422, "description", "NUL"},
		{"invalid UTF-8", f.off1, "/api/v1/hazards", report(`"level":"一般","category":"c","description":"a` + "\xff\xfe" + `b",`), 422, "description", "UTF-8"},
		{"invalid UTF-8 in a name", f.off1, "/api/v1/hazards", report(`"level":"一般","category":"c","description":"d","x` + "\xc3" + `":1,`), 422, "(a name)", "UTF-8"},
		{"description too long", f.off1, "/api/v1/hazards", report(`"level":"一般","category":"c","description":"` + strings.Repeat("隐", grid.HazardDescriptionMaxLen+1) + `",`), 422, "description", "at most 2000"},
		{"category too long", f.off1, "/api/v1/hazards", report(`"level":"一般","category":"` + strings.Repeat("类", grid.HazardCategoryMaxLen+1) + `","description":"d",`), 422, "category", "at most 100"},
		{"nested key cased", f.planner, "/api/v1/analysis/coverage", `{"add":[{"lon":121.45,"lat":31.2,"Type":"小型"}]}`, 422, "add[0].Type", "case-sensitive"},
		{"version beyond integer", f.off1, transition, `{"to":"registered","version":99999999999}`, 422, "version", "from 1 to 2147483647"},
		{"version beyond 64 bits", f.off1, transition, `{"to":"registered","version":123456789012345678901234567890}`, 422, "version", "integer"},
		{"funds beyond numeric(14,2)", f.sta, transition, `{"to":"assigned","version":1,"funds":1e13}`, 422, "funds", "from 0 to 999999999999"},
		{"note too long", f.off1, transition, `{"to":"registered","version":1,"note":"` + strings.Repeat("n", 2001) + `"}`, 422, "note", "at most 2000"},
		{"hazards_found beyond integer", f.off1, "/api/v1/inspections", `{"enterprise":"x","result":"passed","hazards_found":4294967296}`, 422, "hazards_found", "from 0 to 10000"},
		{"login with a cased key", "", "/api/v1/auth/login", `{"Username":"adm","password":"password-adm"}`, 422, "Username", "case-sensitive"},
		{"login with a NUL", "", "/api/v1/auth/login", `{"username":"adm","password":"pass\u0000word"}`, 422, "password", "NUL"},
		{"login not UTF-8", "", "/api/v1/auth/login", "{\"username\":\"adm\",\"password\":\"\xff\"}", 422, "password", "UTF-8"},
		{"untagged string over the default", f.planner, "/api/v1/analysis/coverage", `{"without":["` + strings.Repeat("s", 65) + `"]}`, 422, "without[0]", "at most 64"},
	} {
		h := []string{"Content-Type", "application/json"}
		if tc.auth != "" {
			h = append(h, "Authorization", tc.auth)
		}
		resp, body := f.ts.do(t, "POST", tc.path, tc.body, h...)
		p := problemOf(t, resp, body, tc.status)
		if len(p.Errors) == 0 || p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Reason, tc.reason) {
			t.Errorf("%s: %+v, want field %q with %q", tc.name, p.Errors, tc.field, tc.reason)
		}
	}
	// A raw bad byte outside any string is malformed JSON: a 400 that says UTF-8.
	resp, body := f.ts.do(t, "POST", "/api/v1/auth/login", "{\"username\":\"adm\",\xff\"password\":\"x\"}")
	if p := problemOf(t, resp, body, 400); !strings.Contains(p.Detail, "UTF-8") {
		t.Errorf("bad byte between fields: %+v", p)
	}
	// Exactly at the limits is accepted.
	resp, body = f.ts.do(t, "POST", "/api/v1/hazards", report(`"level":"一般","category":"`+strings.Repeat("类", grid.HazardCategoryMaxLen)+
		`","description":"`+strings.Repeat("隐", grid.HazardDescriptionMaxLen)+`",`), "Authorization", f.off1)
	if resp.StatusCode != 201 {
		t.Errorf("a report at the limits: %d %s", resp.StatusCode, body)
	}
}

// The limits decodeJSON enforces are the ones the OpenAPI document states, and the
// hazard's limits are the core's (which an import checks too).
func TestLimitsInTheSchema(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := ts.openAPI()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]Schema)
	prop := func(schema, field string) Schema {
		return schemas[schema]["properties"].(map[string]any)[field].(Schema)
	}
	for _, tc := range []struct {
		schema, field, key string
		want               any
	}{
		{"HazardReport", "description", "maxLength", grid.HazardDescriptionMaxLen},
		{"HazardReport", "category", "maxLength", grid.HazardCategoryMaxLen},
		{"TransitionRequest", "measures", "maxLength", grid.HazardMeasuresMaxLen},
		{"TransitionRequest", "note", "maxLength", 2000},
		{"TransitionRequest", "version", "maximum", float64(1<<31 - 1)},
		{"TransitionRequest", "funds", "maximum", float64(999999999999)},
		{"LoginRequest", "username", "pattern", "^[A-Za-z0-9_.-]{2,64}$"},
		{"LoginRequest", "username", "maxLength", 64},
	} {
		if got := prop(tc.schema, tc.field)[tc.key]; got != tc.want {
			t.Errorf("%s.%s %s = %v, want %v", tc.schema, tc.field, tc.key, got, tc.want)
		}
	}
	if items := prop("UnitRequest", "cells")["items"].(Schema); items["maxLength"] != 16 {
		t.Errorf("unit cells items %v", items)
	}
	k, _ := grid.KindByName("hazards")
	for _, name := range []string{"description", "category", "measures"} {
		i := k.FieldIndex(name)
		want := map[string]int{"description": grid.HazardDescriptionMaxLen, "category": grid.HazardCategoryMaxLen, "measures": grid.HazardMeasuresMaxLen}[name]
		if k.Fields[i].MaxLen != want {
			t.Errorf("hazards kind %s MaxLen %d, want %d", name, k.Fields[i].MaxLen, want)
		}
	}
}
