package coverage_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/coverage"
	"safegrid/grid/testdb"
)

// The coverage fixture is laid out in UTM 51N metres from (X0, Y0) ≈ (121.43°E, 31.17°N),
// so that every distance is easy to compute by hand. R = 5/60 × 30,000 ÷ 1.4 = 1,785.714 m.
//
//	district 310101 黄浦区 (central):  x 0…4000, y 0…5000, all of it street 310101002
//	district 310112 闵行区 (suburban): x 4000…7000, y 0…5000, all of it street 310112001
//	S1 一级普通 existing (1000, 2500); S2 小型 existing (6000, 2500); S3 二级普通 planned (3000, 2500)
//
//	e1 重大 (2000, 2500): 1000 m from S1                      covered
//	e2 较大 (1000, 4285): 1785 m from S1 (< R)                 covered
//	e3 低   (3200, 2500): 2200 m from S1, 200 m from S3         covered only with planned
//	e4 低   (6000, 1000): 1500 m from S2                      covered
//	e5 重大 (6000, 4300): 1800 m from S2 (> R)                 not covered
//	e6 一般 (5000, 1000): √(1000²+1500²) = 1802.8 m from S2    not covered
//	u1 underground square x 2780…2880, y 2450…2550 (黄浦): nearest point 1780 m from S1
//	   (its centre is 1830 m away): covered, because any part within R counts
//	u2 underground square x 5950…6050, y 4290…4390 (闵行): nearest point 1790 m from S2: not
//	g1 occupancy site (6000, 3500) (闵行): 1000 m from S2: covered
//
// Existing stations only: enterprises 3 of 6; weighted (4 3 1 1 4 2 = 15) 4+3+1 = 8;
// high-risk (e1 e2 e5) 2 of 3; underground 1 of 2; occupancy sites 1 of 1.
// 黄浦: enterprises 2/3, weighted 7/8, high-risk 2/2, underground 1/1, sites 0/0.
// 闵行: enterprises 1/3, weighted 1/7, high-risk 0/1, underground 0/1, sites 1/1.
// Service areas (cells nearer one station): S1 x < 3500 ≈ 3.5 × 5 = 17.5 km² > cap 7
// (一级普通, central); S2 x > 3500 ≈ 17.5 km² > cap 15 (suburban). With S3 counted, S2 keeps
// x > 4500 ≈ 12.5 km² < 15. Weighted demand served: S1 e1 e2 e3 = 8, S2 e4 e5 e6 = 7.
const (
	fx0 = 350000.0
	fy0 = 3450000.0
)

type utmRow struct {
	x, y float64
	risk string
}

var fixtureEnterprises = []utmRow{
	{2000, 2500, "重大"}, {1000, 4285, "较大"}, {3200, 2500, "低"},
	{6000, 1000, "低"}, {6000, 4300, "重大"}, {5000, 1000, "一般"},
}

var coverageFixture = &testdb.Setup{Name: "coverage-fixture", Load: func(ctx context.Context, st *grid.Store) error {
	env := func(code, name string, x0, x1 float64) string {
		return fmt.Sprintf(`INSERT INTO areas (code, name, geom) VALUES ('%s', '%s',
ST_Multi(ST_Transform(ST_MakeEnvelope(%f, %f, %f, %f, 32651), 4326)))`, code, name, fx0+x0, fy0, fx0+x1, fy0+5000)
	}
	for _, q := range []string{
		env("310101", "黄浦区", 0, 4000), env("310112", "闵行区", 4000, 7000),
		env("310101002", "南京东路街道", 0, 4000), env("310112001", "江川路街道", 4000, 7000),
		`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(ST_Subdivide(geom, 64))).geom FROM areas`,
	} {
		if _, err := testdb.DB(st).Exec(ctx, q); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		code, typ, status, district string
		x, y                        float64
	}{
		{"S1", "一级普通", "existing", "310101", 1000, 2500},
		{"S2", "小型", "existing", "310112", 6000, 2500},
		{"S3", "二级普通", "planned", "310101", 3000, 2500},
	} {
		if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom)
VALUES ($1, $1 || '站', $2, $3, $4, 0, ST_Transform(ST_SetSRID(ST_MakePoint($5::float8, $6::float8), 32651), 4326))`,
			s.code, s.typ, s.status, s.district, fx0+s.x, fy0+s.y); err != nil {
			return err
		}
	}
	if err := insertEnterprises(ctx, st, fixtureEnterprises); err != nil {
		return err
	}
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO underground_spaces (district_code, street_code, code, use, h3, h3_cells, geom) VALUES
('310101', '310101002', 'u1', '地下车库', 0, '{}', ST_Multi(ST_Transform(ST_MakeEnvelope(%[1]f + 2780, %[2]f + 2450, %[1]f + 2880, %[2]f + 2550, 32651), 4326))),
('310112', '310112001', 'u2', '地下车库', 0, '{}', ST_Multi(ST_Transform(ST_MakeEnvelope(%[1]f + 5950, %[2]f + 4290, %[1]f + 6050, %[2]f + 4390, 32651), 4326)))`, fx0, fy0),
		fmt.Sprintf(`INSERT INTO gas_occupancy_sites (district_code, street_code, code, occupant, status, h3, h3_cells, geom) VALUES
('310112', '310112001', 'g1', '违章建筑', '待整治', 0, '{}', ST_Transform(ST_SetSRID(ST_MakePoint(%f + 6000, %f + 3500), 32651), 4326))`, fx0, fy0),
	} {
		if _, err := testdb.DB(st).Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}}

// insertEnterprises writes enterprises at UTM offsets from (fx0, fy0), in the district and
// street their x says, with their real resolution-9 cell.
func insertEnterprises(ctx context.Context, st *grid.Store, rows []utmRow) error {
	db := testdb.DB(st)
	for n, r := range rows {
		d, s := "310101", "310101002"
		if r.x >= 4000 {
			d, s = "310112", "310112001"
		}
		var lon, lat float64
		if err := db.QueryRow(ctx, `SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 32651), 4326) AS g`,
			fx0+r.x, fy0+r.y).Scan(&lon, &lat); err != nil {
			return err
		}
		cell := int64(geo.PointCell(orb.Point{lon, lat}, 9))
		if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO enterprises (district_code, street_code, uscc, name, industry, risk_level, h3, geom)
VALUES ($1, $2, $3, $3, '工贸', $4, $5, ST_Transform(ST_SetSRID(ST_MakePoint($6::float8, $7::float8), 32651), 4326))`,
			d, s, fmt.Sprintf("91310000%010d", n+1), r.risk, cell, fx0+r.x, fy0+r.y); err != nil {
			return err
		}
	}
	return nil
}

func share(t *testing.T, what string, s coverage.Share, total, covered float64) {
	t.Helper()
	if s.Total != total || s.Covered != covered {
		t.Errorf("%s: %v of %v covered, want %v of %v", what, s.Covered, s.Total, covered, total)
	}
	if want := covered / total; total > 0 && math.Abs(s.Share-want) > 1e-12 {
		t.Errorf("%s: share %v, want %v", what, s.Share, want)
	}
}

func TestCoverageFixture(t *testing.T) {
	st := testdb.New(t, coverageFixture)
	ctx := context.Background()
	an := coverage.NewAnalyst(st)
	res, err := an.Coverage(ctx, coverage.CoverageParams{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.RadiusM-1785.714) > 0.001 {
		t.Errorf("radius %v", res.RadiusM)
	}
	o := res.Overall
	share(t, "enterprises", o.Enterprises, 6, 3)
	share(t, "weighted", o.EnterprisesWeighted, 15, 8)
	share(t, "high-risk", o.HighRisk, 3, 2)
	share(t, "underground", o.Underground, 2, 1)
	share(t, "occupancy sites", o.GasSites, 1, 1)
	if len(res.Districts) != 2 || len(res.Streets) != 2 {
		t.Fatalf("districts %d, streets %d", len(res.Districts), len(res.Streets))
	}
	a, b := res.Districts[0], res.Districts[1]
	if a.Code != "310101" || a.Name != "黄浦区" || b.Code != "310112" {
		t.Fatalf("districts %s %s", a.Code, b.Code)
	}
	share(t, "黄浦 enterprises", a.Enterprises, 3, 2)
	share(t, "黄浦 weighted", a.EnterprisesWeighted, 8, 7)
	share(t, "黄浦 high-risk", a.HighRisk, 2, 2)
	share(t, "黄浦 underground", a.Underground, 1, 1)
	share(t, "黄浦 sites", a.GasSites, 0, 0)
	share(t, "闵行 enterprises", b.Enterprises, 3, 1)
	share(t, "闵行 weighted", b.EnterprisesWeighted, 7, 1)
	share(t, "闵行 high-risk", b.HighRisk, 1, 0)
	share(t, "闵行 underground", b.Underground, 1, 0)
	share(t, "闵行 sites", b.GasSites, 1, 1)
	// The streets cover their districts exactly.
	for i := range res.Streets {
		s, d := res.Streets[i], res.Districts[i]
		if s.CoverageCounts != d.CoverageCounts {
			t.Errorf("street %s %+v, district %s %+v", s.Code, s.CoverageCounts, d.Code, d.CoverageCounts)
		}
	}
	checkSums(t, res)
	// Area: the districts are 20 and 15 km²; cells at resolution 9 (about 0.1 km²) fill them
	// to within a few per cent.
	if got := a.AreaKm2.Total; math.Abs(got-20) > 1 {
		t.Errorf("黄浦 area %.2f km², want about 20", got)
	}
	if got := b.AreaKm2.Total; math.Abs(got-15) > 1 {
		t.Errorf("闵行 area %.2f km², want about 15", got)
	}
	// Stations and caps.
	if len(res.Stations) != 2 {
		t.Fatalf("stations %+v", res.Stations)
	}
	s1, s2 := res.Stations[0], res.Stations[1]
	if s1.Code != "S1" || s1.CapKm2 == nil || *s1.CapKm2 != 7 || !s1.OverCap || math.Abs(s1.ServiceAreaKm2-17.5) > 0.8 || s1.WeightedDemand != 8 {
		t.Errorf("S1 %+v (cap %v)", s1, s1.CapKm2)
	}
	if s2.Code != "S2" || s2.CapKm2 == nil || *s2.CapKm2 != 15 || !s2.OverCap || math.Abs(s2.ServiceAreaKm2-17.5) > 0.8 || s2.WeightedDemand != 7 {
		t.Errorf("S2 %+v (cap %v)", s2, s2.CapKm2)
	}
	if d := s1.ServiceAreaKm2 + s2.ServiceAreaKm2 - o.AreaKm2.Total; math.Abs(d) > 1e-9 {
		t.Errorf("service areas do not add up to the land: %v", d)
	}

	// Planned stations count: e3 is covered by S3; S2 keeps x > 4500 (12.5 km² < 15).
	pl, err := an.Coverage(ctx, coverage.CoverageParams{Planned: true})
	if err != nil {
		t.Fatal(err)
	}
	share(t, "planned: enterprises", pl.Overall.Enterprises, 6, 4)
	share(t, "planned: 黄浦 enterprises", pl.Districts[0].Enterprises, 3, 3)
	for _, s := range pl.Stations {
		switch s.Code {
		case "S2":
			if s.OverCap || math.Abs(s.ServiceAreaKm2-12.5) > 0.8 {
				t.Errorf("planned: S2 %+v", s)
			}
		case "S3":
			if *s.CapKm2 != 4 || !s.OverCap {
				t.Errorf("planned: S3 %+v", s)
			}
		}
	}
	checkSums(t, pl)
}

func TestCoverageWhatIf(t *testing.T) {
	st := testdb.New(t, coverageFixture)
	ctx := context.Background()
	an := coverage.NewAnalyst(st)
	// Without S2: e4 and g1 lose their station.
	wo, err := an.Coverage(ctx, coverage.CoverageParams{Without: []string{"S2"}})
	if err != nil {
		t.Fatal(err)
	}
	share(t, "without S2: enterprises", wo.Overall.Enterprises, 6, 2)
	share(t, "without S2: sites", wo.Overall.GasSites, 1, 0)
	if len(wo.Stations) != 1 {
		t.Errorf("without S2: stations %+v", wo.Stations)
	}
	// A 小型 station added at e5 covers it (4 more weight); S2 still covers e4.
	var lon, lat float64
	if err := testdb.DB(st).QueryRow(ctx, `SELECT ST_X(geom), ST_Y(geom) FROM enterprises WHERE risk_level = '重大' AND district_code = '310112'`).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	add, err := an.Coverage(ctx, coverage.CoverageParams{Add: []coverage.StationAddition{{Lon: lon, Lat: lat, Type: "小型"}}})
	if err != nil {
		t.Fatal(err)
	}
	share(t, "add: enterprises", add.Overall.Enterprises, 6, 4)
	share(t, "add: weighted", add.Overall.EnterprisesWeighted, 15, 12)
	share(t, "add: high-risk", add.Overall.HighRisk, 3, 3)
	last := add.Stations[len(add.Stations)-1]
	if last.Code != "ADD-1" || last.Status != "added" || last.DistrictCode != "310112" || *last.CapKm2 != 15 {
		t.Errorf("added station %+v", last)
	}
	if add.Overall.AreaKm2.Covered <= wo.Overall.AreaKm2.Covered {
		t.Error("adding a station did not add covered area")
	}
	// Bad input is an InvalidError naming the field.
	for _, p := range []coverage.CoverageParams{
		{Without: []string{"NOPE"}}, {Minutes: -1}, {Detour: 0.5}, {Resolution: 12},
		{Add: []coverage.StationAddition{{Lon: 10, Lat: 10, Type: "小型"}}},
		{Add: []coverage.StationAddition{{Lon: lon, Lat: lat, Type: "大型"}}},
	} {
		var inv *grid.InvalidError
		if _, err := an.Coverage(ctx, p); !asInvalid(err, &inv) {
			t.Errorf("%+v: %v, want an InvalidError", p, err)
		}
	}
}

func asInvalid(err error, inv **grid.InvalidError) bool {
	e, ok := err.(*grid.InvalidError)
	*inv = e
	return ok
}

// checkSums: the districts add up to the overall figures.
func checkSums(t *testing.T, res *coverage.CoverageResult) {
	t.Helper()
	var sum coverage.CoverageCounts
	add := func(d *coverage.Share, s coverage.Share) { d.Total += s.Total; d.Covered += s.Covered }
	for _, d := range res.Districts {
		add(&sum.Enterprises, d.Enterprises)
		add(&sum.EnterprisesWeighted, d.EnterprisesWeighted)
		add(&sum.HighRisk, d.HighRisk)
		add(&sum.Underground, d.Underground)
		add(&sum.GasSites, d.GasSites)
		add(&sum.AreaKm2, d.AreaKm2)
	}
	o := res.Overall
	for _, c := range []struct {
		name string
		a, b coverage.Share
	}{
		{"enterprises", sum.Enterprises, o.Enterprises}, {"weighted", sum.EnterprisesWeighted, o.EnterprisesWeighted},
		{"high-risk", sum.HighRisk, o.HighRisk}, {"underground", sum.Underground, o.Underground},
		{"sites", sum.GasSites, o.GasSites}, {"area", sum.AreaKm2, o.AreaKm2},
	} {
		if math.Abs(c.a.Total-c.b.Total) > 1e-9 || math.Abs(c.a.Covered-c.b.Covered) > 1e-9 {
			t.Errorf("%s: districts sum to %v/%v, overall %v/%v", c.name, c.a.Covered, c.a.Total, c.b.Covered, c.b.Total)
		}
	}
}

// TestCoverageMatchesSQL: thousands of random enterprises, many of them within a few
// centimetres of a station's reach, counted by Coverage and by the definition in plain
// PostGIS SQL; and the area cells' coverage recomputed in SQL from their centres.
func TestCoverageMatchesSQL(t *testing.T) {
	st := testdb.New(t, coverageFixture)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	r := 5.0 / 60 * 30000 / 1.4
	risks := grid.RiskLevels()
	var rows []utmRow
	for len(rows) < 1500 {
		x, y := 100+rng.Float64()*6800, 100+rng.Float64()*4800
		if rng.IntN(2) == 0 { // on the edge of S1's or S2's reach, to the centimetre
			cx := 1000.0
			if rng.IntN(2) == 0 {
				cx = 6000
			}
			a := rng.Float64() * 2 * math.Pi
			d := r + (rng.Float64()-0.5)*0.04
			x, y = cx+d*math.Cos(a), 2500+d*math.Sin(a)
			if x < 50 || x > 6950 || y < 50 || y > 4950 {
				continue
			}
		}
		rows = append(rows, utmRow{x, y, risks[rng.IntN(len(risks))]})
	}
	// insertEnterprises numbers USCCs from 1; shift past the fixture's six.
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE enterprises SET uscc = '9131000099' || right(uscc, 8)`); err != nil {
		t.Fatal(err)
	}
	if err := insertEnterprises(ctx, st, rows); err != nil {
		t.Fatal(err)
	}
	for _, planned := range []bool{false, true} {
		res, err := coverage.NewAnalyst(st).Coverage(ctx, coverage.CoverageParams{Planned: planned})
		if err != nil {
			t.Fatal(err)
		}
		const plain = `
SELECT e.district_code, count(*)::float8, sum(CASE e.risk_level WHEN '重大' THEN 4 WHEN '较大' THEN 3 WHEN '一般' THEN 2 ELSE 1 END)::float8
FROM enterprises e
WHERE EXISTS (SELECT 1 FROM fire_stations s
              WHERE (s.status = 'existing' OR ($1 AND s.status = 'planned'))
                AND ST_DWithin(e.geom_m, s.geom_m, 5 / 60.0 * 30 * 1000 / 1.4))
GROUP BY 1 ORDER BY 1`
		got := map[string][2]float64{}
		rs, err := testdb.DB(st).Query(ctx, plain, planned)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var d string
			var n, w float64
			if err := rs.Scan(&d, &n, &w); err != nil {
				t.Fatal(err)
			}
			got[d] = [2]float64{n, w}
		}
		if rs.Err() != nil {
			t.Fatal(rs.Err())
		}
		for _, d := range res.Districts {
			if g := got[d.Code]; g[0] != d.Enterprises.Covered || g[1] != d.EnterprisesWeighted.Covered {
				t.Errorf("planned %v, %s: SQL covers %v (weight %v), Coverage %v (weight %v)", planned, d.Code, g[0], g[1], d.Enterprises.Covered, d.EnterprisesWeighted.Covered)
			}
		}
		if res.Overall.Enterprises.Total != float64(len(rows)+6) {
			t.Errorf("total %v", res.Overall.Enterprises.Total)
		}

		// Area: each cell's centre, transformed and tested in SQL.
		cells, err := coverage.NewAnalyst(st).CoverageCells(ctx, coverage.CoverageParams{Planned: planned}, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		var lons, lats []float64
		var area float64
		for _, c := range cells {
			ll := h3.Cell(h3.IndexFromString(c.Cell)).LatLng()
			ids, lons, lats = append(ids, c.Cell), append(lons, ll.Lng), append(lats, ll.Lat)
			if c.Covered {
				area += h3.CellAreaKm2(h3.Cell(h3.IndexFromString(c.Cell)))
			}
		}
		var n int
		if err := testdb.DB(st).QueryRow(ctx, `
SELECT count(*) FROM unnest($1::float8[], $2::float8[]) AS c(x, y)
WHERE EXISTS (SELECT 1 FROM fire_stations s WHERE (s.status = 'existing' OR ($3 AND s.status = 'planned'))
              AND ST_DWithin(ST_Transform(ST_SetSRID(ST_MakePoint(c.x, c.y), 4326), 32651), s.geom_m, 5 / 60.0 * 30 * 1000 / 1.4))`,
			lons, lats, planned).Scan(&n); err != nil {
			t.Fatal(err)
		}
		covered := 0
		for _, c := range cells {
			if c.Covered {
				covered++
			}
		}
		if n != covered || n == 0 {
			t.Errorf("planned %v: SQL covers %d cell centres, CoverageCells %d", planned, n, covered)
		}
		if math.Abs(area-res.Overall.AreaKm2.Covered) > 1e-9 {
			t.Errorf("covered area %v, cells say %v", res.Overall.AreaKm2.Covered, area)
		}
		_ = ids
	}
}

func TestStationCap(t *testing.T) {
	for _, c := range []struct {
		typ, district string
		want          float64
		ok            bool
	}{
		{"特勤", "310101", 7, true}, {"一级普通", "310110", 7, true}, {"二级普通", "310104", 4, true},
		{"小型", "310106", 2, true}, {"一级普通", "310115", 15, true}, {"小型", "310151", 15, true},
		{"战勤保障", "310101", 0, false},
	} {
		got, ok := coverage.StationCap(c.typ, c.district)
		if got != c.want || ok != c.ok {
			t.Errorf("StationCap(%s, %s) = %v %v, want %v %v", c.typ, c.district, got, ok, c.want, c.ok)
		}
	}
}

// The coverage keeps a per-cell summary of the enterprises between analyses; a change to
// the enterprises must show in the next analysis of the same Analyst.
func TestCoverageSeesNewEnterprises(t *testing.T) {
	st := testdb.New(t, coverageFixture)
	ctx := context.Background()
	an := coverage.NewAnalyst(st)
	before, err := an.Coverage(ctx, coverage.CoverageParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE enterprises SET uscc = '9131000099' || right(uscc, 8)`); err != nil {
		t.Fatal(err)
	}
	// one next to S1 (covered), one far from both stations
	if err := insertEnterprises(ctx, st, []utmRow{{1000, 2500, "重大"}, {3500, 200, "低"}}); err != nil {
		t.Fatal(err)
	}
	after, err := an.Coverage(ctx, coverage.CoverageParams{})
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Overall.Enterprises, after.Overall.Enterprises
	if a.Total != b.Total+2 || a.Covered != b.Covered+1 {
		t.Fatalf("enterprises before %+v, after %+v; want 2 more, 1 more covered", b, a)
	}
	if w := after.Overall.EnterprisesWeighted.Total - before.Overall.EnterprisesWeighted.Total; w != 5 {
		t.Fatalf("weighted total grew by %v; want 5", w)
	}
}
