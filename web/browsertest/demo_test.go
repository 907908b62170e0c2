package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/internal/testdb"
)

// demoPassword is every demo user's password, as `safegrid demo` sets it (cmd/safegrid).
const demoPassword = "safegrid-demo"

// withDemo is a template database holding the demo city, loaded the way `safegrid demo`
// loads it (cmd/safegrid/demo.go, loadDataSet; package main cannot be imported). Its name
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
	var units, cells string
	for _, f := range m.Files {
		path := filepath.Join(dir, f.Path)
		switch f.Kind {
		case "users":
			hash, err := grid.HashPassword(demoPassword)
			if err != nil {
				return err
			}
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = st.LoadUsersCSV(ctx, file, hash)
			file.Close()
			if err != nil {
				return err
			}
		case "grid_units":
			units = path
		case "grid_cells":
			cells = path
		default:
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = st.Import(ctx, file, grid.ImportOptions{Kind: f.Kind, Format: grid.Format(f.Format), Actor: "demo"})
			file.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
		}
	}
	if units == "" || cells == "" {
		return fmt.Errorf("demo manifest lacks the grid files")
	}
	u, err := os.Open(units)
	if err != nil {
		return err
	}
	defer u.Close()
	c, err := os.Open(cells)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, _, err := st.LoadGridCSV(ctx, u, c); err != nil {
		return err
	}
	if _, err := st.Pool.Exec(ctx, `INSERT INTO audit_log (actor, action, target) VALUES ('cli', 'demo', 'loaded')`); err != nil {
		return err
	}
	// Planner statistics travel with the template into every clone; without them the first
	// queries plan as if the tables were empty (the grid audit then takes minutes).
	_, err = st.Pool.Exec(ctx, `ANALYZE`)
	return err
}
