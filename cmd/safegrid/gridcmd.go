package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"safegrid/grid"
	"safegrid/grid/supervise"
)

func newGridCmd(o *options) *cobra.Command {
	g := &cobra.Command{Use: "grid", Short: "Assign grid units 网格 to officers"}
	var officer, unit string
	assign := &cobra.Command{
		Use:   "assign --officer NAME --unit CODE",
		Short: "Make a user with the officer role the officer of a grid unit (replacing the previous one)",
		Args:  cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			if err := supervise.New(st).AssignUnit(cmd.Context(), cliActor(), unit, officer); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "grid unit %s assigned to %s\n", unit, officer)
			return nil
		}),
	}
	assign.Flags().StringVar(&officer, "officer", "", "username of the officer")
	assign.Flags().StringVar(&unit, "unit", "", "code of the grid unit")
	_ = assign.MarkFlagRequired("officer")
	_ = assign.MarkFlagRequired("unit")

	unassign := &cobra.Command{
		Use:   "unassign --unit CODE",
		Short: "Leave a grid unit without an officer",
		Args:  cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			if err := supervise.New(st).UnassignUnit(cmd.Context(), cliActor(), unit); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "grid unit %s has no officer now\n", unit)
			return nil
		}),
	}
	unassign.Flags().StringVar(&unit, "unit", "", "code of the grid unit")
	_ = unassign.MarkFlagRequired("unit")
	g.AddCommand(assign, unassign)
	return g
}
