package demo

import (
	"os"
	"testing"
	"time"
)

func TestTmpRun(t *testing.T) {
	out := os.Getenv("DEMO_OUT")
	if out == "" {
		t.Skip()
	}
	t0 := time.Now()
	m, err := Generate(Options{Scale: 1, Seed: 1, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		t.Logf("%-20s %-28s %d", f.Kind, f.Path, f.Rows)
	}
	t.Log(time.Since(t0))
}
