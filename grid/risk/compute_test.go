package risk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

func riskStore(t *testing.T) (*grid.Store, *risk.Service, *testdb.RiskCity) {
	t.Helper()
	st := testdb.New(t, testdb.TwoStreets)
	rc := testdb.LoadRiskCity(t, st)
	return st, risk.New(st), rc
}

func recompute(t *testing.T, svc *risk.Service, req risk.Request) risk.Snapshot {
	t.Helper()
	if req.Trigger == "" {
		req.Trigger = risk.TriggerManual
	}
	if req.By == "" {
		req.By = "test"
	}
	sn, err := svc.Recompute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// oracleSQL is docs/RISK.md's definition written out on its own, for one snapshot's
// configuration (its JSON, $1) and the cells' centres and hexagons computed here ($2 h3,
// $3 lon, $4 lat, $5 hexagon WKT): every contributor's points with its cell's fire factor,
// as (h3, district, street, community, points, floor rank).
const oracleSQL = `WITH cfg AS (SELECT $1::jsonb AS c),
cell AS (
    SELECT h, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), 32651) AS centre, ST_GeomFromText(w, 4326) AS hex
      FROM unnest($2::bigint[], $3::float8[], $4::float8[], $5::text[]) AS t(h, x, y, w)
),
fire AS (
    SELECT cell.h, 1 + (cfg.c->'fire'->>'factor')::float8 * least(1, greatest(0,
             ((SELECT min(ST_Distance(fs.geom_m, cell.centre)) FROM fire_stations fs WHERE fs.status = 'existing')
               * (cfg.c->'fire'->>'detour')::float8 / ((cfg.c->'fire'->>'speed_kmh')::float8 * 1000 / 60)
               - (cfg.c->'fire'->>'reach_minutes')::float8) / (cfg.c->'fire'->>'reach_minutes')::float8)) AS f
      FROM cell, cfg
),
pts AS (
    SELECT e.h3, e.district_code, e.street_code, e.community_code,
           (cfg.c->'enterprise'->>e.risk_level)::float8
             + CASE WHEN e.major_hazard THEN (cfg.c->>'major_hazard')::float8 ELSE 0 END
             + CASE WHEN e.industry LIKE '危化品%' THEN (cfg.c->>'hazchem')::float8 ELSE 0 END AS p,
           CASE e.risk_level WHEN '重大' THEN 3 WHEN '较大' THEN 2 WHEN '一般' THEN 1 ELSE 0 END AS rank
      FROM enterprises e, cfg
    UNION ALL
    SELECT h.h3, h.district_code, h.street_code, h.community_code,
           (cfg.c->'hazard'->>h.level)::float8 * CASE WHEN h.deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date
                                                     THEN (cfg.c->>'hazard_overdue')::float8 ELSE 1 END, -1
      FROM hazards h, cfg WHERE h.closed_at IS NULL
    UNION ALL
    SELECT cell.h, p.district_code, p.street_code, p.community_code,
           (cfg.c->'pipeline'->>p.pressure)::float8 * ST_Length(ST_Intersection(p.geom_m, ST_Transform(cell.hex, 32651))) / 1000, -1
      FROM pipelines p JOIN cell ON cell.h = ANY (p.h3_cells), cfg
    UNION ALL
    SELECT g.h3, g.district_code, g.street_code, g.community_code, (cfg.c->'gas_site'->>g.status)::float8, -1 FROM gas_occupancy_sites g, cfg
    UNION ALL
    SELECT u.h3, u.district_code, u.street_code, u.community_code, (cfg.c->'underground'->>u.use)::float8, -1 FROM underground_spaces u, cfg
)
SELECT pts.h3, pts.district_code, coalesce(pts.street_code, ''), coalesce(pts.community_code, ''), pts.p * fire.f, pts.rank
  FROM pts JOIN fire ON fire.h = pts.h3`

type oracleRow struct {
	h3      int64
	d, s, c string
	points  float64
	rank    int
}

// oracle computes every contributor's points from the database by oracleSQL.
func oracle(t *testing.T, st *grid.Store, cfgJSON []byte) []oracleRow {
	t.Helper()
	ctx := context.Background()
	var cells []int64
	if err := testdb.DB(st).QueryRow(ctx, `SELECT array_agg(DISTINCT h) FROM (
    SELECT h3 AS h FROM enterprises UNION SELECT h3 FROM hazards UNION SELECT unnest(h3_cells) FROM pipelines
    UNION SELECT h3 FROM gas_occupancy_sites UNION SELECT h3 FROM underground_spaces) q`).Scan(&cells); err != nil {
		t.Fatal(err)
	}
	var xs, ys []float64
	var hexes []string
	for _, h := range cells {
		ll := h3.CellToLatLng(h3.Cell(h))
		xs, ys = append(xs, ll.Lng), append(ys, ll.Lat)
		var b strings.Builder
		bd := h3.CellToBoundary(h3.Cell(h))
		b.WriteString("POLYGON((")
		for i, p := range append(bd, bd[0]) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%s %s", strconv.FormatFloat(p.Lng, 'g', -1, 64), strconv.FormatFloat(p.Lat, 'g', -1, 64))
		}
		b.WriteString("))")
		hexes = append(hexes, b.String())
	}
	rows, err := testdb.DB(st).Query(ctx, oracleSQL, cfgJSON, cells, xs, ys, hexes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []oracleRow
	for rows.Next() {
		var r oracleRow
		if err := rows.Scan(&r.h3, &r.d, &r.s, &r.c, &r.points, &r.rank); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func colourOf(th risk.Thresholds, score float64, rank int) risk.Colour {
	floor := risk.Colour("")
	if rank >= 0 {
		floor = risk.LevelColour(grid.RiskLevels()[3-rank])
	}
	return risk.Higher(th.Colour(score), floor)
}

// TestRiskIndexMatchesDefinition recomputes every cell with points, its neighbours, and
// every street, community and district from oracleSQL and compares scores and colours.
func TestRiskIndexMatchesDefinition(t *testing.T) {
	st, svc, _ := riskStore(t)
	ctx := context.Background()
	sn := recompute(t, svc, risk.Request{})
	var cfgJSON []byte
	if err := testdb.DB(st).QueryRow(ctx, `SELECT config FROM risk_snapshots WHERE id = $1`, sn.ID).Scan(&cfgJSON); err != nil {
		t.Fatal(err)
	}
	cfg := sn.Config
	rows := oracle(t, st, cfgJSON)
	own := map[int64]float64{}
	cellRank := map[int64]int{}
	area := map[string]float64{}
	areaRank := map[string]int{}
	for _, r := range rows {
		own[r.h3] += r.points
		if _, ok := cellRank[r.h3]; !ok {
			cellRank[r.h3] = -1
		}
		cellRank[r.h3] = max(cellRank[r.h3], r.rank)
		for _, code := range []string{r.d, r.s, r.c} {
			if code == "" {
				continue
			}
			area[code] += r.points
			if _, ok := areaRank[code]; !ok {
				areaRank[code] = -1
			}
			areaRank[code] = max(areaRank[code], r.rank)
		}
	}
	// Cells: every cell with points and its k-ring.
	checked := 0
	for h, o := range own {
		if o <= 0 {
			continue
		}
		for _, n := range h3.GridDisk(h3.Cell(h), cfg.Spill.K) {
			score := own[int64(n)]
			for _, m := range h3.GridDisk(n, cfg.Spill.K) {
				if m != n {
					score += cfg.Spill.Share * own[int64(m)]
				}
			}
			var got float64
			var colour string
			if err := testdb.DB(st).QueryRow(ctx, `SELECT score, colour FROM risk_cells WHERE snapshot_id = $1 AND h3 = $2`, sn.ID, int64(n)).
				Scan(&got, &colour); err != nil {
				t.Fatalf("cell %x: %v", int64(n), err)
			}
			rank, ok := cellRank[int64(n)]
			if !ok {
				rank = -1
			}
			if !near(got, score) || colour != string(colourOf(cfg.Thresholds[risk.LevelCell], score, rank)) {
				t.Errorf("cell %x: score %v colour %s, want %v %s", int64(n), got, colour, score, colourOf(cfg.Thresholds[risk.LevelCell], score, rank))
			}
			checked++
		}
	}
	var cells int
	if err := testdb.DB(st).QueryRow(ctx, `SELECT count(*) FROM risk_cells WHERE snapshot_id = $1`, sn.ID).Scan(&cells); err != nil {
		t.Fatal(err)
	}
	if checked < 20 || cells != sn.Cells {
		t.Fatalf("checked %d cells; the snapshot has %d (says %d)", checked, cells, sn.Cells)
	}
	// Areas: every one of the three levels.
	arows, err := testdb.DB(st).Query(ctx, `SELECT code, level, score, colour FROM risk_areas WHERE snapshot_id = $1`, sn.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer arows.Close()
	levels := map[string]int{}
	for arows.Next() {
		var code, level, colour string
		var got float64
		if err := arows.Scan(&code, &level, &got, &colour); err != nil {
			t.Fatal(err)
		}
		rank, ok := areaRank[code]
		if !ok {
			rank = -1
		}
		want := colourOf(cfg.Thresholds[level], area[code], rank)
		if !near(got, area[code]) || colour != string(want) {
			t.Errorf("%s %s: score %v colour %s, want %v %s", level, code, got, colour, area[code], want)
		}
		levels[level]++
	}
	if levels["district"] != 1 || levels["street"] != 2 || levels["community"] != 3 {
		t.Errorf("areas by level %v, want 1 district, 2 streets, 3 communities", levels)
	}
	if area[testdb.WestStreet] <= 0 || area[testdb.EastStreet] <= 0 {
		t.Fatalf("the oracle found no points in the streets: %v", area)
	}
}

// TestRiskFloor: the 重大 enterprise alone in the east street makes its cell, its
// community, its street and the district red, whatever their scores.
func TestRiskFloor(t *testing.T) {
	st, svc, rc := riskStore(t)
	ctx := context.Background()
	sn := recompute(t, svc, risk.Request{})
	var sc, fc, c string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT rc.score_colour, rc.floor_colour, rc.colour FROM risk_cells rc JOIN enterprises e ON e.h3 = rc.h3
WHERE rc.snapshot_id = $1 AND e.id = $2`, sn.ID, rc.Major).Scan(&sc, &fc, &c); err != nil {
		t.Fatal(err)
	}
	if sc == "red" || fc != "red" || c != "red" {
		t.Errorf("the 重大 enterprise's cell: score colour %s floor %s colour %s, want a score below red, floor red, red", sc, fc, c)
	}
	for _, code := range []string{"310104", testdb.EastStreet, "310104004001"} {
		if err := testdb.DB(st).QueryRow(ctx, `SELECT score_colour, floor_colour, colour FROM risk_areas WHERE snapshot_id = $1 AND code = $2`, sn.ID, code).
			Scan(&sc, &fc, &c); err != nil {
			t.Fatal(code, err)
		}
		if sc == "red" || fc != "red" || c != "red" {
			t.Errorf("%s: score colour %s floor %s colour %s, want floor red and red", code, sc, fc, c)
		}
	}
	// The west street has no 重大 enterprise: its floor is orange (较大), not red.
	if err := testdb.DB(st).QueryRow(ctx, `SELECT floor_colour FROM risk_areas WHERE snapshot_id = $1 AND code = $2`, sn.ID, testdb.WestStreet).Scan(&fc); err != nil {
		t.Fatal(err)
	}
	if fc != "orange" {
		t.Errorf("west street floor %s, want orange", fc)
	}
}

// TestRiskContributors: the top contributors of the cluster's cell, with shares summing to
// at most 1, the spill as one contributor, and the counts.
func TestRiskContributors(t *testing.T) {
	st, svc, rc := riskStore(t)
	ctx := context.Background()
	sn := recompute(t, svc, risk.Request{})
	cell := int64(h3.LatLngToCell(h3.LatLng{Lat: rc.Cluster[1], Lng: rc.Cluster[0]}, 9))
	var top []risk.Contributor
	var parts map[string]float64
	var score float64
	if err := testdb.DB(st).QueryRow(ctx, `SELECT top, parts, score FROM risk_cells WHERE snapshot_id = $1 AND h3 = $2`, sn.ID, cell).Scan(&top, &parts, &score); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var share, points float64
	for i, c := range top {
		kinds[c.Kind]++
		share += c.Share
		points += c.Points
		if i > 0 && c.Points > top[i-1].Points {
			t.Errorf("top not in order: %+v", top)
		}
	}
	// The cell holds seven contributors (3 enterprises, 2 hazards, a site, its spill); a
	// cell lists its 5 largest: the smallest enterprise and hazard are left to the parts.
	if len(top) != 5 || kinds[risk.KindEnterprise] != 2 || kinds[risk.KindHazard] != 1 || kinds[risk.KindGasSite] != 1 || kinds[risk.KindSpill] != 1 {
		t.Errorf("kinds %v in %+v", kinds, top)
	}
	if share > 1+1e-9 || !near(parts["enterprises"]+parts["hazards"]+parts["pipelines"]+parts["gas_sites"]+parts["underground"]+parts["spill"], score) {
		t.Errorf("shares %v, parts %v, score %v", share, parts, score)
	}
	if top[0].Kind != risk.KindEnterprise || !strings.Contains(top[0].Detail, "重大危险源") || top[0].Code == "" || top[0].Name == "" {
		t.Errorf("the first contributor %+v, want the major hazard installation", top[0])
	}
	var counts map[string]any
	if err := testdb.DB(st).QueryRow(ctx, `SELECT counts FROM risk_areas WHERE snapshot_id = $1 AND code = $2`, sn.ID, testdb.WestStreet).Scan(&counts); err != nil {
		t.Fatal(err)
	}
	lv := counts["enterprises"].(map[string]any)
	if lv["较大"] != 2.0 || lv["一般"] != 3.0 || lv["低"] != 1.0 || counts["major_hazards"] != 1.0 || counts["hazards_open"] != 2.0 ||
		counts["hazards_overdue"] != 1.0 || counts["gas_sites"] != 1.0 || counts["pipeline_km"].(float64) != 0 {
		t.Errorf("west street counts %v", counts)
	}
	cells := counts["cells"].(map[string]any)
	var n float64
	for _, v := range cells {
		n += v.(float64)
	}
	if n == 0 {
		t.Errorf("no cells by colour: %v", counts)
	}
}

// TestRiskAsOf back-fills a snapshot as of AsOfBefore: the hazard closed since counts, the
// one reported since does not, the deadline passed since is not overdue, and the
// enterprise's level is the one it had then.
func TestRiskAsOf(t *testing.T) {
	st, svc, rc := riskStore(t)
	ctx := context.Background()
	now := recompute(t, svc, risk.Request{})
	then := recompute(t, svc, risk.Request{Trigger: risk.TriggerDemo, AsOf: rc.AsOfBefore})
	if then.TakenOn != rc.AsOfBefore.In(grid.ShanghaiZone()).Format(time.DateOnly) || then.Trigger != risk.TriggerDemo {
		t.Fatalf("taken on %s by %s", then.TakenOn, then.Trigger)
	}
	counts := func(id int64, code string) map[string]any {
		var c map[string]any
		if err := testdb.DB(st).QueryRow(ctx, `SELECT counts FROM risk_areas WHERE snapshot_id = $1 AND code = $2`, id, code).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	w0, w1 := counts(then.ID, testdb.WestStreet), counts(now.ID, testdb.WestStreet)
	// West: open then 3 (the closed one was open), 0 overdue (the 重大 one's deadline was 5
	// days ago, after AsOfBefore); now 2 open, 1 overdue.
	if w0["hazards_open"] != 3.0 || w0["hazards_overdue"] != 0.0 || w1["hazards_open"] != 2.0 || w1["hazards_overdue"] != 1.0 {
		t.Errorf("west then %v, now %v", w0, w1)
	}
	e0, e1 := counts(then.ID, testdb.EastStreet), counts(now.ID, testdb.EastStreet)
	if e0["hazards_open"] != 1.0 || e1["hazards_open"] != 2.0 || e0["hazards_major_open"] != 0.0 {
		t.Errorf("east then %v, now %v", e0, e1)
	}
	l0, l1 := w0["enterprises"].(map[string]any), w1["enterprises"].(map[string]any)
	if l0["较大"] != 1.0 || l0["低"] != 2.0 || l1["较大"] != 2.0 || l1["低"] != 1.0 {
		t.Errorf("west levels then %v, now %v", l0, l1)
	}
	var top []risk.Contributor
	if err := testdb.DB(st).QueryRow(ctx, `SELECT top FROM risk_areas WHERE snapshot_id = $1 AND code = $2`, then.ID, testdb.EastStreet).Scan(&top); err != nil {
		t.Fatal(err)
	}
	for _, c := range top {
		if c.Kind == risk.KindHazard && c.ID == rc.Late {
			t.Errorf("the hazard reported after AsOf is among the contributors: %+v", c)
		}
	}
}

// TestRiskConfigCopy: a snapshot keeps the configuration it was computed with; a later
// change does not touch it.
func TestRiskConfigCopy(t *testing.T) {
	_, svc, _ := riskStore(t)
	ctx := context.Background()
	first := recompute(t, svc, risk.Request{})
	if first.ConfigID != nil || first.Config.Enterprise["重大"] != risk.DefaultConfig().Enterprise["重大"] {
		t.Fatalf("the first snapshot's config %v %+v, want the defaults", first.ConfigID, first.Config.Enterprise)
	}
	cfg := risk.DefaultConfig()
	cfg.Enterprise["重大"] = 99
	cfg.Spill.K = 2
	rec, err := svc.SetConfig(ctx, &grid.Principal{Username: "admin", Role: grid.RoleAdmin}, cfg, "重大 heavier")
	if err != nil {
		t.Fatal(err)
	}
	second := recompute(t, svc, risk.Request{})
	got, err := svc.SnapshotByID(ctx, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfigID == nil || *got.ConfigID != rec.ID || got.Config.Enterprise["重大"] != 99 || got.Config.Spill.K != 2 {
		t.Errorf("second snapshot config %v %+v", got.ConfigID, got.Config)
	}
	old, err := svc.SnapshotByID(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Config.Enterprise["重大"] != risk.DefaultConfig().Enterprise["重大"] || old.Config.Spill.K != 1 {
		t.Errorf("the first snapshot's copy changed: %+v", old.Config)
	}
	if second.Cells <= first.Cells {
		t.Errorf("k=2 computed %d cells, k=1 %d", second.Cells, first.Cells)
	}
	list, err := svc.Snapshots(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || len(list.Snapshots) != 2 || list.Snapshots[0].ID != second.ID {
		t.Errorf("list %+v", list)
	}
	if _, err := svc.SnapshotByID(ctx, second.ID+100); !errors.As(err, new(*grid.NotFoundError)) {
		t.Errorf("a missing snapshot: %v", err)
	}
}

// TestRiskRecomputeFailure: a recompute that fails after writing rows (a trigger refuses
// the areas) or on a cancelled context leaves the previous snapshot the latest, and its run
// keeps the error; one while another holds the lock is busy.
func TestRiskRecomputeFailure(t *testing.T) {
	st, svc, _ := riskStore(t)
	ctx := context.Background()
	db := testdb.DB(st)
	first := recompute(t, svc, risk.Request{})
	for _, q := range []string{
		`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON risk_areas FOR EACH ROW EXECUTE FUNCTION refuse()`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.Recompute(ctx, risk.Request{Trigger: risk.TriggerManual, By: "test"})
	var re *risk.RecomputeError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("recompute: %v, want the injected failure", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_snapshots`); n != 1 {
		t.Errorf("%d snapshots after the failure, want 1", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_cells WHERE snapshot_id <> $1`, first.ID); n != 0 {
		t.Errorf("%d cells of the failed snapshot", n)
	}
	var msg string
	if err := db.QueryRow(ctx, `SELECT error FROM risk_runs WHERE id = $1 AND snapshot_id IS NULL AND finished_at IS NOT NULL`, re.Run).Scan(&msg); err != nil || !strings.Contains(msg, "injected failure") {
		t.Errorf("run %d: %q %v", re.Run, msg, err)
	}
	if _, err := db.Exec(ctx, `DROP TRIGGER refuse ON risk_areas`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.Recompute(cctx, risk.Request{Trigger: risk.TriggerManual, By: "test"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_runs WHERE error LIKE '%context canceled%' AND finished_at IS NOT NULL`); n != 1 {
		t.Errorf("%d runs record the cancelled one", n)
	}
	// Busy: another session holds the lock.
	conn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(0x7269736b)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Recompute(ctx, risk.Request{Trigger: risk.TriggerManual, By: "test"}); !errors.Is(err, grid.ErrBusy) {
		t.Errorf("while locked: %v, want ErrBusy", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(0x7269736b)); err != nil {
		t.Fatal(err)
	}
	latest, err := svc.Snapshots(ctx, 1, 0)
	if err != nil || latest.Snapshots[0].ID != first.ID {
		t.Errorf("latest %+v %v, want the first", latest, err)
	}
	runs, err := svc.Runs(ctx, 10, 0)
	if err != nil || len(runs) != 4 || runs[0].Error == nil || runs[3].SnapshotID == nil || *runs[3].SnapshotID != first.ID {
		t.Errorf("runs %+v %v", runs, err)
	}
	if _, err := svc.Recompute(ctx, risk.Request{Trigger: "cron", By: "test"}); !risk.IsBadInput(err) {
		t.Errorf("an unknown trigger: %v", err)
	}
}

// TestRiskDaily: the scheduled recompute runs once a day from its time on.
func TestRiskDaily(t *testing.T) {
	_, svc, _ := riskStore(t)
	ctx := context.Background()
	at := risk.DailyAt{Hour: 2}
	day := time.Now().In(grid.ShanghaiZone())
	before := time.Date(day.Year(), day.Month(), day.Day(), 1, 59, 0, 0, grid.ShanghaiZone())
	after := before.Add(2 * time.Minute)
	if _, ran, err := svc.RunDaily(ctx, at, before); ran || err != nil {
		t.Errorf("before 02:00: ran %v %v", ran, err)
	}
	sn, ran, err := svc.RunDaily(ctx, at, after)
	if !ran || err != nil || sn.Trigger != risk.TriggerSchedule || sn.TakenOn != day.Format(time.DateOnly) {
		t.Fatalf("after 02:00: %v %v %+v", ran, err, sn)
	}
	if _, ran, err := svc.RunDaily(ctx, at, after.Add(time.Hour)); ran || err != nil {
		t.Errorf("again the same day: ran %v %v", ran, err)
	}
	if _, ran, _ := svc.RunDaily(ctx, risk.DailyAt{Off: true}, after); ran {
		t.Error("off ran")
	}
	for _, tc := range []struct {
		in   string
		want string
	}{{"02:00", "02:00"}, {"off", "off"}, {"23:59", "23:59"}, {"24:00", ""}, {"2:00", ""}, {"", ""}, {"02:60", ""}} {
		got, err := risk.ParseDailyAt(tc.in)
		if (tc.want == "") != (err != nil) || (err == nil && got.String() != tc.want) {
			t.Errorf("%q: %v %v", tc.in, got, err)
		}
	}
}

// A snapshot commits with statistics that know it: the planner estimates its cells at
// about their number, not at the one row it assumes for an unknown snapshot, which made the
// rules' join of two snapshots a nested loop over every pair.
func TestRiskSnapshotStatistics(t *testing.T) {
	st, svc, _ := riskStore(t)
	recompute(t, svc, risk.Request{})
	sn := recompute(t, svc, risk.Request{})
	var plan []map[string]map[string]any
	if err := testdb.DB(st).QueryRow(context.Background(),
		fmt.Sprintf(`EXPLAIN (FORMAT JSON) SELECT * FROM risk_cells WHERE snapshot_id = %d`, sn.ID)).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	rows, _ := plan[0]["Plan"]["Plan Rows"].(float64)
	if rows < float64(sn.Cells)/2 || rows > float64(sn.Cells)*2 {
		t.Fatalf("the planner estimates snapshot %d at %.0f cells; it has %d", sn.ID, rows, sn.Cells)
	}
}

// The open hazards are read on a second connection in the recompute's own snapshot; a pool
// of one connection reads them in the transaction itself, with the same answer (and
// without waiting for a connection that never comes).
func TestRiskRecomputeOnOneConnection(t *testing.T) {
	st, svc, _ := riskStore(t)
	ctx := context.Background()
	two := recompute(t, svc, risk.Request{})
	one, err := grid.Open(ctx, testdb.URL(t, st), grid.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	sn, err := risk.New(one).Recompute(cctx, risk.Request{Trigger: risk.TriggerManual, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var differ int
	if err := testdb.DB(st).QueryRow(ctx, `WITH a AS (SELECT * FROM risk_cells WHERE snapshot_id = $1),
	    b AS (SELECT * FROM risk_cells WHERE snapshot_id = $2)
	SELECT count(*) FROM a FULL JOIN b ON b.h3 = a.h3
	 WHERE a.h3 IS NULL OR b.h3 IS NULL OR a.score <> b.score OR a.colour <> b.colour
	    OR a.top::text <> b.top::text OR a.parts::text <> b.parts::text`, two.ID, sn.ID).Scan(&differ); err != nil {
		t.Fatal(err)
	}
	if differ != 0 || sn.Cells != two.Cells {
		t.Fatalf("one connection: %d cells differ from two connections' (cells %d vs %d)", differ, sn.Cells, two.Cells)
	}
}
