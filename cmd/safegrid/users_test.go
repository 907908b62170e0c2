package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// runIn executes the CLI in-process with stdin; the output includes the error's text,
// as main prints it.
func runIn(t *testing.T, url, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--database-url", url}, args...))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString("safegrid: " + err.Error() + "\n")
	}
	if strings.Contains(out.String(), "SQLSTATE") {
		t.Errorf("%v: SQL error text reaches the user: %s", args, out.String())
	}
	return out.String(), err
}

var generatedRE = regexp.MustCompile(`(?m)^password: ([A-Z2-7]{26})$`)

func TestUsersCommands(t *testing.T) {
	st := testdb.New(t, testdb.TwoStreets)
	url := testdb.URL(t, st)
	ctx := context.Background()
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := runIn(t, url, stdin, args...)
		if err != nil {
			t.Fatalf("%v: %s", args, out)
		}
		return out
	}
	refused := func(stdin, want string, args ...string) string {
		t.Helper()
		out, err := runIn(t, url, stdin, args...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%v: want an error saying %q, got %v: %s", args, want, err, out)
		}
		return out
	}
	signsIn := func(name, password string) bool {
		_, err := st.CheckPassword(ctx, name, password)
		return err == nil
	}

	// add: the password from stdin (one line), never from argv.
	must("root-password-1\n", "users", "add", "root", "--role", "admin", "--display-name", "管理员")
	if !signsIn("root", "root-password-1") {
		t.Errorf("the password read from stdin does not sign in")
	}
	out := refused("", "--password is refused", "users", "add", "argv", "--role", "planner", "--password", "visible-in-ps")
	if !strings.Contains(out, "stdin") || strings.Contains(out, "visible-in-ps") {
		t.Errorf("the refusal should point to stdin and not repeat the password: %s", out)
	}
	refused("", "--password is refused", "users", "add", "argv", "--role", "planner", "--password=visible-in-ps")
	if n := testdb.Count(t, st, `SELECT count(*) FROM users WHERE username = 'argv'`); n != 0 {
		t.Errorf("a user was added with a password from argv")
	}
	refused("another-password\n", "user 'root' already exists", "users", "add", "root", "--role", "planner")
	// add without a password: generated, printed once.
	for _, c := range []struct{ name, stdin string }{{"gen1", ""}, {"gen2", "\n"}, {"gen3", "ignored-when-generating\n"}} {
		args := []string{"users", "add", c.name, "--role", "planner"}
		if c.name == "gen3" {
			args = append(args, "--generate")
		}
		out := must(c.stdin, args...)
		m := generatedRE.FindStringSubmatch(out)
		if m == nil || !signsIn(c.name, m[1]) {
			t.Errorf("%s: no working generated password in %q", c.name, out)
		}
	}
	// Refused values, named by flag.
	refused("short\n", "password: must have at least 8 characters", "users", "add", "short", "--role", "planner")
	refused("zhou-zhou\n", "password: must not be the user name", "users", "add", "zhou", "--role", "planner")
	refused("zhou-password\n", "--street: is required for the role street", "users", "add", "zhou", "--role", "street")
	refused("zhou-password\n", "--street: 310104999 is not a loaded street", "users", "add", "zhou", "--role", "street", "--street", "310104999")
	refused("zhou-password\n", `--role: "boss" is not one of`, "users", "add", "zhou", "--role", "boss")
	must("zhou-password\n", "users", "add", "zhou", "--role", "street", "--street", testdb.WestStreet)
	must("wang-password\n", "users", "add", "wang", "--role", "officer")

	// list: a table, filtered.
	out = must("", "users", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "USERNAME") || !strings.Contains(lines[0], "LAST LOGIN") {
		t.Fatalf("list:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^zhou +street +310104003 +- +- +no +never +\d{4}-\d\d-\d\dT`).MatchString(out) {
		t.Errorf("zhou's row:\n%s", out)
	}
	out = must("", "users", "list", "--role", "street")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "zhou") {
		t.Errorf("list --role street:\n%s", out)
	}
	out = must("", "users", "list", "--search", "GEN")
	if strings.Count(out, "\n") != 4 {
		t.Errorf("list --search GEN:\n%s", out)
	}
	refused("", "--street: must be a 9-digit street code", "users", "list", "--street", "31")
	refused("", "--disabled must be true or false", "users", "list", "--disabled", "maybe")

	// set
	out = must("", "users", "set", "zhou", "--role", "planner", "--display-name", "周")
	if !strings.Contains(out, "role planner, street -") {
		t.Errorf("set: %s", out)
	}
	refused("", "nothing to change", "users", "set", "zhou")

	// A district bureau user (区安监局) needs a loaded district, and only it has one.
	refused("qu-password-1\n", "--district: is required for the role district", "users", "add", "qu", "--role", "district")
	refused("qu-password-1\n", "--district: must be a 6-digit district code", "users", "add", "qu", "--role", "district", "--district", testdb.WestStreet)
	refused("qu-password-1\n", "--district: 310999 is not a loaded district", "users", "add", "qu", "--role", "district", "--district", "310999")
	refused("qu-password-1\n", "--district: only a district bureau user", "users", "add", "qu", "--role", "planner", "--district", "310104")
	must("qu-password-1\n", "users", "add", "qu", "--role", "district", "--district", "310104")
	out = must("", "users", "list", "--district", "310104", "--role", "district")
	if !regexp.MustCompile(`(?m)^qu +district +- +310104 +- +no `).MatchString(out) {
		t.Errorf("list --district:\n%s", out)
	}
	if out = must("", "users", "set", "qu", "--role", "planner"); !strings.Contains(out, "role planner, street -, district -") {
		t.Errorf("set qu --role planner: %s", out)
	}
	refused("", "--district: is required for the role district", "users", "set", "qu", "--role", "district")
	if out = must("", "users", "set", "qu", "--role", "district", "--district", "310104"); !strings.Contains(out, "district 310104") {
		t.Errorf("set qu back to district: %s", out)
	}
	refused("", `user "nobody" not found`, "users", "set", "nobody", "--role", "planner")

	// passwd: from stdin; the old password and the sessions stop working.
	sess, err := st.Login(ctx, "wang", "wang-password", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	must("wang-new-password\n", "users", "passwd", "wang")
	if signsIn("wang", "wang-password") || !signsIn("wang", "wang-new-password") {
		t.Errorf("passwd: the old password works or the new one does not")
	}
	if _, err := st.Authenticate(ctx, sess.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("a session survived passwd: %v", err)
	}
	refused("", "--password is refused", "users", "passwd", "wang", "--password", "x-visible-in-ps")
	refused("wang\n", "password: must have at least 8 characters", "users", "passwd", "wang")
	refused("", `user "nobody" not found`, "users", "passwd", "nobody")
	out = must("", "users", "passwd", "wang", "--generate")
	if m := generatedRE.FindStringSubmatch(out); m == nil || !signsIn("wang", m[1]) {
		t.Errorf("passwd --generate: %s", out)
	}
	must("wang-new-password\n", "users", "passwd", "wang")

	// sessions and revoke
	s1, _ := st.Login(ctx, "wang", "wang-new-password", time.Hour)
	s2, _ := st.Login(ctx, "wang", "wang-new-password", time.Hour)
	out = must("", "users", "sessions", "wang")
	rows := regexp.MustCompile(`(?m)^(\d+) +\S+ +\S+ +- +(yes|no)$`).FindAllStringSubmatch(out, -1)
	if len(rows) != 3 || rows[0][2] != "no" || rows[1][2] != "no" || rows[2][2] != "yes" { // the first was revoked by passwd
		t.Fatalf("sessions:\n%s", out)
	}
	must("", "users", "revoke", "wang", rows[0][1]) // the newest: s2
	if _, err := st.Authenticate(ctx, s2.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("the revoked session still works")
	}
	if _, err := st.Authenticate(ctx, s1.Token); err != nil {
		t.Errorf("the other session was revoked too: %v", err)
	}
	refused("", "give either a session id or --all", "users", "revoke", "wang")
	refused("", "is not a session id", "users", "revoke", "wang", "abc")
	refused("", `session "999999" not found`, "users", "revoke", "wang", "999999")
	out = must("", "users", "revoke", "wang", "--all")
	if !strings.Contains(out, "1 session(s) of wang revoked") {
		t.Errorf("revoke --all: %s", out)
	}
	if _, err := st.Authenticate(ctx, s1.Token); !errors.Is(err, grid.ErrInvalidToken) {
		t.Errorf("a session survived revoke --all")
	}

	// disable, enable
	must("", "users", "disable", "wang")
	if signsIn("wang", "wang-new-password") {
		t.Errorf("a disabled user signs in")
	}
	if out := must("", "users", "list", "--disabled", "true"); !strings.Contains(out, "wang") || strings.Count(out, "\n") != 2 {
		t.Errorf("list --disabled true:\n%s", out)
	}
	must("", "users", "enable", "wang")
	if !signsIn("wang", "wang-new-password") {
		t.Errorf("an enabled user cannot sign in")
	}
	// The last enabled admin stays.
	refused("", "this is the last enabled admin", "users", "disable", "root")
	refused("", "this is the last enabled admin", "users", "remove", "root")
	refused("", "this is the last enabled admin", "users", "set", "root", "--role", "planner")

	// remove keeps the history and the name.
	testdb.AddHazard(t, st, "一般", testdb.WestSouth)
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE hazards SET reporter = 'wang'`); err != nil {
		t.Fatal(err)
	}
	must("", "users", "remove", "wang")
	if out := must("", "users", "list"); strings.Contains(out, "wang") {
		t.Errorf("a removed user is listed:\n%s", out)
	}
	refused("", `user "wang" not found`, "users", "remove", "wang")
	refused("x-password-1\n", "user 'wang' was removed", "users", "add", "wang", "--role", "officer")
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazards WHERE reporter = 'wang'`); n != 1 {
		t.Errorf("the removed user's hazard is gone")
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM users WHERE username = 'wang' AND removed_at IS NOT NULL AND disabled`); n != 1 {
		t.Errorf("the removed user's row is gone or enabled")
	}

	// Every change is audited as the CLI's user.
	for action, n := range map[string]int{"user_add": 7, "user_update": 3, "user_password_reset": 3, "session_revoke": 1,
		"sessions_revoke": 1, "user_disable": 1, "user_enable": 1, "user_remove": 1} {
		if got := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = $1 AND actor LIKE 'cli:%'`, action); got != n {
			t.Errorf("%d %s audit records, want %d", got, action, n)
		}
	}
}
