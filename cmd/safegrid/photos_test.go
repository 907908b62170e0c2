package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"safegrid/grid/evidence"
	"safegrid/grid/testdb"
)

// safegrid photos sweep removes a file no row names once its grace is over, keeps a
// fresh one, and says so.
func TestPhotosSweepCommand(t *testing.T) {
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)
	dir := t.TempDir()
	files := evidence.NewDir(dir)
	ctx := context.Background()
	old, err := files.Put(ctx, []byte("a file whose row never committed"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := files.Put(ctx, []byte("a file whose row is on its way"))
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, old[:2], old), past, past); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, url, "photos", "sweep", "--photo-dir", dir, "--grace", "1h")
	if err != nil || !strings.Contains(out, "removed 0 staged uploads and 1 files; kept 1 files") {
		t.Fatalf("sweep: %q %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, old[:2], old)); !os.IsNotExist(err) {
		t.Errorf("the orphan is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, fresh[:2], fresh)); err != nil {
		t.Errorf("the fresh file went: %v", err)
	}
}
