package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/layers"
)

// badFilterValues are values no field of the type can hold, per type; goodFilterValue
// is one it can (an empty answer, but a 200).
func badFilterValues(f grid.Field) []string {
	var out []string
	below := func(d float64) {
		if f.Min != nil {
			out = append(out, strconv.FormatFloat(*f.Min-d, 'f', -1, 64))
		}
	}
	switch f.Type {
	case grid.Int:
		out = []string{"1.5", "99999999999", "NaN", "x", ""}
		below(1)
	case grid.Float:
		out = []string{"NaN", "Inf", "-Inf", "1e400", "x", ""}
		below(0.5)
	case grid.Bool:
		out = []string{"maybe", ""}
	case grid.Date:
		out = []string{"2026-13-45", "2026-02-30", "2026-1-1", "today"}
	case grid.Enum:
		out = []string{"no-such-value"}
	case grid.Timestamp:
		out = []string{"2026-01-01"}
	case grid.USCC:
		out = []string{"123", "91310100000000001X"}
	case grid.AreaCode:
		out = []string{"31ab01", "3101"}
	}
	return out
}

func goodFilterValue(t *testing.T, f grid.Field) string {
	switch f.Type {
	case grid.Int:
		return "1"
	case grid.Float:
		return "1.5"
	case grid.Bool:
		return "true"
	case grid.Date:
		return "2026-12-31"
	case grid.Enum:
		return f.Values[0]
	case grid.USCC:
		return testUSCC(t, 1)
	case grid.AreaCode:
		return "310101"
	case grid.Text:
		return "x"
	}
	return ""
}

// TestOGCPropertyFiltersValidated: every name=value filter of every collection is
// parsed as its field's type; a value the field cannot hold (13th month, NaN, Inf,
// beyond int4, below the field's minimum, a malformed code) is a 400 naming the
// parameter, never a 200 that matched nothing.
func TestOGCPropertyFiltersValidated(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.addUser(t, "adm", grid.RoleAdmin, "")
	auth := ts.login(t, "adm")
	checked := map[grid.FieldType]int{}
	for _, col := range layers.Collections() {
		for _, f := range col.Kind.Fields {
			items := "/ogc/collections/" + col.ID + "/items?" + url.QueryEscape(f.Name) + "="
			if good := goodFilterValue(t, f); good != "" {
				if resp, body := ts.do(t, "GET", items+url.QueryEscape(good), "", "Authorization", auth); resp.StatusCode != 200 {
					t.Errorf("%s %s=%s: %d %s", col.ID, f.Name, good, resp.StatusCode, body)
				}
			}
			for _, bad := range badFilterValues(f) {
				resp, body := ts.do(t, "GET", items+url.QueryEscape(bad), "", "Authorization", auth)
				if resp.StatusCode != 400 {
					t.Errorf("%s %s=%q: %d, want 400: %.200s", col.ID, f.Name, bad, resp.StatusCode, body)
					continue
				}
				if p := problemOf(t, resp, body, 400); !strings.HasPrefix(p.Detail, f.Name+":") {
					t.Errorf("%s %s=%q: detail %q does not name the parameter", col.ID, f.Name, bad, p.Detail)
				}
				checked[f.Type]++
			}
		}
	}
	for _, ty := range []grid.FieldType{grid.Int, grid.Float, grid.Bool, grid.Date, grid.Enum, grid.USCC} {
		if checked[ty] == 0 {
			t.Errorf("no collection has a field of type %d to check", ty)
		}
	}
}

// TestListParamsValidated: the REST lists' and analyses' parameters refuse what they
// cannot mean (422 naming the parameter, as every REST query parameter): a reversed
// date range, a zero or negative reach that would silently take the default.
func TestListParamsValidated(t *testing.T) {
	f := newGridFixture(t)
	for _, c := range []struct{ path, param string }{
		{"/api/v1/streets/" + f.streetA + "/hazards?from=2026-05-01&to=2026-04-30", "to"},
		{"/api/v1/streets/" + f.streetA + "/hazards?from=2026-13-45", "from"},
		{"/api/v1/streets/" + f.streetA + "/hazards?limit=NaN", "limit"},
		{"/api/v1/streets/" + f.streetA + "/hazards?offset=99999999999999999999", "offset"},
		{"/api/v1/analysis/hazard-clusters?from=2026-05-01&to=2026-04-30", "to"},
		{"/api/v1/analysis/hazard-clusters?eps_m=NaN", "eps_m"},
		{"/api/v1/analysis/hazard-clusters?eps_m=Inf", "eps_m"},
		{"/api/v1/analysis/hotspots?from=2026-05-02&to=2026-05-01", "to"},
		{"/api/v1/analysis/hotspots?k=NaN", "k"},
		{"/api/v1/analysis/coverage/cells?speed_kmh=0", "speed_kmh"},
		{"/api/v1/analysis/coverage/cells?minutes=0", "minutes"},
		{"/api/v1/analysis/coverage/cells?detour=-1", "detour"},
		{"/api/v1/analysis/coverage/cells?minutes=NaN", "minutes"},
		{"/api/v1/analysis/coverage/cells?minutes=1e400", "minutes"},
		{"/api/v1/analysis/coverage/tiles.json?speed_kmh=0", "speed_kmh"},
		{"/api/v1/grid/units?limit=-1", "limit"},
	} {
		resp, body := f.ts.do(t, "GET", c.path, "", "Authorization", f.admin)
		if resp.StatusCode != 422 {
			t.Errorf("%s: %d, want 422: %.200s", c.path, resp.StatusCode, body)
			continue
		}
		p := problemOf(t, resp, body, 422)
		if len(p.Errors) == 0 || p.Errors[0].Field != c.param {
			t.Errorf("%s: %s, want the field %s", c.path, body, c.param)
		}
	}
	// The same range a day wide is fine.
	for _, p := range []string{"/api/v1/streets/" + f.streetA + "/hazards?from=2026-05-01&to=2026-05-01",
		"/api/v1/analysis/hotspots?from=2026-05-01&to=2026-05-01"} {
		if resp, body := f.ts.do(t, "GET", p, "", "Authorization", f.admin); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, fmt.Sprintf("%.200s", body))
		}
	}
}
