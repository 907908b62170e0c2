package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/grid/testdb"
)

// demoPassword is every demo user's password.
const demoPassword = demo.Password

// withDemo is a template database holding the demo city, loaded as `safegrid demo` loads
// it (demo.Load). Its name
// carries a hash of the generator's source, so a changed generator builds a new template.
var withDemo = &testdb.Setup{Name: "browser-demo-v2-" + generatorHash(), Load: loadDemo}

// generatorHash hashes grid/demo's Go files.
func generatorHash() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "grid", "demo")
	names, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil {
			h.Write([]byte(filepath.Base(n)))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

func loadDemo(ctx context.Context, st *grid.Store) error {
	dir, err := os.MkdirTemp("", "safegrid-browser-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := demo.Generate(demo.Options{Scale: 1, Seed: 1, OutDir: dir})
	if err != nil {
		return err
	}
	if err := demo.Load(ctx, st, dir, m, io.Discard); err != nil {
		return err
	}
	// Marked as `safegrid demo` marks it. (demo.Load ends with ANALYZE: planner statistics
	// travel with the template into every clone.)
	return demo.MarkLoaded(ctx, st)
}
