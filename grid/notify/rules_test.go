package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/testdb"
)

func TestRulesDue(t *testing.T) {
	r := notify.DefaultRules()
	for _, c := range []struct {
		major    bool
		daysLeft int
		want     []string
	}{
		{false, 10, nil},
		{false, 4, nil},
		{false, 3, []string{"due_3d"}},
		{false, 2, []string{"due_3d"}}, // first seen 2 days before: the 3-day reminder, late
		{false, 1, []string{"due_1d"}},
		{false, 0, []string{"due_1d"}}, // the deadline is today
		{false, -1, []string{"overdue"}},
		{false, -6, []string{"overdue"}},
		{false, -7, []string{"overdue", "escalated"}},
		{true, 5, []string{"due_5d"}},
		{true, 6, nil},
		{true, -2, []string{"overdue"}},
		{true, -3, []string{"overdue", "escalated"}}, // 重大/挂牌督办: escalated after 3 days
	} {
		if got := r.Due(c.major, c.daysLeft); !slices.Equal(got, c.want) {
			t.Errorf("Due(major %v, %d days) = %v, want %v", c.major, c.daysLeft, got, c.want)
		}
	}
	if err := (notify.Rules{BeforeDays: []int{-1}, EscalateDays: 7, MajorEscalateDays: 3}).Validate(); err == nil {
		t.Error("a negative reminder day passed")
	}
}

// reminderPeople adds the officer of a grid unit holding testdb.WestSouth's cell, the
// street office of testdb.WestStreet and an admin (the district 310104 has no bureau user,
// so its messages reach the admins).
func reminderPeople(t *testing.T, st *grid.Store) (officer, street, admin int64) {
	t.Helper()
	ctx := context.Background()
	add := func(u grid.User) int64 {
		id, err := st.AddUser(ctx, "test", u, "password-"+u.Username)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	officer = add(grid.User{Username: "off1", Role: grid.RoleOfficer})
	street = add(grid.User{Username: "sta", Role: grid.RoleStreet, StreetCode: testdb.WestStreet})
	admin = add(grid.User{Username: "adm", Role: grid.RoleAdmin})
	cell := int64(geo.PointCell(testdb.WestSouth, geo.SupervisionRes))
	db := testdb.DB(st)
	if _, err := db.Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', '一网格', '310104003', $1)`, officer); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310104', $1, 'U1')`, cell); err != nil {
		t.Fatal(err)
	}
	return officer, street, admin
}

// TestReminders: over the Shanghai calendar, a hazard's reminders reach the officer of
// its cell's grid unit and the street office, each once however often the scheduler
// runs; escalation reaches the district (with no bureau user there, its admins in the app; its webhook); a 重大 one
// escalates sooner; a closed hazard gets nothing.
func TestReminders(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	db := testdb.DB(st)
	s := newService(t, st)
	officer, street, admin := reminderPeople(t, st)
	general := testdb.AddHazard(t, st, "一般", testdb.WestSouth)
	major := testdb.AddHazard(t, st, "重大", testdb.WestSouth)
	closed := testdb.AddHazard(t, st, "一般", testdb.WestSouth)
	for _, id := range []int64{general, major, closed} {
		if _, err := db.Exec(ctx, `UPDATE hazards SET deadline = '2026-12-10', status = 'rectifying' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `UPDATE hazards SET status = 'closed', closed_at = now() WHERE id = $1`, closed); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, secret)
	kind, code, name, url, sec := grid.RecipientDistrict, "310104", "district", rcv.URL, secret
	if _, _, err := s.CreateWebhook(ctx, "admin", notify.WebhookInput{Name: &name, URL: &url, Secret: &sec, ScopeKind: &kind, ScopeCode: &code}); err != nil {
		t.Fatal(err)
	}
	// 2026-12-06T17:00Z is 2026-12-07 01:00 in Shanghai: 3 days before the deadline.
	day := func(d string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", d, grid.ShanghaiZone())
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type step struct {
		at   time.Time
		want []string // hazard:kind raised
	}
	g, m := func(k string) string { return "g:" + k }, func(k string) string { return "m:" + k }
	steps := []step{
		{time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC), []string{m("due_5d")}}, // 12-05 01:00 Shanghai
		{day("2026-12-06 23:59"), nil},
		{time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC), []string{g("due_3d"), m("due_3d")}},
		{day("2026-12-07 12:00"), nil}, // again the same day: nothing new
		{day("2026-12-09 08:00"), []string{g("due_1d"), m("due_1d")}},
		{day("2026-12-11 00:00"), []string{g("overdue"), m("overdue")}},
		{day("2026-12-13 09:00"), []string{m("escalated")}},
		{day("2026-12-17 09:00"), []string{g("escalated")}},
		{day("2026-12-30 09:00"), nil},
	}
	for _, sp := range steps {
		raised, err := s.RaiseReminders(ctx, notify.DefaultRules(), sp.at)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range raised {
			p := map[int64]string{general: "g", major: "m", closed: "closed"}[r.HazardID]
			got = append(got, p+":"+r.Kind)
		}
		slices.Sort(got)
		if !slices.Equal(got, sp.want) {
			t.Errorf("at %s: raised %v, want %v", sp.at.In(grid.ShanghaiZone()), got, sp.want)
		}
	}
	drain(t, s)
	inbox := func(u int64) []string {
		list, _, _, err := s.Inbox(ctx, u, false, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, n := range list {
			keys = append(keys, n.Kind)
		}
		slices.Sort(keys)
		return keys
	}
	if got, want := inbox(officer), []string{"due_1d", "due_1d", "due_3d", "due_3d", "due_5d", "overdue", "overdue"}; !slices.Equal(got, want) {
		t.Errorf("officer's notifications %v, want %v", got, want)
	}
	if got, want := inbox(street), []string{"due_1d", "due_1d", "due_3d", "due_3d", "due_5d", "escalated", "escalated", "overdue", "overdue"}; !slices.Equal(got, want) {
		t.Errorf("street office's notifications %v, want %v", got, want)
	}
	if got, want := inbox(admin), []string{"escalated", "escalated"}; !slices.Equal(got, want) {
		t.Errorf("the district's (admin's) notifications %v, want %v", got, want)
	}
	if copies, _, _ := rcv.snapshot(); len(copies) != 2 {
		t.Errorf("the district webhook got %d messages, want the 2 escalations", len(copies))
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_reminder' AND actor = $1`, notify.SystemActor); n != 9 {
		t.Errorf("%d reminders audited, want 9", n)
	}
}

// TestWebhookURLChecks: only http(s) URLs to public addresses are saved, unless the
// server allows private ones.
func TestWebhookURLChecks(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	s := notify.New(st)
	ctx := context.Background()
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "http://127.0.0.1:9/x", "http://localhost/x",
		"http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]/", "http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]/",
		"http://100.64.0.1/", "http://0.0.0.0/", "https://user:pw@example.com/", "/relative", "http://"} {
		if err := s.CheckURL(ctx, u); err == nil {
			t.Errorf("%s was accepted", u)
		}
	}
	if err := s.CheckURL(ctx, "https://203.0.113.7/hook"); err != nil {
		t.Errorf("a public address: %v", err)
	}
	s.Options.AllowPrivate = true
	if err := s.CheckURL(ctx, "http://127.0.0.1:9/x"); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := s.CheckURL(ctx, "ftp://127.0.0.1/x"); err == nil {
		t.Error("allowed private still takes only http(s)")
	}
}

// TestSendTimeAddressCheck: a webhook whose name resolves to a private address only now
// (DNS rebinding; here a row saved while private addresses were allowed) is refused when
// the request connects: the receiver sees nothing and the attempt is logged.
func TestSendTimeAddressCheck(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	rcv := newReceiver(t, secret)
	allowed := newService(t, st)
	w := addHook(t, allowed, strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1), secret)
	queue(t, st, "ssrf", 1)
	strict := newService(t, st)
	strict.Options.AllowPrivate = false
	drain(t, strict)
	if c, _, _ := rcv.snapshot(); len(c) != 0 {
		t.Fatalf("the private receiver got %v", c)
	}
	log, _, err := strict.Attempts(context.Background(), w.ID, 10, 0)
	if err != nil || len(log) == 0 {
		t.Fatalf("log %+v %v", log, err)
	}
	for _, a := range log {
		if !strings.Contains(a.Error, "loopback: refused") || a.StatusCode != nil {
			t.Errorf("attempt %+v", a)
		}
	}
}

// TestDistrictMessagesReachTheBureau: a message to a district reaches its district bureau
// users (区安监局) and no admin; a district without an enabled bureau user has it go to
// the admins too; another district's bureau gets nothing.
func TestDistrictMessagesReachTheBureau(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	s := newService(t, st)
	add := func(name, role, district string) int64 {
		id, err := st.AddUser(ctx, "test", grid.User{Username: name, Role: role, DistrictCode: district}, "password-"+name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	jinshan, fengxian := add("qu_js", grid.RoleDistrict, "310116"), add("qu_fx", grid.RoleDistrict, "310120")
	admin := add("adm", grid.RoleAdmin, "")
	if _, err := st.SetUserDisabled(ctx, "test", "qu_fx", true); err != nil {
		t.Fatal(err)
	}
	send := func(key, district string) {
		if _, err := st.Notify(ctx, nil, grid.Message{Key: key, Kind: "escalated", Title: "升级", District: district},
			grid.Recipient{Kind: grid.RecipientDistrict, Code: district}); err != nil {
			t.Fatal(err)
		}
	}
	send("hazard/1/escalated", "310116") // 金山区: its bureau
	send("hazard/2/escalated", "310120") // 奉贤区: its only bureau user is disabled, so the admins
	send("hazard/3/escalated", "310104") // 徐汇区: no bureau user, so the admins
	drain(t, s)
	keys := func(u int64) []string {
		list, _, _, err := s.Inbox(ctx, u, false, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Key)
		}
		slices.Sort(out)
		return out
	}
	if got := keys(jinshan); !slices.Equal(got, []string{"hazard/1/escalated"}) {
		t.Errorf("金山's bureau got %v", got)
	}
	// A disabled user keeps getting their own messages, as every recipient does (they read
	// them when enabled again); the district still counts as one without a bureau.
	if got := keys(fengxian); !slices.Equal(got, []string{"hazard/2/escalated"}) {
		t.Errorf("奉贤's disabled bureau user got %v", got)
	}
	if got := keys(admin); !slices.Equal(got, []string{"hazard/2/escalated", "hazard/3/escalated"}) {
		t.Errorf("the admin got %v, want the messages of the districts without a bureau", got)
	}
}

// TestBacklogIsDigested: reminders raised long after their day (hazards first seen long
// overdue) are recorded once each but reach each recipient as one digest per kind; a
// reminder on its day is still a message of its own; a second run raises nothing.
func TestBacklogIsDigested(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	db := testdb.DB(st)
	s := newService(t, st)
	officer, street, admin := reminderPeople(t, st)
	deadlines := map[string]string{"g1": "2026-11-01", "g2": "2026-11-03", "m": "2026-11-15", "fresh": "2026-12-19"}
	ids := map[int64]string{}
	for name, d := range deadlines {
		level := "一般"
		if name == "m" {
			level = "重大"
		}
		id := testdb.AddHazard(t, st, level, testdb.WestSouth)
		ids[id] = name
		if _, err := db.Exec(ctx, `UPDATE hazards SET deadline = $2, status = 'rectifying' WHERE id = $1`, id, d); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 20, 1, 0, 0, 0, time.UTC) // 2026-12-20 09:00 in Shanghai
	raised, err := s.RaiseReminders(ctx, notify.DefaultRules(), at)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range raised {
		got = append(got, ids[r.HazardID]+":"+r.Kind)
	}
	slices.Sort(got)
	want := []string{"fresh:overdue", "g1:escalated", "g1:overdue", "g2:escalated", "g2:overdue", "m:escalated", "m:overdue"}
	if !slices.Equal(got, want) {
		t.Fatalf("raised %v, want %v", got, want)
	}
	if again, err := s.RaiseReminders(ctx, notify.DefaultRules(), at.Add(time.Hour)); err != nil || len(again) != 0 {
		t.Fatalf("a second run raised %v (%v)", again, err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazard_reminders`); n != 7 {
		t.Errorf("%d reminders recorded, want 7", n)
	}
	drain(t, s)
	inbox := func(u int64) []string {
		list, _, _, err := s.Inbox(ctx, u, false, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Kind+" "+n.Title)
		}
		slices.Sort(out)
		return out
	}
	overdue := "overdue_digest 积压提醒：3 项隐患已逾期（整改期限最早 2026-11-01）"
	escalated := "escalated_digest 积压提醒：3 项隐患逾期未整改，已升级至区"
	fresh := "overdue 隐患 "
	check := func(who string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s's notifications %q, want %q", who, got, want)
			return
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%s's notifications %q, want %q", who, got, want)
				return
			}
		}
	}
	check("officer", inbox(officer), []string{fresh, overdue})
	check("street office", inbox(street), []string{escalated, fresh, overdue})
	check("district (its admins)", inbox(admin), []string{escalated})
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_reminder' AND actor = $1`, notify.SystemActor); n != 3 {
		t.Errorf("%d reminder audit records, want 3 (one reminder, one digest per kind)", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'hazard_reminder' AND object_id = 'backlog'
 AND (details->>'count')::int = 3 AND jsonb_array_length(details->'hazards') = 3`); n != 2 {
		t.Errorf("%d backlog audit records name their 3 hazards, want 2", n)
	}
	// The catch-up is bounded like the other days.
	late := notify.DefaultRules()
	late.CatchUpDays = 60
	if err := late.Validate(); err != nil {
		t.Fatal(err)
	}
	late.CatchUpDays = 61
	if err := late.Validate(); err == nil {
		t.Error("61 catch-up days passed")
	}
}

func TestRulesLate(t *testing.T) {
	r := notify.DefaultRules()
	for _, c := range []struct {
		major    bool
		kind     string
		daysLeft int
		want     int
	}{
		{false, "due_3d", 3, 0}, {false, "due_3d", 2, 1}, {false, "due_1d", 0, 1},
		{false, "overdue", -1, 0}, {false, "overdue", -5, 4},
		{false, "escalated", -7, 0}, {false, "escalated", -30, 23},
		{true, "escalated", -3, 0}, {true, "escalated", -10, 7},
	} {
		if got := r.Late(c.major, c.kind, c.daysLeft); got != c.want {
			t.Errorf("Late(%v, %s, %d) = %d, want %d", c.major, c.kind, c.daysLeft, got, c.want)
		}
	}
}
