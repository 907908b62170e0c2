package grid_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

func TestPasswordRules(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "test", grid.User{Username: "Wang", Role: grid.RolePlanner}, "a-good-password"); err != nil {
		t.Fatal(err)
	}
	for password, ok := range map[string]bool{
		"1234567":                       false, // too short
		"12345678":                      true,
		"长长长长长长长长":                      true, // characters, not bytes
		strings.Repeat("x", 72):         true,
		strings.Repeat("x", 73):         false, // bcrypt reads 72 bytes
		strings.Repeat("长", 25):         false, // 75 bytes
		"wangwang":                      false, // the name
		"WANG-WANG-wang!":               false, // little more than the name
		"wang1234":                      false,
		"wang1234X":                     false, // 5 left without the name
		"wang-reads-maps":               true,  // 11 left
		"password-wang":                 true,
		"Wang" + strings.Repeat("!", 8): true,
	} {
		err := st.SetPassword(ctx, "test", "Wang", password)
		var fe *grid.InvalidFieldsError
		switch {
		case ok && err != nil:
			t.Errorf("%q refused: %v", password, err)
		case !ok && (!errors.As(err, &fe) || fe.Errors[0].Field != "password"):
			t.Errorf("%q: %v, want a refused password field", password, err)
		}
	}
	if len(grid.GeneratePassword()) < 16 || grid.GeneratePassword() == grid.GeneratePassword() {
		t.Errorf("generated passwords are short or repeat")
	}
}

// TestRecheck: remembered credentials (a Principal from CheckPassword) stop working once
// the password changes or the user is disabled or removed, and follow a new role.
func TestRecheck(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	for _, n := range []string{"a1", "b1", "c1", "d1"} {
		if _, err := st.AddUser(ctx, "test", grid.User{Username: n, Role: grid.RoleOfficer}, "password-"+n); err != nil {
			t.Fatal(err)
		}
	}
	checked := map[string]*grid.Principal{}
	for _, n := range []string{"a1", "b1", "c1", "d1"} {
		p, err := st.CheckPassword(ctx, n, "password-"+n)
		if err != nil {
			t.Fatal(err)
		}
		if q, err := st.Recheck(ctx, p); err != nil || q.Username != n {
			t.Fatalf("recheck before any change: %+v %v", q, err)
		}
		checked[n] = p
	}
	if err := st.SetPassword(ctx, "test", "a1", "password-a1"); err != nil { // even the same password again
		t.Fatal(err)
	}
	if _, err := st.SetUserDisabled(ctx, "test", "b1", true); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveUser(ctx, "test", "c1"); err != nil {
		t.Fatal(err)
	}
	role := grid.RolePlanner
	if _, err := st.UpdateUser(ctx, "test", "d1", grid.UserChange{Role: &role}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a1", "b1", "c1"} {
		if _, err := st.Recheck(ctx, checked[n]); !errors.Is(err, grid.ErrBadCredentials) {
			t.Errorf("%s: remembered credentials survive: %v", n, err)
		}
	}
	if q, err := st.Recheck(ctx, checked["d1"]); err != nil || q.Role != grid.RolePlanner {
		t.Errorf("d1 after the role change: %+v %v", q, err)
	}
	if _, err := st.Login(ctx, "c1", "password-c1", time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
		t.Errorf("a removed user logs in: %v", err)
	}
	if _, err := st.UserByName(ctx, "c1"); err == nil || err.Error() != `user "c1" not found` {
		t.Errorf("a removed user is found: %v", err)
	}
}

// TestLastAdminUnderConcurrency: two admins disabling each other at once cannot both
// succeed, so one enabled admin remains.
func TestLastAdminUnderConcurrency(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	for _, n := range []string{"ann", "bob"} {
		if _, err := st.AddUser(ctx, "test", grid.User{Username: n, Role: grid.RoleAdmin}, "password-"+n); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, pair := range [][2]string{{"ann", "bob"}, {"bob", "ann"}} {
			wg.Go(func() {
				if round%2 == 0 {
					_, errs[i] = st.SetUserDisabled(ctx, pair[0], pair[1], true)
				} else {
					errs[i] = st.RemoveUser(ctx, "cli:test", pair[1])
				}
			})
		}
		wg.Wait()
		if n := testdb.Count(t, st, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled`); n != 1 {
			t.Fatalf("round %d: %d enabled admins left (%v)", round, n, errs)
		}
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: want one refusal, got %v", round, errs)
		}
		// Bring both back for the next round.
		if _, err := testdb.DB(st).Exec(ctx, `UPDATE users SET disabled = false, removed_at = NULL`); err != nil {
			t.Fatal(err)
		}
	}
}

// A sign-in whose password check overlaps a password reset, a disable or a removal gets no
// token that outlives the change: the session is inserted only for the credentials that
// were checked. Step by step (the check, then the change, then the insert), and then as
// real races, after which no token signed in with the old password may work.
func TestLoginRacingACredentialsChange(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	for _, n := range []string{"r1", "r2", "r3", "r4", "r5"} {
		if _, err := st.AddUser(ctx, "test", grid.User{Username: n, Role: grid.RoleOfficer}, "password-"+n); err != nil {
			t.Fatal(err)
		}
	}
	check := func(n string) *grid.Principal {
		p, err := st.CheckPassword(ctx, n, "password-"+n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Unchanged: the checked principal gets its session.
	sess, err := grid.OpenSession(st, ctx, check("r1"), time.Hour)
	if err != nil {
		t.Fatalf("no change in between: %v", err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Fatalf("the session of an unchanged user: %v", err)
	}
	for name, change := range map[string]func(string) error{
		"r2": func(n string) error { return st.SetPassword(ctx, "test", n, "another-password") },
		"r3": func(n string) error { _, err := st.SetUserDisabled(ctx, "test", n, true); return err },
		"r4": func(n string) error { return st.RemoveUser(ctx, "test", n) },
	} {
		p := check(name)
		if err := change(name); err != nil {
			t.Fatal(err)
		}
		if sess, err := grid.OpenSession(st, ctx, p, time.Hour); !errors.Is(err, grid.ErrBadCredentials) {
			t.Errorf("%s: a session after the change: %+v, %v", name, sess, err)
		}
	}

	// Races: sign-ins with the old password while the password is reset. Whatever the
	// order, once the reset has committed no token from the old password works.
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := st.Login(ctx, "r5", "password-r5", time.Hour); err == nil {
				tokens <- s.Token
			} else if !errors.Is(err, grid.ErrBadCredentials) {
				t.Errorf("login: %v", err)
			}
		}()
	}
	if err := st.SetPassword(ctx, "test", "r5", "another-password"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(tokens)
	for tok := range tokens {
		if p, err := st.Authenticate(ctx, tok); err == nil {
			t.Errorf("a token from the old password works after the reset: %+v", p)
		}
	}
}

// TestLoadUsersCSVWithDistricts: the users file takes a district_code column (the demo's
// district bureaus), and a file written before it is read too.
func TestLoadUsersCSVWithDistricts(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	hash, err := grid.HashPassword("password-demo")
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.LoadUsersCSV(ctx, strings.NewReader("username,role,street_code,district_code,display_name\n"+
		"district_310104,district,,310104,徐汇区安全生产监督管理局\nstreet_310104003,street,310104003,,西街道\n"), hash)
	if err != nil || n != 2 {
		t.Fatalf("loaded %d: %v", n, err)
	}
	u, err := st.UserByName(ctx, "district_310104")
	if err != nil || u.Role != grid.RoleDistrict || u.DistrictCode != "310104" || u.StreetCode != "" {
		t.Fatalf("district user %+v, %v", u, err)
	}
	if n, err := st.LoadUsersCSV(ctx, strings.NewReader("username,role,street_code,display_name\nplan2,planner,,规划\n"), hash); err != nil || n != 1 {
		t.Errorf("the old header: %d, %v", n, err)
	}
	if _, err := st.LoadUsersCSV(ctx, strings.NewReader("username,role,district_code\nx,planner,\n"), hash); err == nil ||
		!strings.Contains(err.Error(), "username,role,street_code,district_code,display_name") {
		t.Errorf("a wrong header: %v", err)
	}
	if _, err := st.LoadUsersCSV(ctx, strings.NewReader("username,role,street_code,district_code,display_name\nqu9,district,,,无区\n"), hash); err == nil {
		t.Error("a district user without a district was loaded")
	}
	f := grid.UserFilter{District: "310104"}
	users, total, err := st.Users(ctx, f)
	if err != nil || total != 2 || users[0].Username != "district_310104" || users[1].Username != "street_310104003" {
		t.Errorf("users of 310104: %d %+v %v", total, users, err)
	}
}
