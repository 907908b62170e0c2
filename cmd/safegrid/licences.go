package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/dossier"
)

// newLicencesCmd is `safegrid licences`: enterprises' licences 证照 (docs/DOSSIER.md).
func newLicencesCmd(o *options) *cobra.Command {
	l := &cobra.Command{Use: "licences", Short: "Load enterprises' licences 证照 for the enterprise dossier"}
	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Load a licence CSV file, all or nothing (re-loading it changes nothing)",
		Long: "Loads a CSV file with the header " + strings.Join(dossier.LicenceColumns, ",") + ": the enterprise's USCC,\n" +
			"the licence type (" + strings.Join(dossier.LicenceTypes, ", ") + "),\n" +
			"its number, the issuing authority, and issued_on and valid_until (YYYY-MM-DD). Every bad row is listed\n" +
			"with its row and field and then nothing is written. A licence is keyed by enterprise, type and number:\n" +
			"loading it again updates its authority and dates. Audited with the actor cli:<user>.",
		Args: cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			f, err := os.Open(cmd.Flags().Arg(0))
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := dossier.New(st).LoadLicencesCSV(cmd.Context(), f, cliActor())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "licences: %d rows, %d inserted, %d updated, %d unchanged\n", res.Rows, res.Inserted, res.Updated, res.Unchanged)
			return nil
		}),
	}
	l.AddCommand(load)
	return l
}
