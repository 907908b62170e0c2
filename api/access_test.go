package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/uber/h3-go/v4"

	"safegrid/grid/testdb"
)

// accessRoles are the callers of the access matrix, in column order: nobody signed in,
// the officer of U1 (cells c1, c2), the street office of street A (c1-c3), the office of
// street B (c4), a planner and an admin.
var accessRoles = [6]string{"anonymous", "officer", "street", "other street", "planner", "admin"}

// TestAccessMatrix is issue 3's access matrix: every role against every endpoint family,
// with the exact status of each cell. "Another unit" is U2 (cell c3, street A), whose
// officer is off3: off1 asking for its cell, hazard H5, OGC items and tile is refused
// as if they did not exist (404, 422 for an id in a body, or an empty tile); a 403 is
// only ever for a role, the same for every id.
func TestAccessMatrix(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	if _, err := testdb.DB(f.ts.st).Exec(ctx, `UPDATE grid_units SET officer_id = (SELECT id FROM users WHERE username = 'off3') WHERE code = 'U2'`); err != nil {
		t.Fatal(err)
	}
	// P2 runs inside c3 only.
	p2 := orb.LineString{centre(f.c3, -0.0005, 0), centre(f.c3, 0.0005, 0)}
	if _, err := testdb.DB(f.ts.st).Exec(ctx, `INSERT INTO pipelines (district_code, code, medium, class, pressure, h3, h3_cells, geom)
VALUES ('310101', 'P2', 'gas', 'distribution', '低压', $1, $2, ST_Multi(ST_GeomFromText($3, 4326)))`,
		int64(f.c3), []int64{int64(f.c3)}, wkt.MarshalString(p2)); err != nil {
		t.Fatal(err)
	}
	auth := [6]string{"", f.off1, f.sta, f.stb, f.planner, f.admin}
	var e5 int64
	if err := testdb.DB(f.ts.st).QueryRow(ctx, `SELECT id FROM enterprises WHERE uscc = $1`, f.uscc["E5"]).Scan(&e5); err != nil {
		t.Fatal(err)
	}
	hz := func(name, suffix string) string { return fmt.Sprintf("/api/v1/hazards/%d%s", f.hazardID[name], suffix) }
	ogcHazard := func(name string) string { return fmt.Sprintf("/ogc/collections/hazards/items/%d", f.hazardID[name]) }
	tileOver := func(c h3.Cell) string {
		tl := maptileAt(centre(c, 0, -0.0001), 16)
		return fmt.Sprintf("/tiles/hazards/16/%d/%d.mvt", tl[0], tl[1])
	}
	lon1, lat1 := centre(f.c1, 0.0002, 0)[0], centre(f.c1, 0.0002, 0)[1]
	lon3, lat3 := centre(f.c3, 0.0002, 0)[0], centre(f.c3, 0.0002, 0)[1]
	stale := `{"to":"registered","version":999}`
	const geojsonCT = "application/geo+json"

	type cell = [6]int
	admin := cell{401, 403, 403, 403, 403, 0}
	rows := []struct {
		family, method, path, body, ct string
		want                           cell // per accessRoles
	}{
		{"OpenAPI document (public)", "GET", "/api/openapi.json", "", "", cell{200, 200, 200, 200, 200, 200}},
		{"me", "GET", "/api/v1/me", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"me/cells", "GET", "/api/v1/me/cells", "", "", cell{401, 200, 403, 403, 403, 403}},
		{"cells: own cell", "GET", "/api/v1/cells/" + f.c1.String(), "", "", cell{401, 200, 403, 403, 200, 200}},
		{"cells: another unit's cell", "GET", "/api/v1/cells/" + f.c3.String(), "", "", cell{401, 404, 403, 403, 200, 200}},
		{"inspections due", "GET", "/api/v1/me/inspections/due", "", "", cell{401, 200, 403, 403, 403, 403}},
		// check-in
		{"inspections due, walking order", "GET", fmt.Sprintf("/api/v1/me/inspections/due?lon=%v&lat=%v", lon1, lat1), "", "", cell{401, 200, 403, 403, 403, 403}},
		{"my inspections", "GET", "/api/v1/me/inspections", "", "", cell{401, 200, 403, 403, 403, 403}},

		{"hazard detail: own cell, street A", "GET", hz("H1", ""), "", "", cell{401, 200, 200, 404, 200, 200}},
		{"hazard detail: another unit, street A", "GET", hz("H5", ""), "", "", cell{401, 404, 200, 404, 200, 200}},
		{"hazard detail: street B", "GET", hz("H6", ""), "", "", cell{401, 404, 404, 200, 200, 200}},
		{"hazard detail: no such hazard", "GET", "/api/v1/hazards/999999", "", "", cell{401, 404, 404, 404, 404, 404}},
		// A stale version is the first check after scope: 409 means "let through".
		{"transition: own cell, street A", "POST", hz("H1", "/transition"), stale, "", cell{401, 409, 409, 404, 403, 409}},
		{"transition: another unit, street A", "POST", hz("H5", "/transition"), stale, "", cell{401, 404, 409, 404, 403, 409}},
		{"transition: street B", "POST", hz("H6", "/transition"), stale, "", cell{401, 404, 404, 409, 403, 409}},

		{"street A hazards", "GET", "/api/v1/streets/" + f.streetA + "/hazards", "", "", cell{401, 403, 200, 404, 200, 200}},
		{"street A export", "GET", "/api/v1/streets/" + f.streetA + "/hazards?format=csv", "", "", cell{401, 403, 200, 404, 200, 200}},
		// officer assessment (考核): officers are refused; another street in a filter is a 400 like a missing one.
		{"assessment", "GET", "/api/v1/assessment?month=2026-11", "", "", cell{401, 403, 200, 200, 200, 200}},
		{"assessment: street A", "GET", "/api/v1/assessment?month=2026-11&street=" + f.streetA, "", "", cell{401, 403, 200, 400, 200, 200}},
		{"assessment: no such street", "GET", "/api/v1/assessment?month=2026-11&street=310101009", "", "", cell{401, 403, 400, 400, 400, 400}},
		{"street A summary", "GET", "/api/v1/streets/" + f.streetA + "/summary", "", "", cell{401, 403, 200, 404, 200, 200}},
		{"street B hazards", "GET", "/api/v1/streets/" + f.streetB + "/hazards", "", "", cell{401, 403, 404, 200, 200, 200}},
		{"street B summary", "GET", "/api/v1/streets/" + f.streetB + "/summary", "", "", cell{401, 403, 404, 200, 200, 200}},

		{"grid units: list", "GET", "/api/v1/grid/units", "", "", with(admin, 200)},
		{"my notifications", "GET", "/api/v1/me/notifications", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"mark a notification read: none of yours", "POST", "/api/v1/me/notifications/1/read", "", "", cell{401, 404, 404, 404, 404, 404}},
		{"webhooks: list", "GET", "/api/v1/admin/webhooks", "", "", with(admin, 200)},
		{"webhooks: create (empty body)", "POST", "/api/v1/admin/webhooks", "{}", "", with(admin, 422)},
		{"webhooks: delivery log of none", "GET", "/api/v1/admin/webhooks/1/deliveries", "", "", with(admin, 404)},
		{"grid units: one", "GET", "/api/v1/grid/units/U1", "", "", with(admin, 200)},
		{"grid units: create (empty body)", "POST", "/api/v1/grid/units", "{}", "", with(admin, 422)},
		{"grid units: update (empty body)", "PUT", "/api/v1/grid/units/U1", "{}", "", with(admin, 422)},
		{"grid units: delete (no such unit)", "DELETE", "/api/v1/grid/units/U9", "", "", with(admin, 404)},
		{"grid units: assign (empty body)", "POST", "/api/v1/grid/units/U1/officer", "{}", "", with(admin, 422)},
		{"grid units: unassign (no such unit)", "DELETE", "/api/v1/grid/units/U9/officer", "", "", with(admin, 404)},
		{"grid audit", "GET", "/api/v1/grid/audit", "", "", with(admin, 200)},
		{"audit log", "GET", "/api/v1/admin/audit", "", "", with(admin, 200)},
		{"audit log export", "GET", "/api/v1/admin/audit?format=csv", "", "", with(admin, 200)},
		// A hazard's history answers what is out of scope like what does not exist.
		{"hazard history: own cell, street A", "GET", hz("H1", "/history"), "", "", cell{401, 200, 200, 404, 200, 200}},
		{"hazard history: another unit, street A", "GET", hz("H5", "/history"), "", "", cell{401, 404, 200, 404, 200, 200}},
		{"hazard history: street B", "GET", hz("H6", "/history"), "", "", cell{401, 404, 404, 200, 200, 200}},
		{"hazard history: no such hazard", "GET", "/api/v1/hazards/999999/history", "", "", cell{401, 404, 404, 404, 404, 404}},
		// photos: a hazard's photos as its detail; a photo that is not there; an empty upload.
		{"hazard photos: own cell, street A", "GET", hz("H1", "/photos"), "", "", cell{401, 200, 200, 404, 200, 200}},
		{"hazard photos: another unit, street A", "GET", hz("H5", "/photos"), "", "", cell{401, 404, 200, 404, 200, 200}},
		{"hazard photos: street B", "GET", hz("H6", "/photos"), "", "", cell{401, 404, 404, 200, 200, 200}},
		{"photo: no such photo", "GET", "/api/v1/photos/999999", "", "", cell{401, 404, 404, 404, 404, 404}},
		{"photo thumbnail: no such photo", "GET", "/api/v1/photos/999999/thumb", "", "", cell{401, 404, 404, 404, 404, 404}},
		{"inspection photos: no such inspection", "GET", "/api/v1/inspections/999999/photos", "", "", cell{401, 404, 404, 404, 404, 404}},
		{"upload photo (empty body)", "POST", "/api/v1/photos", "", "image/jpeg", cell{401, 422, 422, 422, 403, 422}},
		{"import (empty file)", "POST", "/api/v1/import/enterprises", "", geojsonCT, with(admin, 400)},

		// risk early warnings and zones: officers are refused; a missing warning or zone is a 404;
		// only admins define zones, only street, district and admin handle warnings.
		{"risk warnings", "GET", "/api/v1/risk/warnings", "", "", cell{401, 403, 200, 200, 200, 200}},
		{"risk warning: none", "GET", "/api/v1/risk/warnings/999999", "", "", cell{401, 403, 404, 404, 404, 404}},
		{"risk warning: acknowledge none", "POST", "/api/v1/risk/warnings/999999/acknowledge", `{"note":"x","version":1}`, "", cell{401, 403, 404, 404, 403, 404}},
		{"risk zones", "GET", "/api/v1/risk/zones", "", "", cell{401, 403, 200, 200, 200, 200}},
		{"risk zone: none", "GET", "/api/v1/risk/zones/nope/major-hazards", "", "", cell{401, 403, 404, 404, 404, 404}},
		{"risk zone: define (bad area)", "PUT", "/api/v1/risk/zones/z", `{"name":"x","areas":["1"]}`, "", with(admin, 400)},

		{"coverage", "POST", "/api/v1/analysis/coverage", "{}", "", cell{401, 403, 403, 403, 200, 200}},
		{"coverage cells", "GET", "/api/v1/analysis/coverage/cells", "", "", cell{401, 403, 403, 403, 200, 200}},
		{"siting (bad k)", "POST", "/api/v1/analysis/siting", `{"k":-1}`, "", cell{401, 403, 403, 403, 422, 422}},
		{"hazard clusters", "GET", "/api/v1/analysis/hazard-clusters", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"hazard clusters of street A", "GET", "/api/v1/analysis/hazard-clusters?street=" + f.streetA, "", "", cell{401, 200, 200, 403, 200, 200}},
		{"hot spots", "GET", "/api/v1/analysis/hotspots", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"hot spots of street B", "GET", "/api/v1/analysis/hotspots?street=" + f.streetB, "", "", cell{401, 200, 403, 200, 200, 200}},

		{"OGC landing", "GET", "/ogc", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"OGC collections", "GET", "/ogc/collections", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"OGC hazards list", "GET", "/ogc/collections/hazards/items", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"OGC hazard: own cell, street A", "GET", ogcHazard("H1"), "", "", cell{401, 200, 200, 404, 200, 200}},
		{"OGC hazard: another unit, street A", "GET", ogcHazard("H5"), "", "", cell{401, 404, 200, 404, 200, 200}},
		{"OGC hazard: street B", "GET", ogcHazard("H6"), "", "", cell{401, 404, 404, 200, 200, 200}},
		{"OGC enterprise: another unit", "GET", fmt.Sprintf("/ogc/collections/enterprises/items/%d", e5), "", "", cell{401, 404, 200, 404, 200, 200}},
		{"TileJSON", "GET", "/tiles/hazards.json", "", "", cell{401, 200, 200, 200, 200, 200}},
		{"grid cells tile over another unit's cell", "GET", strings.Replace(tileOver(f.c3), "/hazards/", "/grid_cells/", 1), "", "", cell{401, 200, 200, 200, 200, 200}},
		{"tile over own cell", "GET", tileOver(f.c1), "", "", cell{401, 200, 200, 200, 200, 200}},
		{"tile over another unit's cell", "GET", tileOver(f.c3), "", "", cell{401, 200, 200, 200, 200, 200}},

		// Writes last: they add rows the lists above count.
		{"record inspection: own cell", "POST", "/api/v1/inspections",
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], lon1, lat1), "", cell{401, 201, 403, 403, 403, 403}},
		{"record inspection: another unit's cell", "POST", "/api/v1/inspections",
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E5"], lon3, lat3), "", cell{401, 403, 403, 403, 403, 403}},
		{"record inspection: own cell, another unit's enterprise", "POST", "/api/v1/inspections",
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E5"], lon1, lat1), "", cell{401, 422, 403, 403, 403, 403}},
		// check-in: the phone's position changes nothing about scope
		{"record inspection with a check-in: own cell", "POST", "/api/v1/inspections",
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":9}}`, f.uscc["E1"], lon1, lat1, lon1, lat1), "", cell{401, 201, 403, 403, 403, 403}},
		{"record inspection with a check-in: another unit's enterprise", "POST", "/api/v1/inspections",
			fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"position":{"lon":%v,"lat":%v,"accuracy_m":9}}`, f.uscc["E5"], lon1, lat1, lon3, lat3), "", cell{401, 422, 403, 403, 403, 403}},
		{"report hazard: own cell", "POST", "/api/v1/hazards",
			fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, lon1, lat1), "", cell{401, 201, 403, 403, 403, 403}},
		{"report hazard: own cell, tied to another unit's enterprise", "POST", "/api/v1/hazards",
			fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v,"feature_kind":"enterprises","feature_code":%q}`, lon1, lat1, f.uscc["E5"]),
			"", cell{401, 422, 403, 403, 403, 403}},
		{"report hazard: own cell, tied to another unit's pipeline", "POST", "/api/v1/hazards",
			fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v,"feature_kind":"pipelines","feature_code":"P2"}`, lon1, lat1),
			"", cell{401, 422, 403, 403, 403, 403}},
		{"report hazard: own cell, tied to own enterprise", "POST", "/api/v1/hazards",
			fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v,"feature_kind":"enterprises","feature_code":%q}`, lon1, lat1, f.uscc["E1"]),
			"", cell{401, 201, 403, 403, 403, 403}},
		{"report hazard: another unit's cell", "POST", "/api/v1/hazards",
			fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, lon3, lat3), "", cell{401, 403, 403, 403, 403, 403}},
	}

	// What each role sees where the answer is a 200 either way: OGC lists and tiles are
	// filtered to the caller's scope.
	seen := map[string][6]int{
		"OGC hazards list":                         {-1, 4, 5, 1, 6, 6}, // off1: H1-H4 (c1, c2); street A: H1-H5; street B: H6
		"tile over own cell":                       {-1, 2, 2, 0, 2, 2}, // H1, H2 in c1
		"tile over another unit's cell":            {-1, 0, 1, 0, 1, 1}, // H5 in c3
		"hot spots":                                {-1, 4, 5, 1, 6, 6}, // the hazards counted over all cells
		"grid cells tile over another unit's cell": {-1, 0, 1, 0, 1, 1}, // c3 (U2, street A)
	}
	for _, r := range rows {
		for i, role := range accessRoles {
			h := []string{}
			if auth[i] != "" {
				h = append(h, "Authorization", auth[i])
			}
			ct := r.ct
			if ct == "" && r.body != "" {
				ct = "application/json"
			}
			if ct != "" {
				h = append(h, "Content-Type", ct)
			}
			resp, body := f.ts.do(t, r.method, r.path, r.body, h...)
			want := r.want[i]
			if resp.StatusCode != want {
				t.Errorf("%s (%s %s) as %s: %d, want %d: %.300s", r.family, r.method, r.path, role, resp.StatusCode, want, body)
				continue
			}
			if want >= 400 {
				problemOf(t, resp, body, want)
			}
			n, ok := seen[r.family]
			if !ok || want != 200 {
				continue
			}
			if got := countFeatures(t, r.path, body); got != n[i] {
				t.Errorf("%s as %s: sees %d, want %d", r.family, role, got, n[i])
			}
		}
	}
}

// with is the admin-only column: 401, 403 for every other role, status for the admin.
func with(c [6]int, status int) [6]int {
	c[5] = status
	return c
}

// countFeatures counts the features of a GeoJSON page or a vector tile, or the hazards
// of a hot-spot collection.
func countFeatures(t *testing.T, path string, body []byte) int {
	t.Helper()
	if len(path) > 4 && path[len(path)-4:] == ".mvt" {
		layers, err := mvt.Unmarshal(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n := 0
		for _, l := range layers {
			n += len(l.Features)
		}
		return n
	}
	var fc struct {
		Features []struct {
			Properties struct {
				Count *int `json:"count"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n := 0
	for _, ft := range fc.Features {
		if ft.Properties.Count != nil { // a hot-spot cell counts its hazards
			n += *ft.Properties.Count
		} else {
			n++
		}
	}
	return n
}
