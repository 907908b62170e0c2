package testdb

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
)

// The pieces the assessment's and the risk map's fixtures share: two districts with their
// streets as boxes, and users signed in with the password "password-<name>".

// fixtureUser is one user of a fixture: a street office names its street, a district
// bureau its district.
type fixtureUser struct{ name, role, street, district string }

// fixtureExec runs one statement of a fixture, failing the test with the statement.
func fixtureExec(t testing.TB, db *pgxpool.Pool) func(sql string, args ...any) {
	return func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// twoDistricts loads 黄浦区 310101 with 甲街道 310101001 (west) and 乙街道 310101002
// (east), and 徐汇区 310104 with 丙街道 310104001 south of it, as boxes, plus extra
// areas given as code, name and box; then their area_parts.
func twoDistricts(t testing.TB, db *pgxpool.Pool, extra ...areaBox) {
	t.Helper()
	exec := fixtureExec(t, db)
	boxes := append([]areaBox{
		{"310101", "黄浦区", [4]float64{121.40, 31.18, 121.55, 31.28}},
		{"310101001", "甲街道", [4]float64{121.40, 31.18, 121.475, 31.28}},
		{"310101002", "乙街道", [4]float64{121.475, 31.18, 121.55, 31.28}},
		{"310104", "徐汇区", [4]float64{121.40, 31.10, 121.55, 31.18}},
		{"310104001", "丙街道", [4]float64{121.40, 31.10, 121.55, 31.18}},
	}, extra...)
	for _, b := range boxes {
		exec(`INSERT INTO areas (code, name, geom) VALUES ($1, $2, ST_Multi(ST_MakeEnvelope($3, $4, $5, $6, 4326)))`,
			b.code, b.name, b.box[0], b.box[1], b.box[2], b.box[3])
	}
	exec(`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(geom)).geom FROM areas`)
}

// areaBox is an area drawn as a box (west, south, east, north).
type areaBox struct {
	code, name string
	box        [4]float64
}

// addUsers inserts users and returns their ids by name.
func addUsers(t testing.TB, db *pgxpool.Pool, users []fixtureUser) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, u := range users {
		hash, err := grid.HashPassword("password-" + u.name)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.QueryRow(context.Background(), `INSERT INTO users (username, display_name, role, street_code, district_code, password_hash)
			VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), $6) RETURNING id`,
			u.name, "姓名"+u.name, u.role, u.street, u.district, hash).Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[u.name] = id
	}
	return out
}
