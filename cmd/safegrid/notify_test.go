package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/notify"
	"safegrid/grid/testdb"
)

// TestServeRunsTheScheduler: two `safegrid serve` processes on one database, each with
// its scheduler (--notify-interval), deliver 30 queued messages to a webhook between them,
// each exactly once; a signature check on every request; the in-app copies are there once.
func TestServeRunsTheScheduler(t *testing.T) {
	bin, _ := faultKit(t)
	st := testdb.New(t, testdb.TwoStreets)
	ctx := context.Background()
	const secret = "a-webhook-secret-of-some-length"
	var mu sync.Mutex
	copies := map[string]int{}
	bad := 0
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(notify.HeaderSignature) != notify.Sign(secret, body) {
			bad++
		}
		copies[r.Header.Get(notify.HeaderIdempotency)]++
	}))
	defer rcv.Close()
	svc := notify.New(st)
	svc.Options.AllowPrivate = true
	name, url, sec, kind, code := "west", rcv.URL, secret, grid.RecipientStreet, testdb.WestStreet
	if _, _, err := svc.CreateWebhook(ctx, "test", notify.WebhookInput{Name: &name, URL: &url, Secret: &sec, ScopeKind: &kind, ScopeCode: &code}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddUser(ctx, "test", grid.User{Username: "sta", Role: grid.RoleStreet, StreetCode: testdb.WestStreet}, "password-sta"); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		m := grid.Message{Key: fmt.Sprintf("serve/%d", i), Kind: "test", Title: "消息"}
		if _, err := st.Notify(ctx, nil, m, grid.Recipient{Kind: grid.RecipientStreet, Code: testdb.WestStreet}); err != nil {
			t.Fatal(err)
		}
	}
	dbURL := testdb.URL(t, st)
	for range 2 {
		startService(t, bin, dbURL, "--notify-interval", "50ms", "--webhook-allow-private")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(copies)
		mu.Unlock()
		if n == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 30 messages arrived", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // several more runs of both schedulers
	mu.Lock()
	defer mu.Unlock()
	for k, n := range copies {
		if n != 1 {
			t.Errorf("%s arrived %d times", k, n)
		}
	}
	if bad != 0 {
		t.Errorf("%d requests with a wrong signature", bad)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM notifications`); n != 30 {
		t.Errorf("%d in-app notifications, want 30", n)
	}
}

// TestServeStopsTheSchedulerOnFailure: when serve cannot listen (a taken port) it exits
// with the error; its scheduler, already running, does not keep the process alive.
func TestServeStopsTheSchedulerOnFailure(t *testing.T) {
	bin, _ := faultKit(t)
	st := testdb.New(t, testdb.TwoStreets)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--database-url", testdb.URL(t, st), "serve", "--listen", ln.Addr().String(), "--notify-interval", "50ms")
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve on a taken port still runs after 20 s: %s", out)
	}
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("serve on a taken port: %v %s", err, out)
	}
}
