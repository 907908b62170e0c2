package api

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// TestPostgresRestartRecovers restarts PostgreSQL under load: meanwhile requests get 503
// (never a 500 or a hang), and afterwards the same server answers 200 again by itself.
func TestPostgresRestartRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own")
	}
	cl := testdb.NewCluster(t)
	ctx := context.Background()
	st, err := grid.Open(ctx, cl.URL, DefaultConfig().StoreOptions()...)
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
	cl.Stop()
	time.Sleep(500 * time.Millisecond)
	cl.Start()
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
