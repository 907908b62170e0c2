package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"safegrid/grid"
)

func newUsersCmd(o *options) *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage the people who sign in"}
	var u grid.User
	var password string
	add := &cobra.Command{
		Use:   "add --name NAME --role ROLE [--street CODE] --password PASSWORD",
		Short: "Create a user (roles: admin, planner, street, officer)",
		Args:  cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			id, err := st.AddUser(cmd.Context(), cliActor(), u, password)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (%s) created with id %d\n", u.Username, u.Role, id)
			return nil
		}),
	}
	add.Flags().StringVar(&u.Username, "name", "", "login name")
	add.Flags().StringVar(&u.DisplayName, "display-name", "", "name shown in the UI")
	add.Flags().StringVar(&u.Role, "role", "", "admin, planner, street or officer")
	add.Flags().StringVar(&u.StreetCode, "street", "", "9-digit street code (street role only)")
	add.Flags().StringVar(&password, "password", "", "password (at least 8 characters)")
	for _, f := range []string{"name", "role", "password"} {
		_ = add.MarkFlagRequired(f)
	}
	users.AddCommand(add)
	return users
}
