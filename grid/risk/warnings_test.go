package risk

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/testdb"
)

// The places of testdb.RiskDistricts the tests use.
const (
	west     = "310104003"
	east     = "310104004"
	xuhui    = "310104"
	jinshan  = "310116"
	fengxian = "310120"
)

var (
	westPoint     = orb.Point{121.42, 31.12} // 310104003001
	eastPoint     = orb.Point{121.47, 31.15}
	jinshanPoint  = orb.Point{121.25, 30.80}
	fengxianPoint = orb.Point{121.45, 30.90}
)

// warnRules turns every rule on; a burst is 3 hazards in a cell or 5 in a street in 7 days.
func warnRules() Config {
	return Config{Rules: WarningRules{
		ColourRise: Rule{Enabled: true}, TurnedRed: Rule{Enabled: true}, MajorHazardOverdue: Rule{Enabled: true},
		HazardBurst: BurstRule{Enabled: true, CellCount: 3, StreetCount: 5, Days: 7},
	}}
}

type warnFixture struct {
	t    *testing.T
	st   *grid.Store
	svc  *Service
	rows *testdb.RiskRows
	snap []int64
}

func newWarnFixture(t *testing.T) *warnFixture {
	st := testdb.New(t, testdb.RiskDistricts)
	return &warnFixture{t: t, st: st, svc: New(st), rows: testdb.NewRiskRows(t, st)}
}

// raise runs the recompute's hook for snapshot cur (index into f.snap) against the one
// before it, at now, in a transaction of its own, and returns how many were new.
func (f *warnFixture) raise(cur int, cfg Config, now time.Time) int {
	f.t.Helper()
	var prev *Snapshot
	if cur > 0 {
		prev = &Snapshot{ID: f.snap[cur-1]}
	}
	var n int
	err := pgx.BeginFunc(context.Background(), testdb.DB(f.st), func(tx pgx.Tx) error {
		var err error
		n, err = f.svc.raiseWarnings(context.Background(), tx, Snapshot{ID: f.snap[cur]}, prev, cfg, now)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// snapshot adds a snapshot with the areas given as code → colour (scores follow the
// colour) and returns its index.
func (f *warnFixture) snapshot(areas map[string]string, cells map[int64]string) int {
	f.t.Helper()
	id := f.rows.Snapshot("2026-12-01", warnRules())
	score := map[string]float64{"red": 90, "orange": 60, "yellow": 30, "blue": 5}
	for code, colour := range areas {
		f.rows.Area(id, code, colour, score[colour], map[string]float64{"enterprises": score[colour] * 0.7, "hazards": score[colour] * 0.3},
			[]map[string]any{{"kind": "enterprise", "code": "91310104MA1FL00011", "name": "徐汇化工厂", "points": score[colour] * 0.5, "share": 0.5}})
	}
	for h3, colour := range cells {
		f.rows.Cell(id, h3, xuhui, west, colour, score[colour])
	}
	f.snap = append(f.snap, id)
	return len(f.snap) - 1
}

type warnRow struct {
	Rule, Level, Code, Cause, Title, Reason string
	Street                                  *string
	Figures                                 map[string]any
}

func (f *warnFixture) warnings(rule string) []warnRow {
	f.t.Helper()
	rows, err := testdb.DB(f.st).Query(context.Background(), `SELECT rule, area_level, area_code, cause, title, reason, street_code, figures
  FROM risk_warnings WHERE rule = $1 ORDER BY id`, rule)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[warnRow])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// recipients lists the outbox rows of warning rule/code as kind:code, sorted.
func (f *warnFixture) recipients(rule, code string) []string {
	f.t.Helper()
	rows, err := testdb.DB(f.st).Query(context.Background(), `SELECT o.recipient_kind || ':' || o.recipient FROM notify_outbox o
  JOIN risk_warnings w ON o.key = 'risk_warning/' || w.id WHERE w.rule = $1 AND w.area_code = $2 AND o.kind = 'risk_warning'`, rule, code)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

var warnNow = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai

// A street or district that rises a colour is warned once per rise: not again on a re-run
// or while the colour stays, again after a fall and a new rise. Communities do not rise
// (only turn red); the first snapshot is the baseline.
func TestRiskWarningColourRiseOncePerRise(t *testing.T) {
	f := newWarnFixture(t)
	cfg := warnRules()
	cfg.Rules.TurnedRed.Enabled = false
	steps := []struct {
		areas map[string]string
		want  int
	}{
		{map[string]string{west: "yellow", xuhui: "yellow", "310104003001": "yellow"}, 0},
		{map[string]string{west: "orange", xuhui: "orange", "310104003001": "red"}, 2}, // the street and the district rise
		{map[string]string{west: "orange", xuhui: "orange", "310104003001": "red"}, 0}, // stays
		{map[string]string{west: "yellow", xuhui: "orange", "310104003001": "red"}, 0}, // falls
		{map[string]string{west: "orange", xuhui: "red", "310104003001": "red"}, 2},    // rises again; the district to red
	}
	for i, s := range steps {
		cur := f.snapshot(s.areas, nil)
		if n := f.raise(cur, cfg, warnNow); n != s.want {
			t.Errorf("snapshot %d: %d new warnings, want %d", i+1, n, s.want)
		}
		if n := f.raise(cur, cfg, warnNow.Add(time.Hour)); n != 0 {
			t.Errorf("snapshot %d run again: %d new warnings", i+1, n)
		}
	}
	ws := f.warnings(RuleColourRise)
	if len(ws) != 4 {
		t.Fatalf("%d colour_rise warnings: %+v", len(ws), ws)
	}
	w := ws[0]
	if w.Level != "district" && w.Level != "street" {
		t.Fatalf("level %q", w.Level)
	}
	var street warnRow
	for _, w := range ws[:2] {
		if w.Level == "street" {
			street = w
		}
	}
	if street.Code != west || street.Street == nil || *street.Street != west || street.Figures["from_colour"] != "yellow" ||
		street.Figures["to_colour"] != "orange" || street.Figures["from_score"] != 30.0 || street.Figures["to_score"] != 60.0 {
		t.Errorf("street warning %+v", street)
	}
	grew, _ := street.Figures["grew"].([]any)
	if len(grew) != 2 || grew[0].(map[string]any)["part"] != "enterprises" || grew[0].(map[string]any)["delta"] != 21.0 {
		t.Errorf("grew %v", street.Figures["grew"])
	}
	if !strings.Contains(street.Title, "西街道") || !strings.Contains(street.Reason, "黄色") || !strings.Contains(street.Reason, "企业 +21") {
		t.Errorf("title %q reason %q", street.Title, street.Reason)
	}
	if ws[2].Cause == ws[0].Cause && ws[2].Code == ws[0].Code || ws[3].Cause == ws[1].Cause && ws[3].Code == ws[1].Code {
		t.Errorf("the second rise has the first one's cause: %v", ws)
	}
	// The street's warning goes to the street office and the district; the district's to the district.
	got := f.recipients(RuleColourRise, west)
	if strings.Join(got, " ") != "district:310104 district:310104 street:310104003 street:310104003" {
		t.Errorf("street warnings' recipients %v", got)
	}
	if got := f.recipients(RuleColourRise, xuhui); strings.Join(got, " ") != "district:310104 district:310104" {
		t.Errorf("district warnings' recipients %v", got)
	}
	var body string
	if err := testdb.DB(f.st).QueryRow(context.Background(), `SELECT o.body FROM notify_outbox o JOIN risk_warnings w ON o.key = 'risk_warning/' || w.id
 WHERE w.area_code = $1 LIMIT 1`, west).Scan(&body); err != nil || body != ws[0].Reason && body != ws[1].Reason {
		t.Errorf("outbox body %q (%v)", body, err)
	}
}

// An area or a cell that turns red is warned once; staying red raises nothing, turning
// red again after a fall does; a cell absent from the previous snapshot counts as not red.
func TestRiskWarningTurnedRed(t *testing.T) {
	f := newWarnFixture(t)
	cfg := warnRules()
	cfg.Rules.ColourRise.Enabled = false
	cell := int64(geo.PointCell(westPoint, geo.SupervisionRes))
	steps := []struct {
		areas map[string]string
		cells map[int64]string
		want  int
	}{
		{map[string]string{"310104003001": "red", west: "orange"}, nil, 0}, // the baseline: nothing turned
		{map[string]string{"310104003001": "red", west: "red"}, map[int64]string{cell: "red"}, 2},
		{map[string]string{"310104003001": "orange", west: "red"}, map[int64]string{cell: "red"}, 0},
		{map[string]string{"310104003001": "red", west: "red"}, nil, 1},
		{map[string]string{"310104003001": "red", west: "red"}, map[int64]string{cell: "red"}, 1},
	}
	for i, s := range steps {
		cur := f.snapshot(s.areas, s.cells)
		if n := f.raise(cur, cfg, warnNow); n != s.want {
			t.Errorf("snapshot %d: %d new warnings, want %d", i+1, n, s.want)
		}
		if n := f.raise(cur, cfg, warnNow); n != 0 {
			t.Errorf("snapshot %d run again: %d new", i+1, n)
		}
	}
	ws := f.warnings(RuleTurnedRed)
	var levels []string
	for _, w := range ws {
		levels = append(levels, w.Level+":"+w.Code)
	}
	want := []string{"street:" + west, "cell:" + itoa(cell), "community:310104003001", "cell:" + itoa(cell)}
	sort.Strings(levels)
	sort.Strings(want)
	if strings.Join(levels, " ") != strings.Join(want, " ") {
		t.Fatalf("turned_red warnings %v, want %v", levels, want)
	}
	for _, w := range ws {
		if w.Level == "cell" {
			if w.Street == nil || *w.Street != west || w.Figures["from_colour"] != nil || !strings.Contains(w.Reason, "上次快照中没有") ||
				!strings.HasPrefix(w.Title, "西街道 H3 8") {
				t.Errorf("cell warning %+v", w)
			}
		}
		if w.Level == "community" && (w.Figures["from_colour"] != "orange" || !strings.Contains(w.Reason, "徐汇化工厂（占 50%）")) {
			t.Errorf("community warning %+v", w)
		}
	}
	// The list names a cell by its street and H3 index.
	list, _, err := f.svc.Warnings(context.Background(), pWest, Filter{Rule: RuleTurnedRed})
	if err != nil || len(list) != 4 {
		t.Fatalf("the west street's list: %d %v", len(list), err)
	}
	for _, w := range list {
		if w.AreaLevel == LevelCell && w.AreaName != "西街道 H3 "+geo.PointCell(westPoint, geo.SupervisionRes).String() {
			t.Errorf("cell named %q", w.AreaName)
		}
	}
	if got := f.recipients(RuleTurnedRed, itoa(cell)); strings.Join(got, " ") != "district:310104 district:310104 street:310104003 street:310104003" {
		t.Errorf("cell warnings' recipients %v", got)
	}
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

// addEnterprise inserts an enterprise at p (tagged with its areas) and returns its USCC.
func addEnterprise(t *testing.T, st *grid.Store, uscc, name string, major bool, p orb.Point) string {
	t.Helper()
	if _, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, major_hazard, street_code, community_code, h3, geom)
SELECT a.district_code, $1, $2, '危化品生产', '较大', $3, a.street_code, a.community_code, $4, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($5::float8, $6::float8), 4326) AS p) q, LATERAL area_tag(q.p) a`,
		uscc, name, major, int64(geo.PointCell(p, geo.SupervisionRes)), p[0], p[1]); err != nil {
		t.Fatal(err)
	}
	return uscc
}

// tieHazard adds a hazard of level at p tied to the enterprise uscc with a deadline (""
// for none), reported long ago (no burst), and returns its id.
func tieHazard(t *testing.T, st *grid.Store, level, uscc, deadline string, p orb.Point) int64 {
	t.Helper()
	id := testdb.AddHazard(t, st, level, p)
	if _, err := testdb.DB(st).Exec(context.Background(), `UPDATE hazards SET feature_kind = 'enterprises', feature_code = $2,
  deadline = nullif($3, '')::date, reported_at = '2026-10-01' WHERE id = $1`, id, uscc, deadline); err != nil {
		t.Fatal(err)
	}
	return id
}

// A major hazard installation with an overdue 重大 hazard is warned once per hazard, by a
// recompute or by the scheduler's run, whichever sees it first; 一般 hazards, enterprises
// that are no 重大危险源, deadlines not yet passed and closed hazards are not.
func TestRiskWarningMajorHazardOverdue(t *testing.T) {
	f := newWarnFixture(t)
	ctx := context.Background()
	major := addEnterprise(t, f.st, "91310104MA1FL00011", "徐汇化工厂", true, westPoint)
	plain := addEnterprise(t, f.st, "91310104MA1FL00022", "徐汇仓库", false, eastPoint)
	due := tieHazard(t, f.st, "重大", major, "2026-12-03", westPoint) // overdue since today (Dec 4 in Shanghai)
	tieHazard(t, f.st, "重大", major, "2026-12-04", westPoint)        // due today: not overdue
	tieHazard(t, f.st, "一般", major, "2026-11-01", westPoint)
	tieHazard(t, f.st, "重大", plain, "2026-11-01", eastPoint)
	closed := tieHazard(t, f.st, "重大", major, "2026-11-01", westPoint)
	if _, err := testdb.DB(f.st).Exec(ctx, `UPDATE hazards SET status = 'closed', closed_at = now() WHERE id = $1`, closed); err != nil {
		t.Fatal(err)
	}
	// Before any snapshot the scheduler's run has no configuration and raises nothing.
	if n, err := f.svc.RaiseHazardWarnings(ctx, warnNow); err != nil || n != 0 {
		t.Fatalf("before any snapshot: %d, %v", n, err)
	}
	cur := f.snapshot(map[string]string{west: "orange"}, nil)
	if n := f.raise(cur, warnRules(), warnNow); n != 1 {
		t.Fatalf("%d new warnings, want 1", n)
	}
	if n := f.raise(cur, warnRules(), warnNow.Add(time.Hour)); n != 0 {
		t.Errorf("run again: %d new", n)
	}
	if n, err := f.svc.RaiseHazardWarnings(ctx, warnNow.Add(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("the scheduler's run after the recompute: %d, %v", n, err)
	}
	ws := f.warnings(RuleMajorHazardOverdue)
	if len(ws) != 1 {
		t.Fatalf("%+v", ws)
	}
	w := ws[0]
	if w.Level != "community" || w.Code != "310104003001" || w.Street == nil || *w.Street != west || w.Cause != "hazard/"+itoa(due) ||
		w.Figures["days_overdue"] != 1.0 || w.Figures["uscc"] != major || w.Figures["deadline"] != "2026-12-03" ||
		!strings.Contains(w.Title, "徐汇化工厂") || !strings.Contains(w.Reason, "已逾期 1 天") {
		t.Errorf("warning %+v", w)
	}
	if got := f.recipients(RuleMajorHazardOverdue, "310104003001"); strings.Join(got, " ") != "district:310104 street:310104003" {
		t.Errorf("recipients %v", got)
	}
	// A hazard found overdue between recomputes is warned by the scheduler's run, with no snapshot.
	later := tieHazard(t, f.st, "重大", major, "2026-12-04", westPoint)
	if n, err := f.svc.RaiseHazardWarnings(ctx, warnNow.Add(24*time.Hour)); err != nil || n != 2 {
		t.Fatalf("the next day: %d, %v (want the hazard due on the 4th and %d)", n, err, later)
	}
	var withoutSnapshot int
	if err := testdb.DB(f.st).QueryRow(ctx, `SELECT count(*) FROM risk_warnings WHERE snapshot_id IS NULL AND rule = 'major_hazard_overdue'`).Scan(&withoutSnapshot); err != nil || withoutSnapshot != 2 {
		t.Errorf("%d warnings without a snapshot (%v)", withoutSnapshot, err)
	}
	// Turned off, the rule raises nothing.
	off := warnRules()
	off.Rules.MajorHazardOverdue.Enabled = false
	tieHazard(t, f.st, "重大", major, "2026-12-01", westPoint)
	if n := f.raise(cur, off, warnNow.Add(48*time.Hour)); n != 0 {
		t.Errorf("rule off: %d new", n)
	}
}

// reportedAt sets when hazard id was reported.
func reportedAt(t *testing.T, st *grid.Store, id int64, at time.Time) {
	t.Helper()
	if _, err := testdb.DB(st).Exec(context.Background(), `UPDATE hazards SET reported_at = $2 WHERE id = $1`, id, at); err != nil {
		t.Fatal(err)
	}
}

// Three hazards in one cell, or five in one street, within seven days are a burst: warned
// once per area and window, again once the window since the last warning has passed.
func TestRiskWarningHazardBurst(t *testing.T) {
	f := newWarnFixture(t)
	cur := f.snapshot(map[string]string{west: "blue"}, nil)
	cfg := warnRules()
	add := func(p orb.Point, at time.Time) {
		reportedAt(t, f.st, testdb.AddHazard(t, f.st, "一般", p), at)
	}
	// Two in the cell within the window and one reported 8 days ago: not a burst.
	add(westPoint, warnNow.Add(-time.Hour))
	add(westPoint, warnNow.Add(-48*time.Hour))
	add(westPoint, warnNow.Add(-8*24*time.Hour))
	if n := f.raise(cur, cfg, warnNow); n != 0 {
		t.Fatalf("%d warnings for 2 hazards", n)
	}
	add(westPoint, warnNow.Add(-72*time.Hour))
	if n := f.raise(cur, cfg, warnNow); n != 1 {
		t.Fatalf("%d warnings for 3 hazards in a cell, want 1", n)
	}
	// Two more elsewhere in the street: five in the street.
	add(orb.Point{121.43, 31.17}, warnNow.Add(-time.Hour))
	add(orb.Point{121.41, 31.19}, warnNow.Add(-time.Hour))
	if n := f.raise(cur, cfg, warnNow); n != 1 {
		t.Fatalf("%d warnings for 5 in the street, want 1", n)
	}
	// Three days on, more hazards in both: still within the window of the warnings.
	add(westPoint, warnNow.Add(71*time.Hour))
	if n := f.raise(cur, cfg, warnNow.Add(72*time.Hour)); n != 0 {
		t.Errorf("within the window: %d new", n)
	}
	// Eight days on, three new ones in the cell: a new warning for the cell only.
	for _, h := range []time.Duration{190, 191, 192} {
		add(westPoint, warnNow.Add(h*time.Hour))
	}
	// (the street has only those four in its window now: no new street warning).
	if n := f.raise(cur, cfg, warnNow.Add(8*24*time.Hour)); n != 1 {
		t.Errorf("after the window: %d new, want 1 (the cell)", n)
	}
	ws := f.warnings(RuleHazardBurst)
	if len(ws) != 3 {
		t.Fatalf("%d burst warnings: %+v", len(ws), ws)
	}
	cell := itoa(int64(geo.PointCell(westPoint, geo.SupervisionRes)))
	first := ws[0]
	if first.Level != "cell" || first.Code != cell || first.Street == nil || *first.Street != west || first.Figures["count"] != 3.0 ||
		first.Figures["threshold"] != 3.0 || first.Cause != "cell/"+cell+"/2026-12-04" || !strings.HasPrefix(first.Title, "西街道 H3 ") || !strings.Contains(first.Title, "7 天内新增 3 项隐患") {
		t.Errorf("cell burst %+v", first)
	}
	if codes, _ := first.Figures["hazard_codes"].([]any); len(codes) != 3 {
		t.Errorf("hazard codes %v", first.Figures["hazard_codes"])
	}
	if s := ws[1]; s.Level != "street" || s.Code != west || s.Figures["count"] != 5.0 || !strings.Contains(s.Reason, "西街道") {
		t.Errorf("street burst %+v", s)
	}
	if ws[2].Code != cell || ws[2].Cause != "cell/"+cell+"/2026-12-12" || ws[2].Figures["count"] != 4.0 {
		t.Errorf("the second cell burst %+v", ws[2])
	}
	if got := f.recipients(RuleHazardBurst, west); strings.Join(got, " ") != "district:310104 street:310104003" {
		t.Errorf("street bursts' recipients %v", got)
	}
}

// Principals of the tests.
var (
	pAdmin    = &grid.Principal{Username: "admin", Role: grid.RoleAdmin}
	pPlanner  = &grid.Principal{Username: "planner", Role: grid.RolePlanner}
	pOfficer  = &grid.Principal{Username: "off", Role: grid.RoleOfficer, UserID: 9}
	pWest     = &grid.Principal{Username: "street_west", Role: grid.RoleStreet, StreetCode: west}
	pEast     = &grid.Principal{Username: "street_east", Role: grid.RoleStreet, StreetCode: east}
	pXuhui    = &grid.Principal{Username: "district_310104", Role: grid.RoleDistrict, DistrictCode: xuhui}
	pJinshan  = &grid.Principal{Username: "district_310116", Role: grid.RoleDistrict, DistrictCode: jinshan}
	pFengxian = &grid.Principal{Username: "district_310120", Role: grid.RoleDistrict, DistrictCode: fengxian}
)

// insertWarning writes a warning row in SQL and returns its id.
func insertWarning(t *testing.T, st *grid.Store, district, street, level, code, cause string) int64 {
	t.Helper()
	var id int64
	if err := testdb.DB(st).QueryRow(context.Background(), `INSERT INTO risk_warnings (district_code, street_code, area_level, area_code, rule, cause, title, reason, figures)
VALUES ($1, nullif($2, ''), $3, $4, 'turned_red', $5, '转为红色', '测试', '{"score": 90}') RETURNING id`, district, street, level, code, cause).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func ids(ws []Warning) []int64 {
	out := []int64{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Who sees which warnings: a street its own, a district its district's, admins and
// planners all, officers none; a zone member with zone= the zone's, read-only.
func TestRiskWarningsScope(t *testing.T) {
	f := newWarnFixture(t)
	ctx := context.Background()
	wWest := insertWarning(t, f.st, xuhui, west, "street", west, "a")
	wEast := insertWarning(t, f.st, xuhui, east, "community", "310104004001", "b")
	wXuhui := insertWarning(t, f.st, xuhui, "", "district", xuhui, "c")
	wJinshan := insertWarning(t, f.st, jinshan, "310116001", "street", "310116001", "d")
	wFengxian := insertWarning(t, f.st, fengxian, "", "district", fengxian, "e")
	if _, _, err := f.svc.PutZone(ctx, pAdmin, "hangzhou-bay", ZoneInput{Name: "杭州湾", Areas: []string{jinshan, fengxian}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  *grid.Principal
		zone string
		want []int64
	}{
		{pAdmin, "", []int64{wWest, wEast, wXuhui, wJinshan, wFengxian}},
		{pPlanner, "", []int64{wWest, wEast, wXuhui, wJinshan, wFengxian}},
		{pWest, "", []int64{wWest}},
		{pEast, "", []int64{wEast}},
		{pXuhui, "", []int64{wWest, wEast, wXuhui}},
		{pJinshan, "", []int64{wJinshan}},
		{pJinshan, "hangzhou-bay", []int64{wJinshan, wFengxian}},
		{pFengxian, "hangzhou-bay", []int64{wJinshan, wFengxian}},
	} {
		ws, total, err := f.svc.Warnings(ctx, c.who, Filter{Zone: c.zone})
		if err != nil {
			t.Fatalf("%s zone %q: %v", c.who.Username, c.zone, err)
		}
		if got := ids(ws); total != len(c.want) || !equalIDs(got, c.want) {
			t.Errorf("%s zone %q: %v (total %d), want %v", c.who.Username, c.zone, got, total, c.want)
		}
	}
	// Not a member: the zone does not exist for them.
	var nf *grid.NotFoundError
	if _, _, err := f.svc.Warnings(ctx, pXuhui, Filter{Zone: "hangzhou-bay"}); !errors.As(err, &nf) {
		t.Errorf("a non-member's zone list: %v", err)
	}
	if _, _, err := f.svc.Warnings(ctx, pOfficer, Filter{}); !errors.Is(err, grid.ErrForbidden) {
		t.Errorf("officer: %v", err)
	}
	// One warning: out of scope answers like a missing one.
	if _, err := f.svc.Warning(ctx, pWest, wEast); !errors.As(err, &nf) {
		t.Errorf("street A reads street B's: %v", err)
	}
	if _, err := f.svc.Warning(ctx, pXuhui, wJinshan); !errors.As(err, &nf) {
		t.Errorf("徐汇 reads 金山's: %v", err)
	}
	if w, err := f.svc.WarningInZone(ctx, pJinshan, "hangzhou-bay", wFengxian); err != nil || w.AreaName != "奉贤区" {
		t.Errorf("a zone member reads the zone's: %+v %v", w, err)
	}
	// Read-only across the border: 金山 may not acknowledge 奉贤's.
	if _, err := f.svc.Acknowledge(ctx, pJinshan, wFengxian, "已知悉", 1); !errors.As(err, &nf) {
		t.Errorf("金山 acknowledges 奉贤's: %v", err)
	}
	if _, err := f.svc.Acknowledge(ctx, pPlanner, wWest, "已知悉", 1); !errors.Is(err, grid.ErrForbidden) {
		t.Errorf("planner acknowledges: %v", err)
	}
	if _, err := f.svc.Acknowledge(ctx, pEast, wWest, "已知悉", 1); !errors.As(err, &nf) {
		t.Errorf("street B acknowledges street A's: %v", err)
	}
	// Filters.
	if ws, _, err := f.svc.Warnings(ctx, pAdmin, Filter{District: xuhui, Street: east}); err != nil || !equalIDs(ids(ws), []int64{wEast}) {
		t.Errorf("district+street filter: %v %v", ids(ws), err)
	}
	if _, _, err := f.svc.Warnings(ctx, pAdmin, Filter{Status: "open", Rule: "x"}); !IsBadInput(err) ||
		!strings.Contains(err.Error(), "status") || !strings.Contains(err.Error(), "rule") {
		t.Errorf("bad status and rule: %v", err)
	}
	if ws, total, err := f.svc.Warnings(ctx, pAdmin, Filter{Limit: 2, Offset: 1}); err != nil || len(ws) != 2 || total != 5 || ws[0].ID != wJinshan {
		t.Errorf("page: %v total %d %v", ids(ws), total, err)
	}
}

func equalIDs(a, b []int64) bool {
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// new → acknowledged (a note) → closed, or new → closed; a stale version is a conflict;
// each step is audited with the warning's street.
func TestRiskWarningAcknowledgeAndClose(t *testing.T) {
	f := newWarnFixture(t)
	ctx := context.Background()
	id := insertWarning(t, f.st, xuhui, west, "street", west, "a")
	other := insertWarning(t, f.st, xuhui, "", "district", xuhui, "b")
	var inv *grid.InvalidError
	if _, err := f.svc.Acknowledge(ctx, pWest, id, "  ", 1); !errors.As(err, &inv) || inv.Field != "note" {
		t.Errorf("no note: %v", err)
	}
	if _, err := f.svc.Acknowledge(ctx, pWest, id, strings.Repeat("注", MaxWarningNote+1), 1); !errors.As(err, &inv) || inv.Field != "note" {
		t.Errorf("long note: %v", err)
	}
	if _, err := f.svc.Acknowledge(ctx, pWest, id, "已安排排查", 2); !errors.Is(err, grid.ErrConflict) {
		t.Errorf("stale version: %v", err)
	}
	w, err := f.svc.Acknowledge(ctx, pWest, id, " 已安排排查 ", 1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != WarningAcknowledged || w.Version != 2 || w.AckNote == nil || *w.AckNote != "已安排排查" ||
		w.AcknowledgedBy == nil || *w.AcknowledgedBy != "street_west" || w.AcknowledgedAt == nil || w.ClosedAt != nil {
		t.Errorf("acknowledged %+v", w)
	}
	if _, err := f.svc.Acknowledge(ctx, pWest, id, "再次", 2); !errors.As(err, &inv) || inv.Field != "status" {
		t.Errorf("acknowledged twice: %v", err)
	}
	if _, err := f.svc.Close(ctx, pXuhui, id, "", 1); !errors.Is(err, grid.ErrConflict) {
		t.Errorf("close with the old version: %v", err)
	}
	w, err = f.svc.Close(ctx, pXuhui, id, "", 2)
	if err != nil || w.Status != WarningClosed || w.Version != 3 || w.CloseNote != nil || w.ClosedBy == nil || *w.ClosedBy != "district_310104" {
		t.Fatalf("closed %+v %v", w, err)
	}
	if _, err := f.svc.Close(ctx, pXuhui, id, "", 3); !errors.As(err, &inv) || inv.Field != "status" {
		t.Errorf("closed twice: %v", err)
	}
	if w, err := f.svc.Close(ctx, pAdmin, other, "误报", 1); err != nil || w.Status != WarningClosed || w.CloseNote == nil || *w.CloseNote != "误报" {
		t.Errorf("new → closed: %+v %v", w, err)
	}
	// A district's own warning is out of a street office's scope.
	var nf *grid.NotFoundError
	third := insertWarning(t, f.st, xuhui, "", "district", xuhui, "c")
	if _, err := f.svc.Close(ctx, pWest, third, "", 1); !errors.As(err, &nf) {
		t.Errorf("street closes the district's: %v", err)
	}
	type audit struct {
		Actor, Action, Kind, Object string
		Street                      *string
		Details                     map[string]any
	}
	rows, err := testdb.DB(f.st).Query(ctx, `SELECT actor, action, object_kind, object_id, street_code, details FROM audit_log
 WHERE object_kind = 'risk_warning' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	as, err := pgx.CollectRows(rows, pgx.RowToStructByPos[audit])
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].Action != "risk_warning_acknowledge" || as[0].Actor != "street_west" || as[0].Object != itoa(id) ||
		as[0].Street == nil || *as[0].Street != west || as[0].Details["note"] != "已安排排查" || as[0].Details["to"] != "acknowledged" ||
		as[1].Action != "risk_warning_close" || as[1].Details["from"] != "acknowledged" || as[2].Street != nil || as[2].Details["from"] != "new" {
		t.Errorf("audit %+v", as)
	}
}

func int64FromCell(p orb.Point) int64 { return int64(geo.PointCell(p, geo.SupervisionRes)) }
