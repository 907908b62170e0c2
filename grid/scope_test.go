package grid_test

import (
	"context"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// TestScopeByRole checks the condition of every role, and that a role whose column the
// table lacks sees nothing rather than everything.
func TestScopeByRole(t *testing.T) {
	all := grid.ScopeCols{District: "t.district_code", Street: "t.street_code", Cell: "t.h3"}
	cases := []struct {
		p    *grid.Principal
		cols grid.ScopeCols
		cond string
		arg  any
	}{
		{nil, all, "false", nil},
		{&grid.Principal{Role: grid.RoleAdmin}, all, "true", nil},
		{&grid.Principal{Role: grid.RolePlanner}, all, "true", nil},
		{&grid.Principal{Role: grid.RoleDistrict, DistrictCode: "310115"}, all, "t.district_code = $3", "310115"},
		{&grid.Principal{Role: grid.RoleDistrict}, all, "false", nil},
		{&grid.Principal{Role: grid.RoleStreet, StreetCode: "310115001"}, all, "t.street_code = $3", "310115001"},
		{&grid.Principal{Role: grid.RoleStreet, StreetCode: "310115001"}, grid.ScopeCols{District: "t.district_code"}, "false", nil},
		{&grid.Principal{Role: grid.RoleOfficer, UserID: 7}, all, "t.h3 IN (SELECT c FROM officer_cells($3) AS c)", int64(7)},
		{&grid.Principal{Role: grid.RoleOfficer, UserID: 7}, grid.ScopeCols{Cells: "t.h3_cells", Cell: "t.h3"}, "t.h3_cells && ARRAY(SELECT c FROM officer_cells($3) AS c)", int64(7)},
		{&grid.Principal{Role: grid.RoleOfficer, UserID: 7}, grid.ScopeCols{Street: "t.street_code"}, "false", nil},
		{&grid.Principal{Role: "nobody"}, all, "false", nil},
	}
	for _, c := range cases {
		cond, args := grid.Scope(c.p, c.cols, 3)
		if cond != c.cond || (c.arg == nil) != (len(args) == 0) || (c.arg != nil && (len(args) != 1 || args[0] != c.arg)) {
			t.Errorf("%+v %+v: %q %v, want %q %v", c.p, c.cols, cond, args, c.cond, c.arg)
		}
	}
}

// TestDistrictPrincipal checks that a district user's session carries their district.
func TestDistrictPrincipal(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	var district string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT code FROM areas WHERE level = 'district' ORDER BY code LIMIT 1`).Scan(&district); err != nil {
		t.Fatal(err)
	}
	hash, err := grid.HashPassword("password-d1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO users (username, role, district_code, password_hash) VALUES ('qu', 'district', $1, $2)`, district, hash); err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO users (username, role, password_hash) VALUES ('qu2', 'district', $1)`, hash); err == nil {
		t.Error("a district user without a district was stored")
	}
	sess, err := st.Login(ctx, "qu", "password-d1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Authenticate(ctx, sess.Token)
	if err != nil || p.Role != grid.RoleDistrict || p.DistrictCode != district || p.StreetCode != "" {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	p, _, err = st.AuthenticateVersions(ctx, sess.Token)
	if err != nil || p.DistrictCode != district {
		t.Fatalf("authenticate with versions: %+v, %v", p, err)
	}
	q, err := st.CheckPassword(ctx, "qu", "password-d1")
	if err != nil || q.DistrictCode != district {
		t.Fatalf("check password: %+v, %v", q, err)
	}
	if q, err = st.Recheck(ctx, q); err != nil || q.DistrictCode != district {
		t.Fatalf("recheck: %+v, %v", q, err)
	}
}
