package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"safegrid/grid"
	"safegrid/grid/dossier"
	"safegrid/grid/ingest"
	"safegrid/grid/internal/pg"
	"safegrid/grid/supervise"
)

// Password is every demo user's password; the README and `make run` print it.
const Password = "safegrid-demo"

// Load imports every file of a generated data set (m, written in dir) into st in manifest
// order: the import kinds, the users (with Password), then the grid units and cells, then
// the inspection history, then the licences, then the joint-control zone. It reports each step on out and ends with ANALYZE.
func Load(ctx context.Context, st *grid.Store, dir string, m *Manifest, out io.Writer) error {
	var units, cells, inspections, licences string
	for _, f := range m.Files {
		path := filepath.Join(dir, f.Path)
		switch f.Kind {
		case "users":
			hash, err := grid.HashPassword(Password)
			if err != nil {
				return err
			}
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			n, err := st.LoadUsersCSV(ctx, file, hash)
			file.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%-20s %7d added\n", "users", n)
		case "grid_units":
			units = path
		case "grid_cells":
			cells = path
		case "inspections":
			inspections = path
		case "licences":
			licences = path
		default:
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			t0 := time.Now()
			res, err := ingest.New(st).Import(ctx, file, ingest.ImportOptions{Kind: f.Kind, Format: ingest.Format(f.Format), Actor: "demo"})
			file.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			fmt.Fprintf(out, "%-20s %7d inserted %7d updated  (%.1f s)\n", f.Kind, res.Inserted, res.Updated, time.Since(t0).Seconds())
		}
	}
	if units != "" && cells != "" {
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
		nu, nc, err := st.LoadGridCSV(ctx, u, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-20s %7d units, %d cells\n", "grid", nu, nc)
	}
	// After the grid: each inspection is its cell's officer's.
	if inspections != "" {
		file, err := os.Open(inspections)
		if err != nil {
			return err
		}
		t0 := time.Now()
		n, err := supervise.New(st).LoadInspectionsCSV(ctx, file, "demo")
		file.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", inspections, err)
		}
		fmt.Fprintf(out, "%-20s %7d inserted  (%.1f s)\n", "inspections", n, time.Since(t0).Seconds())
	}
	// licences: after the enterprises, whose USCCs they name.
	if licences != "" {
		file, err := os.Open(licences)
		if err != nil {
			return err
		}
		res, err := dossier.New(st).LoadLicencesCSV(ctx, file, "demo")
		file.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", licences, err)
		}
		fmt.Fprintf(out, "%-20s %7d inserted %7d updated\n", "licences", res.Inserted, res.Updated)
	}
	// The joint-control zone: after the areas it names.
	if err := loadZones(ctx, st, out); err != nil {
		return err
	}
	// Freshly loaded tables have no planner statistics until autovacuum comes by; without
	// them the grid audit's plans are off by orders of magnitude (30 s instead of seconds).
	if _, err := st.DB(pg.Key{}).Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
