package risk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"
	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// riskWorld is the reading fixture (grid/testdb/riskread.go) and a principal per user.
type riskWorld struct {
	*testdb.RiskReadFixture
	svc *risk.Service
	who map[string]*grid.Principal
}

func newRiskWorld(t *testing.T) *riskWorld {
	t.Helper()
	st := testdb.New(t, nil)
	f := testdb.RiskRead(t, st)
	w := &riskWorld{RiskReadFixture: f, svc: risk.New(st), who: map[string]*grid.Principal{}}
	for name, p := range map[string]grid.Principal{
		"sta": {Role: grid.RoleStreet, StreetCode: testdb.RiskS1}, "stb": {Role: grid.RoleStreet, StreetCode: testdb.RiskS2},
		"dist": {Role: grid.RoleDistrict, DistrictCode: testdb.RiskD1}, "distx": {Role: grid.RoleDistrict, DistrictCode: testdb.RiskD2},
		"off1": {Role: grid.RoleOfficer}, "adm": {Role: grid.RoleAdmin}, "plan": {Role: grid.RolePlanner},
	} {
		p.UserID, p.Username = f.Users[name], name
		w.who[name] = &p
	}
	return w
}

func codes(rows []risk.AreaRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Code
	}
	return out
}

func badField(t *testing.T, err error, field string) {
	t.Helper()
	var b *risk.BadInputError
	if !errors.As(err, &b) || len(b.Errors) == 0 || b.Errors[0].Field != field {
		t.Fatalf("want a bad input on %s, got %v", field, err)
	}
}

func notFound(t *testing.T, err error) {
	t.Helper()
	var nf *grid.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("want not found, got %v", err)
	}
}

func TestRiskAreasRankingAndChange(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	list, err := w.svc.Areas(ctx, w.who["plan"], risk.AreaQuery{Level: "street"})
	if err != nil {
		t.Fatal(err)
	}
	if list.Snapshot != (risk.SnapshotRef{ID: w.Snap2, TakenOn: "2026-12-01"}) || list.Previous == nil ||
		*list.Previous != (risk.SnapshotRef{ID: w.Snap1, TakenOn: "2026-11-01"}) || list.Level != "street" {
		t.Fatalf("snapshots %+v %+v", list.Snapshot, list.Previous)
	}
	// 甲 90, then 乙 and 丙 tied at 25 (by code), sharing rank 2.
	if got := codes(list.Areas); !slices.Equal(got, []string{testdb.RiskS1, testdb.RiskS2, testdb.RiskS3}) {
		t.Fatalf("order %v", got)
	}
	a, b, c := list.Areas[0], list.Areas[1], list.Areas[2]
	if a.Rank != 1 || b.Rank != 2 || c.Rank != 2 {
		t.Fatalf("ranks %d %d %d", a.Rank, b.Rank, c.Rank)
	}
	if a.Name != "甲街道" || a.Level != "street" || a.DistrictCode != testdb.RiskD1 || a.StreetCode == nil || *a.StreetCode != testdb.RiskS1 ||
		a.Score != 90 || a.Colour != risk.Orange || a.ScoreColour != risk.Orange || a.FloorColour != nil ||
		a.PreviousScore == nil || *a.PreviousScore != 40 || a.PreviousColour == nil || *a.PreviousColour != risk.Yellow || a.Change != "up" {
		t.Fatalf("甲街道 %+v", a)
	}
	if a.Parts["enterprises"] != 70 || a.Parts["hazards"] != 15 || a.Parts["underground"] != 5 || len(a.Top) != 4 ||
		a.Top[0].Name != "甲化工" || a.Top[0].Points != 60 || a.Top[0].Share != 0.6667 || a.Counts["enterprises"] != float64(2) {
		t.Fatalf("甲街道 parts %v top %+v counts %v", a.Parts, a.Top, a.Counts)
	}
	if b.Change != "same" || *b.PreviousScore != 30 || c.Change != "same" || *c.PreviousColour != risk.Blue {
		t.Fatalf("乙 %+v 丙 %+v", b, c)
	}

	// Districts: 黄浦 red by its floor colour, up from yellow.
	list, err = w.svc.Areas(ctx, w.who["adm"], risk.AreaQuery{Level: "district"})
	if err != nil {
		t.Fatal(err)
	}
	d := list.Areas[0]
	if d.Code != testdb.RiskD1 || d.Colour != risk.Red || d.ScoreColour != risk.Orange || d.FloorColour == nil || *d.FloorColour != risk.Red ||
		d.Change != "up" || d.StreetCode != nil || list.Areas[1].Change != "same" {
		t.Fatalf("districts %+v", list.Areas)
	}

	// Communities: 甲二 is new; by date 2026-11-15 the first snapshot, with no previous.
	list, err = w.svc.Areas(ctx, w.who["adm"], risk.AreaQuery{Level: "community"})
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(list.Areas); !slices.Equal(got, []string{testdb.RiskC1, testdb.RiskC2}) || list.Areas[1].Change != "new" ||
		list.Areas[1].PreviousScore != nil || list.Areas[1].PreviousColour != nil {
		t.Fatalf("communities %+v", list.Areas)
	}
	list, err = w.svc.Areas(ctx, w.who["adm"], risk.AreaQuery{Level: "community", Date: "2026-11-15"})
	if err != nil {
		t.Fatal(err)
	}
	if list.Snapshot.ID != w.Snap1 || list.Previous != nil || !slices.Equal(codes(list.Areas), []string{testdb.RiskC1, testdb.RiskC3}) ||
		list.Areas[0].Change != "new" {
		t.Fatalf("first snapshot %+v", list)
	}
	// By id, and the date of the second snapshot itself.
	for _, q := range []risk.AreaQuery{{SnapshotID: w.Snap1}, {Date: "2026-11-01"}, {Date: "2026-11-30"}} {
		list, err = w.svc.Areas(ctx, w.who["adm"], q)
		if err != nil || list.Snapshot.ID != w.Snap1 || list.Areas[0].Score != 40 {
			t.Fatalf("%+v: %+v %v", q, list, err)
		}
	}
	if list, err = w.svc.Areas(ctx, w.who["adm"], risk.AreaQuery{Date: "2026-12-01"}); err != nil || list.Snapshot.ID != w.Snap2 {
		t.Fatalf("2026-12-01: %v", err)
	}
}

func TestRiskBadInput(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	adm := w.who["adm"]
	tomorrow := time.Now().In(grid.ShanghaiZone()).AddDate(0, 0, 1).Format(time.DateOnly)
	for _, tc := range []struct {
		q     risk.AreaQuery
		field string
	}{
		{risk.AreaQuery{Date: "2026-13-01"}, "date"},
		{risk.AreaQuery{Date: "2026-02-30"}, "date"},
		{risk.AreaQuery{Date: "1.12.2026"}, "date"},
		{risk.AreaQuery{Date: "2026-10-31"}, "date"}, // before the first snapshot
		{risk.AreaQuery{Date: tomorrow}, "date"},
		{risk.AreaQuery{Level: "cell"}, "level"},
		{risk.AreaQuery{Level: "province"}, "level"},
		{risk.AreaQuery{District: "3101"}, "district"},
		{risk.AreaQuery{District: "310199"}, "district"},
		{risk.AreaQuery{Street: "31010100x"}, "street"},
		{risk.AreaQuery{Street: "310104001", District: testdb.RiskD1}, "street"},
		{risk.AreaQuery{Zone: "Bay\x00"}, "zone"},
	} {
		_, err := w.svc.Areas(ctx, adm, tc.q)
		badField(t, err, tc.field)
	}
	_, err := w.svc.Areas(ctx, adm, risk.AreaQuery{SnapshotID: 999999})
	notFound(t, err)
	_, err = w.svc.Compare(ctx, adm, risk.CompareQuery{From: "2026-12-01", To: "2026-11-01"})
	badField(t, err, "from")
	_, err = w.svc.Compare(ctx, adm, risk.CompareQuery{From: "2026-11-01", To: tomorrow})
	badField(t, err, "to")
	_, err = w.svc.Compare(ctx, adm, risk.CompareQuery{From: "2026-10-01", To: "2026-12-01"})
	badField(t, err, "from")
	for _, raw := range []string{"", "xyz", "8a309a6a5ffffff", "8928308280fffff0", "89309a6a5ffffff"} {
		if raw == "89309a6a5ffffff" {
			continue // a valid-looking cell is checked below
		}
		_, err := risk.ParseCell(raw)
		badField(t, err, "h3")
	}
	c, err := risk.ParseCell(w.Cells["A"].String())
	if err != nil || c != int64(w.Cells["A"]) {
		t.Fatalf("hex cell: %v", err)
	}
	if c, err := risk.ParseCell(fmt.Sprint(int64(w.Cells["A"]))); err != nil || c != int64(w.Cells["A"]) {
		t.Fatalf("decimal cell: %v", err)
	}
}

func TestRiskScope(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		who, level string
		want       []string
	}{
		{"plan", "district", []string{testdb.RiskD1, testdb.RiskD2}},
		{"dist", "district", []string{testdb.RiskD1}},
		{"dist", "street", []string{testdb.RiskS1, testdb.RiskS2}},
		{"distx", "street", []string{testdb.RiskS3}},
		{"sta", "district", []string{}}, // a street office sees its street, not its district's row
		{"sta", "street", []string{testdb.RiskS1}},
		{"sta", "community", []string{testdb.RiskC1, testdb.RiskC2}},
		{"stb", "community", []string{}},
	} {
		list, err := w.svc.Areas(ctx, w.who[tc.who], risk.AreaQuery{Level: tc.level})
		if err != nil {
			t.Fatal(err)
		}
		if got := codes(list.Areas); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.who, tc.level, got, tc.want)
		}
	}
	// A filter outside the scope reads exactly like a missing area.
	_, errOut := w.svc.Areas(ctx, w.who["dist"], risk.AreaQuery{District: testdb.RiskD2})
	_, errMissing := w.svc.Areas(ctx, w.who["dist"], risk.AreaQuery{District: "310199"})
	badField(t, errOut, "district")
	if strings.Replace(errOut.Error(), testdb.RiskD2, "X", 1) != strings.Replace(errMissing.Error(), "310199", "X", 1) {
		t.Fatalf("%v vs %v", errOut, errMissing)
	}
	_, err := w.svc.Areas(ctx, w.who["sta"], risk.AreaQuery{Street: testdb.RiskS2})
	badField(t, err, "street")
	if l, err := w.svc.Areas(ctx, w.who["sta"], risk.AreaQuery{District: testdb.RiskD1}); err != nil || !slices.Equal(codes(l.Areas), []string{testdb.RiskS1}) {
		t.Fatalf("street office, own district filter: %v", err)
	}
	// Officers are refused everywhere.
	for _, err := range []error{
		func() error { _, err := w.svc.Areas(ctx, w.who["off1"], risk.AreaQuery{}); return err }(),
		func() error { _, err := w.svc.Area(ctx, w.who["off1"], testdb.RiskS1, risk.AreaQuery{}); return err }(),
		func() error {
			_, err := w.svc.Cell(ctx, w.who["off1"], int64(w.Cells["A"]), risk.AreaQuery{})
			return err
		}(),
		func() error {
			_, err := w.svc.Compare(ctx, w.who["off1"], risk.CompareQuery{From: "2026-11-01", To: "2026-12-01"})
			return err
		}(),
		func() error { _, err := w.svc.TileSource(ctx, w.who["off1"], risk.Pick{}, ""); return err }(),
		func() error { _, err := w.svc.Areas(ctx, nil, risk.AreaQuery{}); return err }(),
	} {
		if !errors.Is(err, grid.ErrForbidden) {
			t.Fatalf("officer: %v", err)
		}
	}
	// One area and one cell out of scope read like missing ones.
	_, err = w.svc.Area(ctx, w.who["sta"], testdb.RiskS2, risk.AreaQuery{})
	notFound(t, err)
	_, err = w.svc.Area(ctx, w.who["sta"], testdb.RiskD1, risk.AreaQuery{})
	notFound(t, err)
	_, err = w.svc.Area(ctx, w.who["dist"], testdb.RiskS3, risk.AreaQuery{})
	notFound(t, err)
	_, err = w.svc.Area(ctx, w.who["adm"], "310101009", risk.AreaQuery{})
	notFound(t, err)
	_, err = w.svc.Cell(ctx, w.who["sta"], int64(w.Cells["C"]), risk.AreaQuery{})
	notFound(t, err)
	_, err = w.svc.Cell(ctx, w.who["distx"], int64(w.Cells["A"]), risk.AreaQuery{})
	notFound(t, err)
	// Compare in scope: a street office compares its street only.
	cmp, err := w.svc.Compare(ctx, w.who["sta"], risk.CompareQuery{From: "2026-11-01", To: "2026-12-01"})
	if err != nil || len(cmp.Changes) != 1 || cmp.Changes[0].Code != testdb.RiskS1 {
		t.Fatalf("street compare %+v %v", cmp, err)
	}
}

func TestRiskZoneReads(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	// Members see the zone's picture across their borders: 乙街道 (黄浦) and 丙街道 (徐汇).
	for _, who := range []string{"stb", "dist", "distx", "plan"} {
		list, err := w.svc.Areas(ctx, w.who[who], risk.AreaQuery{Level: "street", Zone: testdb.RiskZone})
		if err != nil {
			t.Fatal(who, err)
		}
		if got := codes(list.Areas); !slices.Equal(got, []string{testdb.RiskS2, testdb.RiskS3}) {
			t.Fatalf("%s zone streets %v", who, got)
		}
		if list.Areas[0].Rank != 1 || list.Areas[1].Rank != 1 {
			t.Fatalf("ranks within the zone %+v", list.Areas)
		}
	}
	list, err := w.svc.Areas(ctx, w.who["stb"], risk.AreaQuery{Level: "district", Zone: testdb.RiskZone})
	if err != nil || !slices.Equal(codes(list.Areas), []string{testdb.RiskD2}) {
		t.Fatalf("zone districts %v %v", list, err)
	}
	// stb reads 丙街道 and cell D through the zone, not without it.
	if _, err := w.svc.Area(ctx, w.who["stb"], testdb.RiskS3, risk.AreaQuery{Zone: testdb.RiskZone}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Area(ctx, w.who["stb"], testdb.RiskS3, risk.AreaQuery{})
	notFound(t, err)
	if c, err := w.svc.Cell(ctx, w.who["stb"], int64(w.Cells["D"]), risk.AreaQuery{Zone: testdb.RiskZone}); err != nil || c.Score != 3 {
		t.Fatalf("zone cell %v %v", c, err)
	}
	// The zone's picture is not the member's own scope: 甲's cell A is out of it.
	_, err = w.svc.Cell(ctx, w.who["dist"], int64(w.Cells["A"]), risk.AreaQuery{Zone: testdb.RiskZone})
	notFound(t, err)
	// A non-member, and a zone that does not exist, are the same not found.
	_, err1 := w.svc.Areas(ctx, w.who["sta"], risk.AreaQuery{Zone: testdb.RiskZone})
	_, err2 := w.svc.Areas(ctx, w.who["sta"], risk.AreaQuery{Zone: "nowhere"})
	notFound(t, err1)
	notFound(t, err2)
	if strings.Replace(err1.Error(), testdb.RiskZone, "X", 1) != strings.Replace(err2.Error(), "nowhere", "X", 1) {
		t.Fatalf("%v vs %v", err1, err2)
	}
}

func TestRiskAreaAndCell(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	a, err := w.svc.Area(ctx, w.who["sta"], testdb.RiskS1, risk.AreaQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Snapshot.ID != w.Snap2 || a.Previous.ID != w.Snap1 || a.Score != 90 || a.Change != "up" || a.Rank != 1 ||
		a.Cells[risk.Red] != 1 || a.Cells[risk.Orange] != 1 || a.Cells[risk.Yellow] != 0 || a.Cells[risk.Blue] != 0 {
		t.Fatalf("甲街道 %+v", a)
	}
	d, err := w.svc.Area(ctx, w.who["plan"], testdb.RiskD1, risk.AreaQuery{})
	if err != nil || d.Cells[risk.Red] != 1 || d.Cells[risk.Orange] != 1 || d.Cells[risk.Yellow] != 1 || d.Cells[risk.Blue] != 0 || d.Rank != 1 {
		t.Fatalf("黄浦 %+v %v", d, err)
	}
	// The district bureau sees 乙 ranked second of its streets.
	b, err := w.svc.Area(ctx, w.who["dist"], testdb.RiskS2, risk.AreaQuery{})
	if err != nil || b.Rank != 2 || b.Cells[risk.Yellow] != 1 {
		t.Fatalf("乙街道 %+v %v", b, err)
	}
	c1, err := w.svc.Area(ctx, w.who["plan"], testdb.RiskC1, risk.AreaQuery{SnapshotID: w.Snap1})
	if err != nil || c1.Cells[risk.Yellow] != 1 || c1.Previous != nil || c1.Change != "new" {
		t.Fatalf("甲一社区 %+v %v", c1, err)
	}
	cell, err := w.svc.Cell(ctx, w.who["sta"], int64(w.Cells["A"]), risk.AreaQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if cell.H3 != w.Cells["A"].String() || cell.Score != 80 || cell.Own != 70 || cell.Spill != 10 || cell.Colour != risk.Red ||
		cell.FloorColour == nil || *cell.FloorColour != risk.Red || cell.FireMinutes == nil || *cell.FireMinutes != 12.5 ||
		cell.Parts["enterprises"] != 60 || cell.Parts["hazards"] != 10 || len(cell.Parts) != 2 || len(cell.Top) != 1 ||
		*cell.StreetCode != testdb.RiskS1 || *cell.CommunityCode != testdb.RiskC1 {
		t.Fatalf("cell A %+v", cell)
	}
	cell, err = w.svc.Cell(ctx, w.who["sta"], int64(w.Cells["A"]), risk.AreaQuery{Date: "2026-11-20"})
	if err != nil || cell.Score != 30 || cell.Colour != risk.Yellow || cell.FloorColour != nil {
		t.Fatalf("cell A on 11-20 %+v %v", cell, err)
	}
	// B has no row in the first snapshot.
	_, err = w.svc.Cell(ctx, w.who["adm"], int64(w.Cells["B"]), risk.AreaQuery{SnapshotID: w.Snap1})
	notFound(t, err)
}

func TestRiskCompare(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	cmp, err := w.svc.Compare(ctx, w.who["plan"], risk.CompareQuery{From: "2026-11-15", To: "2026-12-03", Level: "street"})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.From.ID != w.Snap1 || cmp.To.ID != w.Snap2 || len(cmp.Changes) != 3 {
		t.Fatalf("compare %+v", cmp)
	}
	a := cmp.Changes[0]
	want := "由黄升为橙：企业风险分 +40.0（新增 甲化工 重大 · 重大危险源）；隐患风险分 +5.0"
	if a.Code != testdb.RiskS1 || a.Name != "甲街道" || a.Change != "up" || *a.FromColour != risk.Yellow || *a.ToColour != risk.Orange ||
		*a.FromScore != 40 || *a.ToScore != 90 || a.Reason != want ||
		a.PartsDelta["enterprises"] != 40 || a.PartsDelta["hazards"] != 5 || a.PartsDelta["underground"] != 5 {
		t.Fatalf("甲街道 %+v\nreason %s", a, a.Reason)
	}
	// Then 丙 (+25, same), then 乙 (−5, same).
	if cmp.Changes[1].Code != testdb.RiskS3 || cmp.Changes[2].Code != testdb.RiskS2 || cmp.Changes[2].Change != "same" ||
		cmp.Changes[2].Reason != "保持黄：企业风险分 -5.0" || cmp.Changes[1].Reason != "保持蓝：企业风险分 +25.0" {
		t.Fatalf("others %+v", cmp.Changes[1:])
	}
	// Communities: 甲二 new, 乙一 removed, 甲一 unchanged; the first is the rise from nothing.
	cmp, err = w.svc.Compare(ctx, w.who["adm"], risk.CompareQuery{From: "2026-11-01", To: "2026-12-01", Level: "community"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]risk.AreaChange{}
	for _, c := range cmp.Changes {
		got[c.Code] = c
	}
	if len(cmp.Changes) != 3 || cmp.Changes[0].Code != testdb.RiskC2 || got[testdb.RiskC2].Change != "new" || got[testdb.RiskC2].FromColour != nil ||
		got[testdb.RiskC2].Reason != "新纳入评估，为蓝" || got[testdb.RiskC3].Change != "removed" || got[testdb.RiskC3].ToScore != nil ||
		got[testdb.RiskC3].Reason != "本期未纳入评估（原为蓝）" || got[testdb.RiskC1].Reason != "保持蓝，各项风险分无明显变化" ||
		got[testdb.RiskC3].Name != "乙一社区" {
		t.Fatalf("communities %+v", cmp.Changes)
	}
	// Districts: 黄浦 rises to red with 甲化工 among its new contributors, 乙厂 gone.
	cmp, err = w.svc.Compare(ctx, w.who["dist"], risk.CompareQuery{From: "2026-11-01", To: "2026-12-01", Level: "district"})
	if err != nil || len(cmp.Changes) != 1 {
		t.Fatalf("district compare %v %v", cmp, err)
	}
	if r := cmp.Changes[0].Reason; r != "由黄升为红：企业风险分 +60.0（新增 甲化工 重大 · 重大危险源）；隐患风险分 +5.0" {
		t.Fatalf("黄浦 reason %s", r)
	}
}

func TestRiskGeoJSONAndXLSX(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	list, err := w.svc.Areas(ctx, w.who["dist"], risk.AreaQuery{Level: "street"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := w.svc.GeoJSON(ctx, &buf, list); err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type     string `json:"type"`
			ID       string `json:"id"`
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates [][][][]float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties risk.AreaRow `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 2 || fc.Features[0].ID != testdb.RiskS1 ||
		fc.Features[0].Geometry.Type != "MultiPolygon" || fc.Features[0].Geometry.Coordinates[0][0][0][0] != 121.4 ||
		fc.Features[0].Properties.Score != 90 || fc.Features[0].Properties.Top[0].Name != "甲化工" || fc.Features[1].ID != testdb.RiskS2 {
		t.Fatalf("geojson %s", buf.Bytes())
	}

	rep, err := w.svc.Report(ctx, w.who["plan"], risk.AreaQuery{})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := risk.WriteXLSX(&buf, rep); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, []string{"区", "街镇"}) {
		t.Fatalf("sheets %v", got)
	}
	rows, err := x.GetRows("街镇")
	if err != nil {
		t.Fatal(err)
	}
	title := fmt.Sprintf("区域风险四色图 2026-12-01（快照 #%d）· 参数 #%d · 对比上期 2026-11-01（快照 #%d）", w.Snap2, w.ConfigID, w.Snap1)
	if rows[0][0] != title || !slices.Equal(rows[1], risk.ReportHeader("street")) || len(rows) != 5 {
		t.Fatalf("街镇 head %q", rows[:2])
	}
	// The sheet holds what the JSON says, row for row.
	streets, _ := w.svc.Areas(ctx, w.who["plan"], risk.AreaQuery{Level: "street"})
	for i, a := range streets.Areas {
		r := rows[i+2]
		if r[0] != fmt.Sprint(a.Rank) || r[1] != a.Code || r[2] != a.Name || r[3] != "黄浦区" && a.DistrictCode == testdb.RiskD1 ||
			r[4] != fmt.Sprint(a.Score) || r[5] != a.Colour.Chinese() || r[7] != risk.ChangeChinese(a.Change) ||
			r[8] != fmt.Sprint(*a.PreviousScore) || r[9] != a.PreviousColour.Chinese() {
			t.Fatalf("row %d %q vs %+v", i, r, a)
		}
	}
	s1 := rows[2]
	if s1[5] != "橙" || s1[6] != "较大风险" || s1[7] != "上升" || s1[9] != "黄" || s1[10] != "甲化工 重大 · 重大危险源" || s1[11] != "66.67%" ||
		s1[12] != "隐患Z1" || s1[14] != "乙厂 较大" || len(s1) != 16 {
		t.Fatalf("甲街道 row %q", s1)
	}
	// The colour cell is filled in the colour.
	style, _ := x.GetCellStyle("街镇", "F3")
	st, err := x.GetStyle(style)
	if err != nil || len(st.Fill.Color) != 1 || st.Fill.Color[0] != "FB8C00" {
		t.Fatalf("fill %+v %v", st, err)
	}
	drows, _ := x.GetRows("区")
	if len(drows) != 4 || drows[2][1] != testdb.RiskD1 || drows[2][4] != "红" || drows[3][6] != "持平" {
		t.Fatalf("区 %q", drows)
	}

	// CSV of the communities: formula-safe.
	list, _ = w.svc.Areas(ctx, w.who["plan"], risk.AreaQuery{Level: "district"})
	list.Areas[0].Top[3].Name = "=HYPERLINK(\"x\")"
	list.Areas[0].Top = []risk.Contributor{list.Areas[0].Top[3]}
	buf.Reset()
	if err := risk.WriteCSV(&buf, list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"'=HYPERLINK(""x"")"`) || !strings.HasPrefix(buf.String(), "\uFEFF排名,代码,名称,风险分") {
		t.Fatalf("csv %s", buf.String())
	}
}

func TestRiskTiles(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	decode := func(b []byte) map[string][]string { return testdb.RiskTileKeys(t, b) }
	tileOf := func(z int, lon, lat float64) (int, int) {
		tl := maptile.At([2]float64{lon, lat}, maptile.Zoom(z))
		return int(tl.X), int(tl.Y)
	}
	src, err := w.svc.TileSource(ctx, w.who["plan"], risk.Pick{}, "")
	if err != nil || src.Snapshot.ID != w.Snap2 {
		t.Fatal(err)
	}
	// Zoom 8: both districts; zoom 10: the streets; zoom 12: communities; 14: cells.
	x, y := tileOf(8, 121.45, 31.2)
	b, err := w.svc.Tile(ctx, src, 8, x, y)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(b)
	if !slices.Equal(got[risk.LayerAreas], []string{testdb.RiskD1, testdb.RiskD2}) || len(got) != 1 {
		t.Fatalf("z8 %v", got)
	}
	layers, _ := mvt.Unmarshal(b)
	f := layers[0].Features[0]
	if f.Properties["name"] != "黄浦区" || f.Properties["score"] != float64(120) || f.Properties["colour"] != "red" ||
		f.Properties["score_colour"] != "orange" || f.Properties["floor_colour"] != "red" || f.Properties["level"] != "district" {
		t.Fatalf("z8 feature %v", f.Properties)
	}
	again, _ := w.svc.Tile(ctx, src, 8, x, y)
	if !bytes.Equal(b, again) {
		t.Fatal("tile bytes differ between two reads")
	}
	x, y = tileOf(10, 121.45, 31.2)
	b, _ = w.svc.Tile(ctx, src, 10, x, y)
	if got := decode(b); !slices.Equal(got[risk.LayerAreas], []string{testdb.RiskS1, testdb.RiskS2, testdb.RiskS3}) || len(got) != 1 {
		t.Fatalf("z10 %v", got)
	}
	x, y = tileOf(12, 121.42, 31.20)
	b, _ = w.svc.Tile(ctx, src, 12, x, y)
	got = decode(b)
	if !slices.Contains(got[risk.LayerAreas], testdb.RiskC1) || slices.ContainsFunc(got[risk.LayerAreas], func(c string) bool { return len(c) != 12 }) ||
		len(got) != 1 {
		t.Fatalf("z12 %v", got)
	}
	x, y = tileOf(14, 121.42, 31.20)
	b, _ = w.svc.Tile(ctx, src, 14, x, y)
	got = decode(b)
	if !slices.Equal(got[risk.LayerCells], []string{w.Cells["A"].String()}) || len(got) != 1 {
		t.Fatalf("z14 %v", got)
	}
	// The first snapshot's tile shows A yellow.
	src1, _ := w.svc.TileSource(ctx, w.who["plan"], risk.Pick{SnapshotID: w.Snap1}, "")
	b, _ = w.svc.Tile(ctx, src1, 14, x, y)
	layers, _ = mvt.Unmarshal(b)
	if len(layers) != 1 || layers[0].Features[0].Properties["colour"] != "yellow" || layers[0].Features[0].Properties["score"] != float64(30) {
		t.Fatalf("snapshot 1 z14 %v", layers)
	}
	if src.Key == src1.Key {
		t.Fatal("two snapshots share a tile key")
	}

	// Scope: the street office 甲 sees only its street and its cells.
	sta, _ := w.svc.TileSource(ctx, w.who["sta"], risk.Pick{}, "")
	x, y = tileOf(8, 121.45, 31.2)
	b, _ = w.svc.Tile(ctx, sta, 8, x, y)
	if len(b) != 0 {
		t.Fatalf("street office sees districts: %v", decode(b))
	}
	x, y = tileOf(10, 121.45, 31.2)
	b, _ = w.svc.Tile(ctx, sta, 10, x, y)
	if got := decode(b); !slices.Equal(got[risk.LayerAreas], []string{testdb.RiskS1}) {
		t.Fatalf("street office z10 %v", got)
	}
	for _, name := range []string{"A", "B", "C", "D"} {
		ll := h3.CellToLatLng(w.Cells[name])
		x, y = tileOf(14, ll.Lng, ll.Lat)
		b, _ = w.svc.Tile(ctx, sta, 14, x, y)
		in := slices.Contains(decode(b)[risk.LayerCells], w.Cells[name].String())
		if in != (name == "A" || name == "B") {
			t.Fatalf("street office, cell %s in tile: %v", name, in)
		}
	}
	// The zone: stb sees 乙 and 丙, and cells C and D, not 甲's.
	zone, err := w.svc.TileSource(ctx, w.who["stb"], risk.Pick{}, testdb.RiskZone)
	if err != nil || zone.Key == src.Key {
		t.Fatal(err)
	}
	x, y = tileOf(10, 121.45, 31.2)
	b, _ = w.svc.Tile(ctx, zone, 10, x, y)
	if got := decode(b); !slices.Equal(got[risk.LayerAreas], []string{testdb.RiskS2, testdb.RiskS3}) {
		t.Fatalf("zone z10 %v", got)
	}
	for _, name := range []string{"A", "B", "C", "D"} {
		ll := h3.CellToLatLng(w.Cells[name])
		x, y = tileOf(15, ll.Lng, ll.Lat)
		b, _ = w.svc.Tile(ctx, zone, 15, x, y)
		in := slices.Contains(decode(b)[risk.LayerCells], w.Cells[name].String())
		if in != (name == "C" || name == "D") {
			t.Fatalf("zone cell %s in tile: %v", name, in)
		}
	}
	if _, err := w.svc.TileSource(ctx, w.who["sta"], risk.Pick{}, testdb.RiskZone); err == nil {
		t.Fatal("a non-member reads the zone's tiles")
	}
	_, err = w.svc.Tile(ctx, src, 3, 8, 0)
	badField(t, err, "z/x/y")
}

// TestRiskPolygonZone: a zone an admin loaded as a polygon shows what meets the polygon.
func TestRiskPolygonZone(t *testing.T) {
	w := newRiskWorld(t)
	ctx := context.Background()
	db := testdb.DB(w.Store)
	if _, err := db.Exec(ctx, `INSERT INTO risk_zones (code, name, geom, created_by)
		VALUES ('poly', '甲一片区', ST_Multi(ST_MakeEnvelope(121.41, 31.19, 121.43, 31.21, 4326)), 'adm')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO risk_zone_areas (zone_code, area_code) VALUES ('poly', $1)`, testdb.RiskS1); err != nil {
		t.Fatal(err)
	}
	for level, want := range map[string][]string{"district": {testdb.RiskD1}, "street": {testdb.RiskS1}, "community": {testdb.RiskC1}} {
		list, err := w.svc.Areas(ctx, w.who["sta"], risk.AreaQuery{Level: level, Zone: "poly"})
		if err != nil || !slices.Equal(codes(list.Areas), want) {
			t.Fatalf("%s: %v %v", level, list, err)
		}
	}
	if _, err := w.svc.Cell(ctx, w.who["sta"], int64(w.Cells["A"]), risk.AreaQuery{Zone: "poly"}); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Cell(ctx, w.who["sta"], int64(w.Cells["B"]), risk.AreaQuery{Zone: "poly"})
	notFound(t, err)
	// 乙's office is no member: its street is not among the zone's areas.
	_, err = w.svc.Areas(ctx, w.who["stb"], risk.AreaQuery{Zone: "poly"})
	notFound(t, err)
}
