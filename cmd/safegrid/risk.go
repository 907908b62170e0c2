package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/risk"
)

// newRiskCmd is `safegrid risk`: the regional risk assessment 区域风险评估 (docs/RISK.md).
func newRiskCmd(o *options) *cobra.Command {
	r := &cobra.Command{Use: "risk", Short: "The regional risk assessment: recompute the four-colour risk map"}
	var asOf string
	re := &cobra.Command{
		Use:   "recompute",
		Short: "Compute the risk index now and store it as a new snapshot (trigger manual)",
		Long: "Computes the risk index of every cell, community, street and district with the configuration in force\n" +
			"and stores it as a new snapshot, in one transaction: a failure leaves the previous snapshot the latest\n" +
			"(the attempt and its error are in risk_runs). While another recompute runs it fails at once (busy).\n" +
			"--as-of YYYY-MM-DD computes the index as of the end of that Asia/Shanghai day (hazards open then,\n" +
			"enterprise risk levels then; everything else as now), to back-fill history.",
		Args: cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			req := risk.Request{Trigger: risk.TriggerManual, By: cliActor()}
			if asOf != "" {
				d, err := time.ParseInLocation(time.DateOnly, asOf, grid.ShanghaiZone())
				if err != nil {
					return fmt.Errorf("--as-of: want YYYY-MM-DD: %w", err)
				}
				req.AsOf = d.AddDate(0, 0, 1).Add(-time.Millisecond)
			}
			sn, err := risk.New(st).Recompute(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "risk snapshot %d taken on %s: %d cells in %d ms\n", sn.ID, sn.TakenOn, sn.Cells, sn.DurationMS)
			printColours(cmd, sn)
			return nil
		}),
	}
	re.Flags().StringVar(&asOf, "as-of", "", "compute as of the end of this Asia/Shanghai date (YYYY-MM-DD; default now)")
	r.AddCommand(re)
	return r
}

// printColours prints a snapshot's areas and cells by colour per level.
func printColours(cmd *cobra.Command, sn risk.Snapshot) {
	by, _ := sn.Summary["colours"].(map[string]map[string]int)
	for _, lv := range risk.Levels() {
		fmt.Fprintf(cmd.OutOrStdout(), "  %-9s", lv)
		for _, c := range risk.Colours() {
			fmt.Fprintf(cmd.OutOrStdout(), " %s %d", c, by[lv][string(c)])
		}
		fmt.Fprintln(cmd.OutOrStdout())
	}
}
