package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"

	"safegrid/geo"
	"safegrid/grid"
)

// RiskCity is what the risk index is computed from, in TwoStreets's district (徐汇, call
// New(t, TwoStreets) first): one existing fire station in the south-west corner (and a
// planned one that does not count), enterprises of every level (a 重大 one alone in the
// east street, a 危化品 major hazard installation and a cluster in the west), open, overdue,
// closed and future hazards, a 高压 pipeline crossing both streets, gas occupancy sites and
// an underground space.
type RiskCity struct {
	// Major is the 重大 enterprise of the east street (the floor rule's case).
	Major int64
	// Cluster is the west street's cluster's point (WestSouth's community).
	Cluster orb.Point
	// Late is a hazard reported at LateAt (after AsOfBefore); Closed one closed at ClosedAt.
	Late, Closed int64
	// AsOfBefore is a time between the fixture's history and now.
	AsOfBefore time.Time
}

// LoadRiskCity writes RiskCity's rows (tagged with area_tag, cells as the importer sets
// them).
func LoadRiskCity(t testing.TB, st *grid.Store) *RiskCity {
	t.Helper()
	ctx := context.Background()
	db := DB(st)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	id := func(sql string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	cell := func(p orb.Point) int64 { return int64(geo.PointCell(p, geo.SupervisionRes)) }
	rc := &RiskCity{Cluster: orb.Point{121.425, 31.125}, AsOfBefore: time.Now().Add(-10 * 24 * time.Hour)}
	exec(`INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom) VALUES
 ('FS1', '徐汇一站', '一级普通', 'existing', '310104', $1, ST_SetSRID(ST_MakePoint(121.405, 31.105), 4326)),
 ('FS2', '规划站', '小型', 'planned', '310104', $2, ST_SetSRID(ST_MakePoint(121.48, 31.18), 4326))`,
		cell(orb.Point{121.405, 31.105}), cell(orb.Point{121.48, 31.18}))
	uscc := 0
	ent := func(p orb.Point, level, industry string, major bool) int64 {
		t.Helper()
		uscc++
		code := "91310104MA1" + string(rune('A'+uscc/10)) + string(rune('0'+uscc%10)) + "00000"
		return id(`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, major_hazard, street_code, community_code, h3, geom)
SELECT a.district_code, $1, $2, $3, $4, $5, a.street_code, a.community_code, $6, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($7::float8, $8::float8), 4326) AS p) q, LATERAL area_tag(q.p) a RETURNING id`,
			code[:18], "企业"+code[14:16], industry, level, major, cell(p), p[0], p[1])
	}
	c := rc.Cluster
	ent(c, "较大", "危化品生产", true)
	ent(orb.Point{c[0] + 0.0003, c[1]}, "一般", "工贸", false)
	ent(orb.Point{c[0], c[1] + 0.0003}, "一般", "危化品储存", false)
	ent(orb.Point{c[0] + 0.002, c[1]}, "较大", "危化品使用", false) // the next cell east
	ent(orb.Point{121.43, 31.17}, "低", "其他", false)          // west north
	ent(orb.Point{121.44, 31.19}, "一般", "建筑施工", false)       // far from the station
	rc.Major = ent(orb.Point{121.48, 31.16}, "重大", "交通运输", false)
	// The enterprise at the cluster's point was 低 before AsOfBefore, 较大 since.
	exec(`INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor, at)
SELECT district_code, uscc, NULL, '低', 'test', now() - interval '30 days' FROM enterprises WHERE h3 = $1 AND risk_level = '较大'`, cell(c))
	exec(`INSERT INTO enterprise_risk_levels (district_code, uscc, from_level, risk_level, actor, at)
SELECT district_code, uscc, '低', '较大', 'test', now() - interval '1 day' FROM enterprises WHERE h3 = $1 AND risk_level = '较大'`, cell(c))
	haz := func(p orb.Point, level string, deadline any, reported, closed any) int64 {
		t.Helper()
		status := "registered"
		if closed != nil {
			status = "closed"
		}
		return id(`INSERT INTO hazards (district_code, level, category, description, status, deadline, reported_at, closed_at, street_code, community_code, h3, geom)
SELECT a.district_code, $1, '消防', '疏散通道堵塞', $2, $3, $4, $5, a.street_code, a.community_code, $6, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($7::float8, $8::float8), 4326) AS p) q, LATERAL area_tag(q.p) a RETURNING id`,
			level, status, deadline, reported, closed, cell(p), p[0], p[1])
	}
	now := time.Now()
	haz(c, "一般", now.AddDate(0, 0, 30), now.AddDate(0, 0, -40), nil)                         // open
	haz(c, "重大", now.AddDate(0, 0, -5), now.AddDate(0, 0, -40), nil)                         // open, overdue now, not before
	rc.Closed = haz(c, "一般", nil, now.AddDate(0, 0, -40), now.AddDate(0, 0, -3))             // open at AsOfBefore only
	rc.Late = haz(orb.Point{121.47, 31.15}, "重大", nil, now.AddDate(0, 0, -2), nil)           // reported after AsOfBefore
	haz(orb.Point{121.47, 31.15}, "一般", now.AddDate(0, 0, -20), now.AddDate(0, 0, -30), nil) // overdue at both
	line := orb.LineString{{121.41, 31.135}, {121.46, 31.137}, {121.49, 31.14}}
	var cells []int64
	for _, h := range geo.Cells(line, geo.SupervisionRes) {
		cells = append(cells, int64(h))
	}
	mid := orb.Point{121.46, 31.137}
	exec(`INSERT INTO pipelines (district_code, code, name, medium, class, pressure, street_code, community_code, h3, h3_cells, geom)
SELECT a.district_code, 'PL1', '徐汇高压线', 'gas', 'transmission', '高压', a.street_code, a.community_code, $1, $2, ST_Multi(ST_GeomFromText($3, 4326))
  FROM LATERAL area_tag(ST_SetSRID(ST_MakePoint($4::float8, $5::float8), 4326)) a`, cell(mid), cells, wkt.MarshalString(line), mid[0], mid[1])
	site := func(code string, p orb.Point, status string) {
		exec(`INSERT INTO gas_occupancy_sites (district_code, code, occupant, status, street_code, community_code, h3, h3_cells, geom)
SELECT a.district_code, $1, '占压单位', $2, a.street_code, a.community_code, $3, ARRAY[$3::bigint], q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($4::float8, $5::float8), 4326) AS p) q, LATERAL area_tag(q.p) a`, code, status, cell(p), p[0], p[1])
	}
	site("GS1", orb.Point{c[0] + 0.0005, c[1] + 0.0002}, "待整治")
	site("GS2", orb.Point{121.47, 31.12}, "已整治")
	sp := orb.Point{121.455, 31.155}
	exec(`INSERT INTO underground_spaces (district_code, code, name, use, street_code, community_code, h3, h3_cells, geom)
SELECT a.district_code, 'UG1', '地下商场', '地下商业', a.street_code, a.community_code, $1, ARRAY[$1::bigint],
       ST_Multi(ST_Buffer(q.p, 0.0004))
  FROM (SELECT ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4326) AS p) q, LATERAL area_tag(q.p) a`, cell(sp), sp[0], sp[1])
	return rc
}
