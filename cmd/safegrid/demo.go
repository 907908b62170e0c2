package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/demo"
	"safegrid/grid/risk"
)

// DemoPassword is every demo user's password; the README and `make run` print it.
const DemoPassword = demo.Password

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
			loaded, err := demo.Loaded(ctx, st)
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
			if err := demo.Load(ctx, st, dir, m, out); err != nil {
				return err
			}
			if err := backfillRisk(cmd, st); err != nil {
				return err
			}
			if err := demo.MarkLoaded(ctx, st); err != nil {
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

func printLogins(ctx context.Context, st *grid.Store, out io.Writer) error {
	street, officer, district := demo.SampleLogins(ctx, st)
	fmt.Fprintf(out, "demo logins (password %q for all):\n", DemoPassword)
	fmt.Fprintf(out, "  admin      admin\n  planner    planner\n")
	if district != "" {
		fmt.Fprintf(out, "  district   %s  (one district_<code> per district: 金山区 district_310116, 奉贤区 district_310120)\n", district)
	}
	if street != "" {
		fmt.Fprintf(out, "  street     %s  (one street_<code> per street)\n", street)
	}
	if officer != "" {
		fmt.Fprintf(out, "  officer    %s  (one officer_<unit code> per grid unit)\n", officer)
	}
	return nil
}

// riskBackfillMonths is how many monthly risk snapshots the demo back-fills.
const riskBackfillMonths = 4

// backfillRisk computes the risk index (trigger demo) as of the first of each of the four
// months up to the demo's reference date (00:00 Asia/Shanghai), so the map has a trend;
// a month that already has a demo snapshot (safegrid demo --force) is skipped.
func backfillRisk(cmd *cobra.Command, st *grid.Store) error {
	ctx := cmd.Context()
	svc := risk.New(st)
	have, err := svc.Snapshots(ctx, 1000, 0)
	if err != nil {
		return err
	}
	ref := demo.ReferenceDate
	first := time.Date(ref.Year(), ref.Month(), 1, 0, 0, 0, 0, grid.ShanghaiZone())
	for i := riskBackfillMonths - 1; i >= 0; i-- {
		at := first.AddDate(0, -i, 0)
		day := at.Format(time.DateOnly)
		if slices.ContainsFunc(have.Snapshots, func(s risk.SnapshotItem) bool { return s.Trigger == risk.TriggerDemo && s.TakenOn == day }) {
			continue
		}
		t0 := time.Now()
		sn, err := svc.Recompute(ctx, risk.Request{Trigger: risk.TriggerDemo, By: "demo", AsOf: at})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%-20s %7d cells   as of %s  (%.1f s)\n", "risk snapshot", sn.Cells, day, time.Since(t0).Seconds())
	}
	return nil
}
