package demo

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestTmpRun(t *testing.T) {
	out := os.Getenv("DEMO_OUT")
	if out == "" {
		t.Skip()
	}
	t0 := time.Now()
	sc := 1.0
	if v := os.Getenv("DEMO_SCALE"); v != "" {
		sc, _ = strconv.ParseFloat(v, 64)
	}
	m, err := Generate(Options{Scale: sc, Seed: 1, OutDir: out, Format: os.Getenv("DEMO_FORMAT")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		t.Logf("%-20s %-28s %d", f.Kind, f.Path, f.Rows)
	}
	t.Log(time.Since(t0))
}
