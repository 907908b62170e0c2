package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// An import whose connection the server ends in the middle of the COPY (what a restart
// does to it) fails with an InterruptedError, a sentence without SQL text, and writes
// nothing; the same store imports the file afterwards.
func TestImportCutOffByTheDatabase(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	var file strings.Builder
	file.WriteString("code,name,type,status,vehicles,lon,lat\n")
	for i := range 2000 {
		fmt.Fprintf(&file, "FS-%d,消防站%d,一级普通,existing,5,%.4f,31.2304\n", i, i, 121.40+float64(i)*0.00005)
	}
	head, rest := file.String()[:len(file.String())/2], file.String()[len(file.String())/2:]

	// The file arrives in two halves: the first is in the COPY when the backend is ended.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := ingest.New(st).Import(ctx, pr, ingest.ImportOptions{Kind: "fire_stations", Format: ingest.FormatCSV})
		done <- err
	}()
	go func() { _, _ = pw.Write([]byte(head)) }()
	db := testdb.DB(st)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'copy %'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no COPY within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	go func() { _, _ = pw.Write([]byte(rest)); pw.Close() }()
	err := <-done
	var ie *ingest.InterruptedError
	if !errors.As(err, &ie) || ie.AtCommit {
		t.Fatalf("err = %v (%T), want an InterruptedError before the commit", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "fire_stations: the database connection was lost") || !strings.Contains(msg, "nothing was written") ||
		strings.Contains(msg, "SQLSTATE") {
		t.Errorf("message %q", msg)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM fire_stations`); n != 0 {
		t.Fatalf("%d stations written by the cut-off import", n)
	}
	res, err := ingest.New(st).Import(ctx, strings.NewReader(file.String()), ingest.ImportOptions{Kind: "fire_stations", Format: ingest.FormatCSV})
	if err != nil || res.Inserted != 2000 {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
}
