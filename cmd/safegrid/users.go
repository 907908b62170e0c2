package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"safegrid/grid"
)

const passwordHelp = `Passwords are never taken from the command line, where every user of the machine can
read them (ps, shell history). At a terminal the command asks for it twice without echo;
otherwise it reads the first line of stdin:

  printf '%s\n' "$PASSWORD" | safegrid users passwd wang

Press Enter at the prompt, or give an empty stdin, and a strong password is generated
(26 random characters) and printed once; --generate does the same without asking.
Password rules: at least 8 characters, at most 72 bytes, and not the user name or little
more (with the name taken out, 8 characters must remain).`

func newUsersCmd(o *options) *cobra.Command {
	users := &cobra.Command{
		Use:   "users",
		Short: "Manage the people who sign in and their sessions",
		Long: "Manage the people who sign in (roles: admin, planner, street, officer) and their sessions.\n" +
			"Every change is written to the audit log as cli:<your OS user>.\n\n" + passwordHelp,
	}
	users.AddCommand(newUsersListCmd(o), newUsersAddCmd(o), newUsersSetCmd(o), newUsersPasswdCmd(o),
		newUsersDisableCmd(o, true), newUsersDisableCmd(o, false), newUsersRemoveCmd(o),
		newUsersSessionsCmd(o), newUsersRevokeCmd(o))
	return users
}

// flagNames renames the fields of a refused change to the flags that set them.
var flagNames = map[string]string{"display_name": "--display-name", "role": "--role", "street_code": "--street",
	"street": "--street", "district_code": "--district", "district": "--district", "unit": "--unit", "q": "--search"}

func cliError(err error) error {
	var fe *grid.InvalidFieldsError
	if !errors.As(err, &fe) {
		return err
	}
	out := &grid.InvalidFieldsError{}
	for _, e := range fe.Errors {
		if n, ok := flagNames[e.Field]; ok {
			e.Field = n
		}
		out.Errors = append(out.Errors, e)
	}
	return out
}

// refusePasswordFlag adds a hidden --password whose only use is to say why it is refused.
func refusePasswordFlag(cmd *cobra.Command) {
	cmd.Flags().String("password", "", "refused: see the help")
	_ = cmd.Flags().MarkHidden("password")
}

var errPasswordFlag = errors.New("--password is refused: a password on the command line can be read by every user of " +
	"this machine (ps, shell history); type it when asked, or give it on stdin, e.g. printf '%s\\n' \"$PASSWORD\" | safegrid users ...")

// newPassword is the password for username: generated with generate; otherwise typed at
// the terminal (twice, without echo) or the first line of stdin, generated when that is
// empty. generated says whether to print it.
func newPassword(cmd *cobra.Command, username string, generate bool) (password string, generated bool, err error) {
	if cmd.Flags().Changed("password") {
		return "", false, errPasswordFlag
	}
	if !generate {
		password, err = readPassword(cmd, username)
		if err != nil {
			return "", false, err
		}
	}
	if password == "" {
		return grid.GeneratePassword(), true, nil
	}
	return password, false, nil
}

func readPassword(cmd *cobra.Command, username string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prompt := cmd.ErrOrStderr()
		fmt.Fprintf(prompt, "New password for %s (Enter for a generated one): ", username)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil || len(first) == 0 {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(first) != string(again) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return string(first), nil
	}
	const most = 4096
	line, err := bufio.NewReader(io.LimitReader(in, most+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if len(line) > most {
		return "", errors.New("the first line of stdin is too long to be a password")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func printGenerated(cmd *cobra.Command, username, password string) {
	fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n(shown this once; hand it to %s safely)\n", password, username)
}

func newUsersListCmd(o *options) *cobra.Command {
	var f grid.UserFilter
	var disabled string
	cmd := &cobra.Command{
		Use:   "list [--role ROLE] [--street CODE] [--district CODE] [--unit CODE] [--disabled true|false] [--search TEXT]",
		Short: "List the users (removed users are not listed)",
		Args:  cobra.NoArgs,
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			if disabled != "" {
				v, err := strconv.ParseBool(disabled)
				if err != nil {
					return errors.New("--disabled must be true or false")
				}
				f.Disabled = &v
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tROLE\tSTREET\tDISTRICT\tUNITS\tDISABLED\tLAST LOGIN\tCREATED\tDISPLAY NAME")
			f.Limit = 1000
			for {
				users, total, err := st.Users(cmd.Context(), f)
				if err != nil {
					return cliError(err)
				}
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, orDash(u.StreetCode), orDash(u.DistrictCode),
						orDash(strings.Join(u.Units, ",")), yesNo(u.Disabled), when(u.LastLoginAt, "never"), when(&u.CreatedAt, ""), u.DisplayName)
				}
				f.Offset += len(users)
				if len(users) == 0 || f.Offset >= total {
					break
				}
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&f.Role, "role", "", "only this role: admin, planner, district, street or officer")
	cmd.Flags().StringVar(&f.Street, "street", "", "only this street's people: its street office users and the officers of its grid units")
	cmd.Flags().StringVar(&f.District, "district", "", "only this district's people: its bureau users, its streets' office users and the officers of its grid units")
	cmd.Flags().StringVar(&f.Unit, "unit", "", "only the officer of this grid unit")
	cmd.Flags().StringVar(&disabled, "disabled", "", "true: only disabled users; false: only enabled ones")
	cmd.Flags().StringVar(&f.Query, "search", "", "only users whose username or display name contains this (ignoring case)")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return grid.FormatTime(*t)
}

func newUsersAddCmd(o *options) *cobra.Command {
	var u grid.User
	var generate bool
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--street CODE] [--district CODE] [--display-name TEXT] [--generate]",
		Short: "Create a user (roles: admin, planner, district, street, officer)",
		Long: "Create a user. A street office user (role street) needs --street, a district safety bureau user (role\n" +
			"district, 区安监局) --district; officers get their grid units with `safegrid grid assign`.\n\n" + passwordHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			if args := cmd.Flags().Args(); len(args) == 1 {
				if u.Username != "" && u.Username != args[0] {
					return errors.New("give the name once: as the argument or with --name")
				}
				u.Username = args[0]
			}
			if u.Username == "" {
				return errors.New("name the user: safegrid users add NAME --role ROLE")
			}
			password, generated, err := newPassword(cmd, u.Username, generate)
			if err != nil {
				return err
			}
			id, err := st.AddUser(cmd.Context(), cliActor(), u, password)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (%s) created with id %d\n", u.Username, u.Role, id)
			if generated {
				printGenerated(cmd, u.Username, password)
			}
			return nil
		}),
	}
	add.Flags().StringVar(&u.Username, "name", "", "login name (or give it as the argument)")
	_ = add.Flags().MarkHidden("name")
	add.Flags().StringVar(&u.DisplayName, "display-name", "", "name shown in the UI")
	add.Flags().StringVar(&u.Role, "role", "", "admin, planner, district, street or officer")
	add.Flags().StringVar(&u.StreetCode, "street", "", "9-digit street code (street role only)")
	add.Flags().StringVar(&u.DistrictCode, "district", "", "6-digit district code (district role only)")
	add.Flags().BoolVar(&generate, "generate", false, "generate a strong password and print it once, without asking")
	refusePasswordFlag(add)
	_ = add.MarkFlagRequired("role")
	return add
}

func newUsersSetCmd(o *options) *cobra.Command {
	var display, role, street, district string
	set := &cobra.Command{
		Use:   "set NAME [--display-name TEXT] [--role ROLE] [--street CODE] [--district CODE]",
		Short: "Change a user's display name, role, street or district",
		Long: "Change a user's display name, role, street or district; what is not given stays. A role other than street\n" +
			"clears the street, a role other than district the district; a role other than officer leaves the user's\n" +
			"grid units without an officer.",
		Args: cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			var ch grid.UserChange
			if cmd.Flags().Changed("display-name") {
				ch.DisplayName = &display
			}
			if cmd.Flags().Changed("role") {
				ch.Role = &role
			}
			if cmd.Flags().Changed("street") {
				ch.StreetCode = &street
			}
			if cmd.Flags().Changed("district") {
				ch.DistrictCode = &district
			}
			if ch == (grid.UserChange{}) {
				return errors.New("nothing to change: give --display-name, --role, --street or --district")
			}
			u, err := st.UpdateUser(cmd.Context(), cliActor(), cmd.Flags().Arg(0), ch)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: role %s, street %s, district %s, display name %q\n", u.Username, u.Role,
				orDash(u.StreetCode), orDash(u.DistrictCode), u.DisplayName)
			return nil
		}),
	}
	set.Flags().StringVar(&display, "display-name", "", "name shown in the UI")
	set.Flags().StringVar(&role, "role", "", "admin, planner, district, street or officer")
	set.Flags().StringVar(&street, "street", "", "9-digit street code (street role only)")
	set.Flags().StringVar(&district, "district", "", "6-digit district code (district role only)")
	return set
}

func newUsersPasswdCmd(o *options) *cobra.Command {
	var generate bool
	cmd := &cobra.Command{
		Use:   "passwd NAME [--generate]",
		Short: "Set a user's password and revoke their sessions",
		Long: "Set a user's password. All their sessions are revoked, and the old password stops working at once,\n" +
			"HTTP Basic included.\n\n" + passwordHelp,
		Args: cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			name := cmd.Flags().Arg(0)
			if _, err := st.UserByName(cmd.Context(), name); err != nil {
				return err // before asking for a password nobody can be given
			}
			password, generated, err := newPassword(cmd, name, generate)
			if err != nil {
				return err
			}
			if err := st.SetPassword(cmd.Context(), cliActor(), name, password); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed; their sessions are revoked\n", name)
			if generated {
				printGenerated(cmd, name, password)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&generate, "generate", false, "generate a strong password and print it once, without asking")
	refusePasswordFlag(cmd)
	return cmd
}

func newUsersDisableCmd(o *options, disable bool) *cobra.Command {
	use, short, done := "enable NAME", "Let a disabled user sign in again (their old sessions stay revoked)", "enabled"
	if disable {
		use, short, done = "disable NAME", "Stop a user signing in; their sessions are revoked at once", "disabled"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			u, err := st.SetUserDisabled(cmd.Context(), cliActor(), cmd.Flags().Arg(0), disable)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s %s\n", u.Username, done)
			return nil
		}),
	}
}

func newUsersRemoveCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user, keeping their history",
		Long: "Remove a user. Their history stays: the hazards they reported, their inspections and the audit log\n" +
			"still name them. They are disabled, their sessions revoked, their grid units left without an officer,\n" +
			"and they are no longer listed. Their name stays taken, so it always means the same person.",
		Args: cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			name := cmd.Flags().Arg(0)
			if err := st.RemoveUser(cmd.Context(), cliActor(), name); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s removed\n", name)
			return nil
		}),
	}
}

func newUsersSessionsCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "sessions NAME",
		Short: "List a user's sessions that have not expired, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tLAST SEEN\tREVOKED")
			for offset := 0; ; {
				sessions, total, err := st.UserSessions(cmd.Context(), cmd.Flags().Arg(0), 1000, offset)
				if err != nil {
					return err
				}
				for _, s := range sessions {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.ID, when(&s.CreatedAt, ""), when(&s.ExpiresAt, ""), when(s.LastSeenAt, "-"), yesNo(s.Revoked))
				}
				offset += len(sessions)
				if len(sessions) == 0 || offset >= total {
					break
				}
			}
			return tw.Flush()
		}),
	}
}

func newUsersRevokeCmd(o *options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "revoke NAME (SESSION_ID | --all)",
		Short: "Revoke one of a user's sessions (an ID from `users sessions`) or all of them",
		Args:  cobra.RangeArgs(1, 2),
		RunE: o.withStore(func(cmd *cobra.Command, st *grid.Store) error {
			name := cmd.Flags().Arg(0)
			switch {
			case all && cmd.Flags().NArg() == 1:
				n, err := st.RevokeSessions(cmd.Context(), cliActor(), name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d session(s) of %s revoked\n", n, name)
				return nil
			case !all && cmd.Flags().NArg() == 2:
				id, err := strconv.ParseInt(cmd.Flags().Arg(1), 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("%q is not a session id: give a number from `safegrid users sessions %s`", cmd.Flags().Arg(1), name)
				}
				if err := st.RevokeSession(cmd.Context(), cliActor(), name, id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "session %d of %s revoked\n", id, name)
				return nil
			default:
				return errors.New("give either a session id or --all")
			}
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "revoke every live session of the user")
	return cmd
}
