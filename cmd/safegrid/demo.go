package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/demo"
)

// DemoPassword is every demo user's password; the README and `make run` print it.
const DemoPassword = "safegrid-demo"

func newDemoCmd(o *options) *cobra.Command {
	var force bool
	var dir string
	cmd := &cobra.Command{
		Use:   "demo [--force]",
		Short: "Load the demo city (about 20,000 enterprises) unless it is loaded already",
		Args:  cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			loaded, err := demoLoaded(ctx, st)
			if err != nil {
				return err
			}
			if loaded && !force {
				fmt.Fprintln(out, "demo data already loaded (safegrid demo --force loads it again, updating in place)")
				return printLogins(ctx, st, out)
			}
			start := time.Now()
			if dir == "" {
				tmp, err := os.MkdirTemp("", "safegrid-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			m, err := demo.Generate(demo.Options{Scale: 1, Seed: 1, OutDir: dir})
			if err != nil {
				return err
			}
			if err := loadDataSet(ctx, st, dir, m, out); err != nil {
				return err
			}
			if _, err := st.Pool.Exec(ctx, `INSERT INTO audit_log (actor, action, target) VALUES ('cli', 'demo', 'loaded')`); err != nil {
				return err
			}
			fmt.Fprintf(out, "demo loaded in %.1f s\n", time.Since(start).Seconds())
			return printLogins(ctx, st, out)
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "load even when the demo is loaded already (rows are updated, not duplicated)")
	cmd.Flags().StringVar(&dir, "dir", "", "keep the generated files in this folder")
	return cmd
}

func demoLoaded(ctx context.Context, st *grid.Store) (bool, error) {
	var n int
	err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'demo'`).Scan(&n)
	return n > 0, err
}

// loadDataSet imports every file of a generated data set in manifest order.
func loadDataSet(ctx context.Context, st *grid.Store, dir string, m *demo.Manifest, out io.Writer) error {
	var units, cells string
	for _, f := range m.Files {
		path := filepath.Join(dir, f.Path)
		switch f.Kind {
		case "users":
			hash, err := grid.HashPassword(DemoPassword)
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
		default:
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			t0 := time.Now()
			res, err := st.Import(ctx, file, grid.ImportOptions{Kind: f.Kind, Format: grid.Format(f.Format), Actor: "demo"})
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
	// Freshly loaded tables have no planner statistics until autovacuum comes by; without
	// them the grid audit's plans are off by orders of magnitude (30 s instead of seconds).
	if _, err := st.Pool.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

func printLogins(ctx context.Context, st *grid.Store, out io.Writer) error {
	var street, officer string
	_ = st.Pool.QueryRow(ctx, `SELECT username FROM users WHERE role = 'street' ORDER BY street_code LIMIT 1`).Scan(&street)
	_ = st.Pool.QueryRow(ctx, `SELECT u.username FROM users u JOIN grid_units g ON g.officer_id = u.id ORDER BY g.code LIMIT 1`).Scan(&officer)
	fmt.Fprintf(out, "demo logins (password %q for all):\n", DemoPassword)
	fmt.Fprintf(out, "  admin      admin\n  planner    planner\n")
	if street != "" {
		fmt.Fprintf(out, "  street     %s  (one street_<code> per street)\n", street)
	}
	if officer != "" {
		fmt.Fprintf(out, "  officer    %s  (one officer_<unit code> per grid unit)\n", officer)
	}
	return nil
}
