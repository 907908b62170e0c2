package api

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid/testdb"
)

var requestIDField = regexp.MustCompile(`"request_id":"[0-9a-f]+"`)

// sameAnswer normalises an answer for comparison: the request id is per request, and the
// key the caller sent (an id, a code) is their own, so it is written as {key}.
func sameAnswer(body []byte, key string) []byte {
	b := requestIDField.ReplaceAll(body, []byte(`"request_id":"{id}"`))
	return bytes.ReplaceAll(b, []byte(key), []byte("{key}"))
}

// TestOutOfScopeIsNotFound: for the officer and the street office, whatever is outside
// their scope answers byte for byte what a thing that does not exist answers (modulo the
// request id and the key asked for): same status, same body, no identifying detail.
func TestOutOfScopeIsNotFound(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	var e5, maxEnt, maxHazard int64
	db := testdb.DB(f.ts.st)
	if err := db.QueryRow(ctx, `SELECT (SELECT id FROM enterprises WHERE uscc = $1), (SELECT max(id) FROM enterprises), (SELECT max(id) FROM hazards)`,
		f.uscc["E5"]).Scan(&e5, &maxEnt, &maxHazard); err != nil {
		t.Fatal(err)
	}
	missingHazard, missingEnt := strconv.FormatInt(maxHazard+1000, 10), strconv.FormatInt(maxEnt+1000, 10)
	missingUSCC := testUSCC(t, 99) // a well-formed USCC no enterprise has
	hid := func(n string) string { return strconv.FormatInt(f.hazardID[n], 10) }
	own := centre(f.c1, 0.0002, 0)
	nowhere := geo.PointCell(orb.Point{121.80, 31.10}, 9).String() // in no grid unit
	inspect := func(ent string) string {
		return fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, ent, own[0], own[1])
	}
	report := func(kind, code string) string {
		return fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v,"feature_kind":%q,"feature_code":%q}`, own[0], own[1], kind, code)
	}
	const step = `{"to":"registered","version":1}`
	type probe struct{ method, path, body, key string }
	get := func(path, key string) probe { return probe{"GET", path, "", key} }
	for _, c := range []struct {
		who, auth        string
		outside, missing probe
	}{
		{"officer: hazard", f.off1, get("/api/v1/hazards/"+hid("H5"), hid("H5")), get("/api/v1/hazards/"+missingHazard, missingHazard)},
		{"officer: transition", f.off1, probe{"POST", "/api/v1/hazards/" + hid("H6") + "/transition", step, hid("H6")},
			probe{"POST", "/api/v1/hazards/" + missingHazard + "/transition", step, missingHazard}},
		{"officer: cell", f.off1, get("/api/v1/cells/"+f.c3.String(), f.c3.String()), get("/api/v1/cells/"+nowhere, nowhere)},
		{"officer: OGC hazard", f.off1, get("/ogc/collections/hazards/items/"+hid("H5"), hid("H5")), get("/ogc/collections/hazards/items/"+missingHazard, missingHazard)},
		{"officer: OGC enterprise", f.off1, get(fmt.Sprintf("/ogc/collections/enterprises/items/%d", e5), strconv.FormatInt(e5, 10)),
			get("/ogc/collections/enterprises/items/"+missingEnt, missingEnt)},
		{"officer: inspection of an enterprise by USCC", f.off1, probe{"POST", "/api/v1/inspections", inspect(f.uscc["E5"]), f.uscc["E5"]},
			probe{"POST", "/api/v1/inspections", inspect(missingUSCC), missingUSCC}},
		{"officer: inspection of an enterprise by id", f.off1, probe{"POST", "/api/v1/inspections", inspect(strconv.FormatInt(e5, 10)), strconv.FormatInt(e5, 10)},
			probe{"POST", "/api/v1/inspections", inspect(missingEnt), missingEnt}},
		{"officer: hazard on an enterprise", f.off1, probe{"POST", "/api/v1/hazards", report("enterprises", f.uscc["E5"]), f.uscc["E5"]},
			probe{"POST", "/api/v1/hazards", report("enterprises", missingUSCC), missingUSCC}},
		{"street: hazard", f.sta, get("/api/v1/hazards/"+hid("H6"), hid("H6")), get("/api/v1/hazards/"+missingHazard, missingHazard)},
		{"street: transition", f.sta, probe{"POST", "/api/v1/hazards/" + hid("H6") + "/transition", step, hid("H6")},
			probe{"POST", "/api/v1/hazards/" + missingHazard + "/transition", step, missingHazard}},
		{"street: OGC hazard", f.sta, get("/ogc/collections/hazards/items/"+hid("H6"), hid("H6")), get("/ogc/collections/hazards/items/"+missingHazard, missingHazard)},
		{"street: another street's hazards", f.sta, get("/api/v1/streets/"+f.streetB+"/hazards", f.streetB), get("/api/v1/streets/310101099/hazards", "310101099")},
		{"street: another street's export", f.sta, get("/api/v1/streets/"+f.streetB+"/hazards?format=csv", f.streetB), get("/api/v1/streets/310101099/hazards?format=csv", "310101099")},
		{"street: another street's summary", f.sta, get("/api/v1/streets/"+f.streetB+"/summary", f.streetB), get("/api/v1/streets/310101099/summary", "310101099")},
	} {
		send := func(p probe) (int, []byte) {
			resp, body := f.ts.do(t, p.method, p.path, p.body, "Authorization", c.auth, "Content-Type", "application/json")
			return resp.StatusCode, body
		}
		st1, out := send(c.outside)
		st2, miss := send(c.missing)
		if st1 != st2 || st1 < 400 || st1 == 403 || !bytes.Equal(sameAnswer(out, c.outside.key), sameAnswer(miss, c.missing.key)) {
			t.Errorf("%s:\n outside %d %s\n missing %d %s", c.who, st1, out, st2, miss)
		}
		if bytes.Contains(out, []byte(f.uscc["E5"])) && c.outside.key != f.uscc["E5"] {
			t.Errorf("%s: the answer names the enterprise's USCC: %s", c.who, out)
		}
	}
}
