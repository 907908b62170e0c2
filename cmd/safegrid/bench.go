package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid/demo"
)

// newBenchCmd groups the benchmark helpers scripts/bench-*.sh run.
func newBenchCmd(o *options) *cobra.Command {
	b := &cobra.Command{Use: "bench", Short: "Benchmark helpers (scripts/bench-api.sh runs them)", Hidden: true}
	b.AddCommand(newBenchLoadCmd(o), newBenchAPICmd(o))
	return b
}

// newBenchLoadCmd loads a data set written by `safegrid generate` the way the demo loads
// its own: every kind, users with the demo password, grid units assigned to their officers.
func newBenchLoadCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "load DIR",
		Short: "Load a generated data set (DIR/manifest.json), users with the demo password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(filepath.Join(args[0], "manifest.json"))
			if err != nil {
				return err
			}
			var m demo.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("manifest.json: %w", err)
			}
			st, err := o.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			if err := demo.Load(cmd.Context(), st, args[0], &m, cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scale %g loaded in %.1f s\n", m.Scale, time.Since(start).Seconds())
			return nil
		},
	}
}
