// Command safegrid is SafeGrid's one binary: the service, the schema, imports and the demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"safegrid/grid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "safegrid:", err)
		os.Exit(1)
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
		newAnalyzeCmd(o),
		newBenchCmd(o),
	)
	return root
}

// open connects to the database and applies the schema, so that every command works on
// a fresh database.
func (o *options) open(ctx context.Context, opts ...grid.Option) (*grid.Store, error) {
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
