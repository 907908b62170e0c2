// Command safegrid is SafeGrid's one binary: the service, the schema, imports and the demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"safegrid/grid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Getenv("SAFEGRID_CPUPROFILE"))
	err := newRoot().ExecuteContext(ctx)
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "safegrid:", err)
		os.Exit(1)
	}
}

// startProfile writes a CPU profile of the whole command to path when it is set (for
// profiling imports and analyses: go tool pprof bin/safegrid PATH); it returns the stop.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "safegrid: cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// options are the flags every subcommand shares.
type options struct {
	databaseURL string
}

func newRoot() *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:           "safegrid",
		Short:         "SafeGrid: work-safety supervision for Shanghai on H3 cells and PostGIS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL/PostGIS URL (env DATABASE_URL)")
	root.AddCommand(
		newMigrateCmd(o),
		newImportCmd(o),
		newGenerateCmd(),
		newDemoCmd(o),
		newServeCmd(o),
		newUsersCmd(o),
		newGridCmd(o),
		newLicencesCmd(o), // licences
		newRiskCmd(o),     // risk assessment
		newPhotosCmd(o),
		newAnalyzeCmd(o),
		newBenchCmd(o),
	)
	return root
}

// open connects to the database and applies the schema, so that every command works on
// a fresh database.
func (o *options) open(ctx context.Context, opts ...grid.Option) (*grid.Store, error) {
	// A command killed in the middle of an import leaves its query to the server; with
	// the check the server stops it (and frees its locks) within a second.
	opts = append([]grid.Option{grid.WithClientCheck(time.Second)}, opts...)
	st, err := grid.Open(ctx, o.databaseURL, opts...)
	if err != nil {
		if errors.Is(err, grid.ErrNoDatabase) {
			return nil, fmt.Errorf("%w (make db prints one for the project's own PostGIS)", err)
		}
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// withStore is a RunE that opens the store (migrated), hands it to run and closes it.
func (o *options) withStore(run func(cmd *cobra.Command, st *grid.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		st, err := o.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		return run(cmd, st)
	}
}

// cliActor names the person at the terminal in audit records ("cli:<os user>").
func cliActor() string { return "cli:" + currentUser() }

func newMigrateCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database schema (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := grid.Open(cmd.Context(), o.databaseURL)
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := st.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			if n == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s)\n", n)
			}
			return nil
		},
	}
}
