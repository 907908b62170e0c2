package api

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"safegrid/grid"
)

// restartableCluster starts a PostgreSQL cluster of the test's own (scripts/db.sh with
// another data directory and port), since restarting the shared one would break the
// tests running beside this one. It returns the URL and a function running db.sh.
func restartableCluster(t *testing.T) (string, func(cmd string)) {
	t.Helper()
	// make test sets SAFEGRID_PRIVATE_DB when it started the project's own cluster, so
	// the PostgreSQL binaries are here; a user's own DATABASE_URL may mean they are not.
	if os.Getenv("DATABASE_URL") != "" && os.Getenv("SAFEGRID_PRIVATE_DB") != "1" {
		t.Skip("DATABASE_URL names a server of the user's; this test needs local PostgreSQL binaries")
	}
	dir, err := os.MkdirTemp("/var/tmp", "safegrid-restart-test-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the postgres user must reach the data directory inside
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "SAFEGRID_PGDATA="+dir+"/data", "SAFEGRID_PGPORT="+strconv.Itoa(port))
	var url string
	db := func(cmd string) {
		c := exec.Command("bash", "../scripts/db.sh", cmd)
		c.Env = env
		out, err := c.Output()
		if err != nil {
			t.Fatalf("db.sh %s: %v", cmd, err)
		}
		if cmd == "start" {
			url = strings.TrimSpace(string(out))
		}
	}
	t.Cleanup(func() {
		db("stop")
		os.RemoveAll(dir)
	})
	db("start")
	return url, db
}

// TestPostgresRestartRecovers restarts PostgreSQL under load: meanwhile requests get 503
// (never a 500 or a hang), and afterwards the same server answers 200 again by itself.
func TestPostgresRestartRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own")
	}
	url, db := restartableCluster(t)
	ctx := context.Background()
	st, err := grid.Open(ctx, url, DefaultConfig().StoreOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := serverOn(t, st, nil)
	ts.addUser(t, "ann", grid.RoleAdmin, "")
	auth := ts.login(t, "ann")

	var stop atomic.Bool
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				req := httptest.NewRequest("GET", "/api/v1/me", nil)
				req.Header.Set("Authorization", auth)
				status := -1 // the request itself failed (t.Fatal is for the test's goroutine)
				if resp, err := ts.app.Test(req, 10000); err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	db("stop")
	time.Sleep(500 * time.Millisecond)
	db("start")
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("statuses during the restart: %v", counts)
	for status := range counts {
		if status != 200 && status != 503 {
			t.Errorf("status %d during the restart (want only 200 and 503)", status)
		}
	}
	if counts[503] == 0 {
		t.Error("no 503 while the database was down")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := ts.do(t, "GET", "/api/v1/me", "", "Authorization", auth)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 10 s after the restart: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, _ := ts.do(t, "GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("readyz after the restart: %d", resp.StatusCode)
	}
}
