package testdb

import (
	"context"
	"fmt"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// RiskReadFixture is the world of the risk map's reading side (grid/risk read.go, export.go,
// tiles.go and api/risk.go): two snapshots written straight into the tables of migration
// 00019, so that every figure read back is known. Areas:
//
//	黄浦区 310101: 甲街道 310101001 (甲一社区 …001001 south, 甲二社区 …001002 north),
//	              乙街道 310101002 (乙一社区 310101002001)
//	徐汇区 310104: 丙街道 310104001
//
// Snapshot 1, taken 2026-11-01, defaults (config_id NULL); snapshot 2, taken 2026-12-01,
// config RiskConfigID. Scores (colour; score colour / floor colour where they differ):
//
//	              snapshot 1        snapshot 2
//	黄浦区          50 yellow         120 red (orange / floor red)   up
//	徐汇区          20 blue            20 blue                        same
//	甲街道          40 yellow          90 orange                      up
//	乙街道          30 yellow          25 yellow                      same
//	丙街道          20 blue            25 blue                        same
//	甲一社区        10 blue            10 blue                        same
//	甲二社区        —                   5 blue                        new
//	乙一社区         8 blue            —                              removed
//
// 甲街道's parts go from enterprises 30, hazards 10 to enterprises 70, hazards 15,
// underground 5; its top contributors gain 甲化工 (enterprise 12, 重大 · 重大危险源, 60
// points). Cells of snapshot 2: A (甲一社区) red 80 = own 70 + spill 10, fire_minutes 12.5;
// B (甲二社区) orange 40; C (乙一社区) yellow 20; D (丙街道) blue 3. Snapshot 1 has A yellow 30.
//
// Users (password "password-<name>"): sta (street 甲), stb (street 乙), dist (district
// 310101), distx (310104), off1 (officer), adm, plan. Zone "bay" is 徐汇区 and 乙街道: its
// members are stb, dist and distx (sta is not); its picture is 徐汇区, 乙街道, 丙街道, their
// communities and the cells C and D.
type RiskReadFixture struct {
	Store        *grid.Store
	Users        map[string]int64
	Snap1, Snap2 int64
	ConfigID     int64
	Cells        map[string]h3.Cell // A, B, C, D
}

// The fixture's areas and zone.
const (
	RiskD1   = "310101"
	RiskD2   = "310104"
	RiskS1   = "310101001"
	RiskS2   = "310101002"
	RiskS3   = "310104001"
	RiskC1   = "310101001001"
	RiskC2   = "310101001002"
	RiskC3   = "310101002001"
	RiskZone = "bay"
)

// RiskRead loads RiskReadFixture into st (a fresh migrated database).
func RiskRead(t testing.TB, st *grid.Store) *RiskReadFixture {
	t.Helper()
	ctx := context.Background()
	db := DB(st)
	exec := fixtureExec(t, db)
	twoDistricts(t, db,
		areaBox{RiskC1, "甲一社区", [4]float64{121.40, 31.18, 121.475, 31.23}},
		areaBox{RiskC2, "甲二社区", [4]float64{121.40, 31.23, 121.475, 31.28}},
		areaBox{RiskC3, "乙一社区", [4]float64{121.475, 31.18, 121.55, 31.28}})

	f := &RiskReadFixture{Store: st, Cells: map[string]h3.Cell{}}
	f.Users = addUsers(t, db, []fixtureUser{
		{"sta", grid.RoleStreet, RiskS1, ""}, {"stb", grid.RoleStreet, RiskS2, ""},
		{"dist", grid.RoleDistrict, "", RiskD1}, {"distx", grid.RoleDistrict, "", RiskD2},
		{"off1", grid.RoleOfficer, "", ""}, {"adm", grid.RoleAdmin, "", ""}, {"plan", grid.RolePlanner, "", ""},
	})
	exec(`INSERT INTO risk_zones (code, name, created_by) VALUES ($1, '杭州湾北岸联动区', 'adm')`, RiskZone)
	exec(`INSERT INTO risk_zone_areas (zone_code, area_code) VALUES ($1, $2), ($1, $3)`, RiskZone, RiskD2, RiskS2)

	if err := db.QueryRow(ctx, `INSERT INTO risk_configs (config, note, created_by) VALUES ('{}', '测试参数', 'adm') RETURNING id`).Scan(&f.ConfigID); err != nil {
		t.Fatal(err)
	}
	snapshot := func(day string, config *int64) int64 {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO risk_snapshots (taken_on, config_id, config, trigger, requested_by, duration_ms, cells)
			VALUES ($1, $2, '{}', 'manual', 'adm', 10, 4) RETURNING id`, day, config).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.Snap1 = snapshot("2026-11-01", nil)
	f.Snap2 = snapshot("2026-12-01", &f.ConfigID)

	area := func(snap int64, code string, score float64, scoreColour, floor, colour, parts, top string) {
		t.Helper()
		exec(`INSERT INTO risk_areas (snapshot_id, district_code, code, level, score, score_colour, floor_colour, colour, parts, top, counts)
			SELECT $1, left($2, 6), $2, level, $3, $4, nullif($5, ''), $6, $7::jsonb, $8::jsonb, '{"enterprises": 2, "hazards": 1}'
			FROM areas WHERE code = $2`, snap, code, score, scoreColour, floor, colour, parts, top)
	}
	const (
		noParts = `{"enterprises": 0, "hazards": 0}`
		noTop   = `[]`
		s1Top1  = `[{"kind": "enterprise", "id": 11, "code": "91310101000000011X", "name": "乙厂", "detail": "较大", "points": 30, "share": 0.75},
			{"kind": "hazard", "id": 21, "code": "Z1", "name": "隐患Z1", "points": 10, "share": 0.25}]`
		s1Top2 = `[{"kind": "enterprise", "id": 12, "code": "91310101000000012X", "name": "甲化工", "detail": "重大 · 重大危险源", "points": 60, "share": 0.6667},
			{"kind": "hazard", "id": 21, "code": "Z1", "name": "隐患Z1", "points": 15, "share": 0.1667},
			{"kind": "enterprise", "id": 11, "code": "91310101000000011X", "name": "乙厂", "detail": "较大", "points": 10, "share": 0.1111},
			{"kind": "underground_space", "id": 31, "code": "U1", "name": "=HYPERLINK(\"x\")", "points": 5, "share": 0.0556}]`
	)
	area(f.Snap1, RiskD1, 50, "yellow", "", "yellow", `{"enterprises": 40, "hazards": 10}`, s1Top1)
	area(f.Snap1, RiskD2, 20, "blue", "", "blue", noParts, noTop)
	area(f.Snap1, RiskS1, 40, "yellow", "", "yellow", `{"enterprises": 30, "hazards": 10, "underground": 0}`, s1Top1)
	area(f.Snap1, RiskS2, 30, "yellow", "", "yellow", `{"enterprises": 30, "hazards": 0}`, noTop)
	area(f.Snap1, RiskS3, 20, "blue", "", "blue", noParts, noTop)
	area(f.Snap1, RiskC1, 10, "blue", "", "blue", noParts, noTop)
	area(f.Snap1, RiskC3, 8, "blue", "", "blue", noParts, noTop)

	area(f.Snap2, RiskD1, 120, "orange", "red", "red", `{"enterprises": 100, "hazards": 15, "underground": 5}`, s1Top2)
	area(f.Snap2, RiskD2, 20, "blue", "", "blue", noParts, noTop)
	area(f.Snap2, RiskS1, 90, "orange", "", "orange", `{"enterprises": 70, "hazards": 15, "underground": 5}`, s1Top2)
	area(f.Snap2, RiskS2, 25, "yellow", "", "yellow", `{"enterprises": 25, "hazards": 0}`, noTop)
	area(f.Snap2, RiskS3, 25, "blue", "", "blue", `{"enterprises": 25, "hazards": 0}`, noTop)
	area(f.Snap2, RiskC1, 10, "blue", "", "blue", noParts, noTop)
	area(f.Snap2, RiskC2, 5, "blue", "", "blue", noParts, noTop)

	cellAt := func(lon, lat float64) h3.Cell { return geo.PointCell(orb.Point{lon, lat}, geo.SupervisionRes) }
	f.Cells["A"], f.Cells["B"] = cellAt(121.42, 31.20), cellAt(121.45, 31.25)
	f.Cells["C"], f.Cells["D"] = cellAt(121.50, 31.22), cellAt(121.45, 31.14)
	cell := func(snap int64, name, street, community string, own, spill float64, scoreColour, floor, colour, parts string) {
		t.Helper()
		c := f.Cells[name]
		g, err := geojson.NewGeometry(geo.CellPolygon(c)).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO risk_cells (snapshot_id, district_code, h3, street_code, community_code, own, spill, score,
				score_colour, floor_colour, colour, parts, top, geom)
			VALUES ($1, left($2, 6), $3, $2, nullif($4, ''), $5::float8, $6::float8, $5::float8 + $6::float8, $7, nullif($8, ''), $9, $10::jsonb,
				'[{"kind": "enterprise", "id": 12, "name": "甲化工", "points": 60, "share": 0.75}]', ST_SetSRID(ST_GeomFromGeoJSON($11), 4326))`,
			snap, street, int64(c), community, own, spill, scoreColour, floor, colour, parts, string(g))
	}
	cell(f.Snap1, "A", RiskS1, RiskC1, 25, 5, "yellow", "", "yellow", `{"enterprises": 25, "fire_minutes": 12.5}`)
	cell(f.Snap2, "A", RiskS1, RiskC1, 70, 10, "red", "red", "red", `{"enterprises": 60, "hazards": 10, "fire_minutes": 12.5}`)
	cell(f.Snap2, "B", RiskS1, RiskC2, 40, 0, "orange", "", "orange", `{"enterprises": 40}`)
	cell(f.Snap2, "C", RiskS2, RiskC3, 20, 0, "yellow", "", "yellow", `{"enterprises": 20}`)
	cell(f.Snap2, "D", RiskS3, "", 3, 0, "blue", "", "blue", `{"hazards": 3}`)
	return f
}

// RiskTileKeys decodes a risk tile into its features' keys by layer: the code of each
// risk_areas feature and the h3 of each risk_cells one, in the tile's order.
func RiskTileKeys(t testing.TB, tile []byte) map[string][]string {
	t.Helper()
	layers, err := mvt.Unmarshal(tile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range layers {
		key := map[string]string{"risk_areas": "code", "risk_cells": "h3"}[l.Name]
		for _, f := range l.Features {
			out[l.Name] = append(out[l.Name], fmt.Sprint(f.Properties[key]))
		}
	}
	return out
}
