package grid

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"safegrid/grid/internal/pg"
)

// roles a user can have.
var roles = []string{RoleAdmin, RolePlanner, RoleDistrict, RoleStreet, RoleOfficer}

// Roles are the roles a user can have.
func Roles() []string { return slices.Clone(roles) }

// User is a person who signs in: admin 管理员, planner 规划, district safety bureau 区安监局,
// street office 街道办 or grid officer 网格员.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	Role         string
	StreetCode   string     // for the street role only
	DistrictCode string     // for the district role only: the 6-digit district it sees
	Units        []string   // the codes of the grid units assigned to an officer (grid/supervise manages them)
	Disabled     bool       // a disabled user cannot sign in; a removed user is disabled too
	CreatedAt    time.Time  //
	LastLoginAt  *time.Time // the last login that gave a bearer token; nil: never (Basic requests do not count)
	Sessions     int        // live sessions: neither expired nor revoked
}

// The password rules, checked wherever a password is set (AddUser, SetPassword,
// ChangePassword): at least MinPasswordLength characters, at most 72 bytes (bcrypt reads
// no more), and not made of the user name: with every occurrence of the name taken out
// (ignoring case), MinPasswordLength characters must remain. So "wang" and
// "Wang2024wang" are refused for wang, "wang-reads-maps" is not.
const MinPasswordLength = 8

const maxPasswordBytes = 72

// GeneratePassword returns a strong random password: 26 characters of base32 (A-Z, 2-7)
// from crypto/rand, 130 bits. It is shown once to whoever asked for it and never stored.
func GeneratePassword() string { return rand.Text() }

// passwordProblem is why password cannot be username's password, or nil.
func passwordProblem(field, username, password string) *InvalidError {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return &InvalidError{Field: field, Reason: fmt.Sprintf("must have at least %d characters", MinPasswordLength)}
	case len(password) > maxPasswordBytes:
		return &InvalidError{Field: field, Reason: fmt.Sprintf("must have at most %d bytes", maxPasswordBytes)}
	case username != "" && utf8.RuneCountInString(strings.ReplaceAll(strings.ToLower(password), strings.ToLower(username), "")) < MinPasswordLength:
		return &InvalidError{Field: field, Reason: fmt.Sprintf("must not be the user name or little more: without the name, %d characters must remain", MinPasswordLength)}
	}
	return nil
}

// HashPassword hashes a password for storage. It checks only the length; the rules that
// need the user name are checked where a user's password is set.
func HashPassword(password string) (string, error) {
	if p := passwordProblem("password", "", password); p != nil {
		return "", p
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

var (
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{2,64}$`) // users.username's CHECK
	streetRE   = regexp.MustCompile(`^[0-9]{9}$`)
	districtRE = regexp.MustCompile(`^[0-9]{6}$`)
)

const maxDisplayName = 100

// text checks free text from a client: valid UTF-8, no control characters (PostgreSQL
// refuses NUL), at most most characters.
func text(field, v string, most int) *InvalidError {
	if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &InvalidError{Field: field, Reason: "must be text without control characters"}
	}
	if utf8.RuneCountInString(v) > most {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("must have at most %d characters", most)}
	}
	return nil
}

// fieldErrors collects refused fields; err is nil when there are none.
type fieldErrors []InvalidError

func (f *fieldErrors) add(e *InvalidError) {
	if e != nil {
		*f = append(*f, *e)
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &InvalidFieldsError{Errors: f}
}

// existsError is a username that is taken. It is ErrDuplicate, and ErrConflict too, whose
// message the API shows as it is.
type existsError struct {
	name    string
	removed bool
}

func (e *existsError) Error() string {
	if e.removed {
		return fmt.Sprintf("user '%s' was removed; a removed user's name stays taken, so that their history names one person", e.name)
	}
	return fmt.Sprintf("user '%s' already exists", e.name)
}

func (e *existsError) Is(target error) bool { return target == ErrDuplicate || target == ErrConflict }

func noUser(name string) error { return &NotFoundError{What: "user", Key: name} }

// checkRoleArea checks a role and the area that goes with it: a street office has a
// loaded street (street_code), a district bureau a loaded district (district_code), and
// no other role has either.
func (s *Store) checkRoleArea(ctx context.Context, fe *fieldErrors, role, street, district string) error {
	if !slices.Contains(roles, role) {
		fe.add(&InvalidError{Field: "role", Reason: fmt.Sprintf("%q is not one of %s", role, strings.Join(roles, ", "))})
		return nil
	}
	switch {
	case role == RoleStreet && street == "":
		fe.add(&InvalidError{Field: "street_code", Reason: "is required for the role street: the street the office sees"})
	case role != RoleStreet && street != "":
		fe.add(&InvalidError{Field: "street_code", Reason: "only a street office user (role street) has a street"})
	case street != "":
		if err := s.checkStreet(ctx, fe, "street_code", street); err != nil {
			return err
		}
	}
	switch {
	case role == RoleDistrict && district == "":
		fe.add(&InvalidError{Field: "district_code", Reason: "is required for the role district: the district the bureau sees"})
	case role != RoleDistrict && district != "":
		fe.add(&InvalidError{Field: "district_code", Reason: "only a district bureau user (role district) has a district"})
	case district != "":
		return s.checkDistrict(ctx, fe, "district_code", district)
	}
	return nil
}

// checkDistrict refuses anything but the code of a loaded district (an area of level
// district: a street's or community's code is refused too).
func (s *Store) checkDistrict(ctx context.Context, fe *fieldErrors, field, code string) error {
	if !districtRE.MatchString(code) {
		fe.add(&InvalidError{Field: field, Reason: "must be a 6-digit district code"})
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM areas WHERE code = $1 AND level = 'district'`, code).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		fe.add(&InvalidError{Field: field, Reason: fmt.Sprintf("%s is not a loaded district", code)})
	}
	return nil
}

// checkStreet refuses anything but the code of a loaded street.
func (s *Store) checkStreet(ctx context.Context, fe *fieldErrors, field, code string) error {
	if !streetRE.MatchString(code) {
		fe.add(&InvalidError{Field: field, Reason: "must be a 9-digit street code"})
		return nil
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM areas WHERE code = $1 AND level = 'street'`, code).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		fe.add(&InvalidError{Field: field, Reason: fmt.Sprintf("%s is not a loaded street", code)})
	}
	return nil
}

// AddUser creates a user and records it in the audit log, both or neither. The fields are
// checked (InvalidFieldsError naming username, display_name, role, street_code,
// district_code, password);
// a taken username, a removed user's included, is ErrDuplicate ("user 'wang' already
// exists").
func (s *Store) AddUser(ctx context.Context, actor string, u User, password string) (int64, error) {
	var fe fieldErrors
	if !usernameRE.MatchString(u.Username) {
		fe.add(&InvalidError{Field: "username", Reason: "must be 2 to 64 letters, digits, '.', '_' or '-'"})
	}
	fe.add(text("display_name", u.DisplayName, maxDisplayName))
	if err := s.checkRoleArea(ctx, &fe, u.Role, u.StreetCode, u.DistrictCode); err != nil {
		return 0, err
	}
	fe.add(passwordProblem("password", u.Username, password))
	if err := fe.err(); err != nil {
		return 0, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.WriteTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (username, display_name, role, street_code, district_code, password_hash)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING RETURNING id`,
			u.Username, u.DisplayName, u.Role, orNull(u.StreetCode), orNull(u.DistrictCode), hash).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			var removed bool
			if err := tx.QueryRow(ctx, `SELECT removed_at IS NOT NULL FROM users WHERE username = $1`, u.Username).Scan(&removed); err != nil {
				return err
			}
			return &existsError{name: u.Username, removed: removed}
		}
		if err != nil {
			return err
		}
		details := map[string]any{"id": id, "role": u.Role, "street_code": u.StreetCode, "district_code": u.DistrictCode, "display_name": u.DisplayName}
		return s.Audit(ctx, tx, actor, "user_add", u.Username, details)
	})
	return id, err
}

// userSQL reads users as scanUser scans them; removed users are left out. The units and
// live sessions are joined as grouped tables (not correlated subqueries: Citus refuses
// those over reference tables).
const userSQL = `SELECT u.id, u.username, u.display_name, u.role, coalesce(u.street_code, ''), coalesce(u.district_code, ''), coalesce(g.units, '{}'),
       u.disabled, u.created_at, u.last_login_at, coalesce(s.n, 0)
  FROM users u
  LEFT JOIN (SELECT officer_id, array_agg(code ORDER BY code) AS units FROM grid_units
              WHERE officer_id IS NOT NULL GROUP BY officer_id) g ON g.officer_id = u.id
  LEFT JOIN (SELECT user_id, count(*)::int AS n FROM sessions
              WHERE revoked_at IS NULL AND expires_at > now() GROUP BY user_id) s ON s.user_id = u.id
 WHERE u.removed_at IS NULL`

func scanUser(row pgx.CollectableRow) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.StreetCode, &u.DistrictCode, &u.Units, &u.Disabled, &u.CreatedAt, &u.LastLoginAt, &u.Sessions)
	return u, err
}

func (s *Store) oneUser(ctx context.Context, cond string, arg any, key string) (*User, error) {
	rows, err := s.pool.Query(ctx, userSQL+" AND "+cond, arg)
	if err != nil {
		return nil, err
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, noUser(key)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// User returns one user (without the password hash); a removed user is not found.
func (s *Store) User(ctx context.Context, id int64) (*User, error) {
	return s.oneUser(ctx, "u.id = $1", id, strconv.FormatInt(id, 10))
}

// UserByName returns the user of a username; a removed user is not found (NotFoundError).
func (s *Store) UserByName(ctx context.Context, username string) (*User, error) {
	if !usernameRE.MatchString(username) {
		return nil, noUser(username) // no such user can exist; and PostgreSQL never sees a NUL
	}
	return s.oneUser(ctx, "u.username = $1", username, username)
}

// UserFilter selects users for Users; zero fields select everyone who is not removed.
type UserFilter struct {
	Role     string // one of Roles
	Street   string // 9-digit code: that street's office users and the officers of its grid units
	District string // 6-digit code: that district's bureau users, the office users of its streets and the officers of its grid units
	Unit     string // the officer of this grid unit
	Disabled *bool
	Query    string // a substring of the username or display name, ignoring case
	Limit    int    // 0: 100
	Offset   int
}

const userFilterSQL = `
   AND ($1 = '' OR u.role = $1)
   AND ($2 = '' OR u.street_code = $2 OR u.id IN (SELECT officer_id FROM grid_units WHERE street_code = $2 AND officer_id IS NOT NULL))
   AND ($3 = '' OR $3 = ANY (g.units))
   AND ($4::boolean IS NULL OR u.disabled = $4)
   AND ($5 = '' OR strpos(lower(u.username), lower($5)) > 0 OR strpos(lower(u.display_name), lower($5)) > 0)
   AND ($6 = '' OR u.district_code = $6 OR left(u.street_code, 6) = $6
        OR u.id IN (SELECT officer_id FROM grid_units WHERE left(street_code, 6) = $6 AND officer_id IS NOT NULL))`

// Users lists the users f selects by username, a page of them and how many there are in
// all. A filter value that cannot match anything real (an unknown role, street, district
// or unit) is an InvalidFieldsError naming the query parameter (role, street, district,
// unit, q), not an empty list.
func (s *Store) Users(ctx context.Context, f UserFilter) ([]User, int, error) {
	var fe fieldErrors
	if f.Role != "" && !slices.Contains(roles, f.Role) {
		fe.add(&InvalidError{Field: "role", Reason: fmt.Sprintf("%q is not one of %s", f.Role, strings.Join(roles, ", "))})
	}
	if f.Street != "" {
		if err := s.checkStreet(ctx, &fe, "street", f.Street); err != nil {
			return nil, 0, err
		}
	}
	if f.District != "" {
		if err := s.checkDistrict(ctx, &fe, "district", f.District); err != nil {
			return nil, 0, err
		}
	}
	if f.Unit != "" {
		if e := text("unit", f.Unit, 64); e != nil {
			fe.add(e)
		} else {
			var n int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM grid_units WHERE code = $1`, f.Unit).Scan(&n); err != nil {
				return nil, 0, err
			}
			if n == 0 {
				fe.add(&InvalidError{Field: "unit", Reason: fmt.Sprintf("there is no grid unit %q", f.Unit)})
			}
		}
	}
	fe.add(text("q", f.Query, maxDisplayName))
	if err := fe.err(); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	args := []any{f.Role, f.Street, f.Unit, f.Disabled, f.Query, f.District}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (`+userSQL+userFilterSQL+`) f`, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, userSQL+userFilterSQL+` ORDER BY u.username LIMIT $7 OFFSET $8`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	users, err := pgx.CollectRows(rows, scanUser)
	return users, total, err
}

// userRow is a user's row as a change reads it, locked.
type userRow struct {
	id       int64
	role     string
	street   *string
	district *string
	disabled bool
	hash     string
}

// changeUser runs fn in a write transaction with username's row locked; a missing or
// removed user is a NotFoundError.
func (s *Store) changeUser(ctx context.Context, username string, fn func(tx pgx.Tx, u *userRow) error) error {
	if !usernameRE.MatchString(username) {
		return noUser(username)
	}
	return s.WriteTx(ctx, func(tx pgx.Tx) error {
		var u userRow
		err := tx.QueryRow(ctx, `SELECT id, role, street_code, district_code, disabled, password_hash FROM users
WHERE username = $1 AND removed_at IS NULL FOR UPDATE`, username).Scan(&u.id, &u.role, &u.street, &u.district, &u.disabled, &u.hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return noUser(username)
		}
		if err != nil {
			return err
		}
		return fn(tx, &u)
	})
}

// adminsLock is the transaction-level advisory lock that changes taking an admin away
// hold while they count the others.
const adminsLock = 0x5afe_0ad1

// keepAnAdmin refuses a change that would leave no enabled admin: u, an enabled admin,
// is about to be disabled, removed or given another role. Such changes take turns (an
// advisory lock, taken after u's row lock, so two admins changing each other cannot
// deadlock), and each counts the others after the one before it committed: two at once
// cannot both pass.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, u *userRow, what string) error {
	if u.role != RoleAdmin || u.disabled {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(adminsLock)); err != nil {
		return err
	}
	var others int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1`, u.id).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return &InvalidError{Field: "username", Reason: fmt.Sprintf("this is the last enabled admin, who cannot be %s: make another admin first", what)}
	}
	return nil
}

// notSelf refuses an admin's change to their own account that could lock them out.
func notSelf(actor, username, what string) error {
	if actor == username {
		return &InvalidError{Field: "username", Reason: fmt.Sprintf("you cannot %s your own account; another admin can", what)}
	}
	return nil
}

// UserChange is what UpdateUser changes; nil fields stay as they are.
type UserChange struct {
	DisplayName *string
	Role        *string
	StreetCode  *string // for the role street; cleared by itself when the role becomes another
	// DistrictCode is for the role district; cleared by itself when the role becomes another.
	DistrictCode *string
}

// UpdateUser changes a user's display name, role, street and district, and audits it. A
// role other than street clears the street, a role other than district the district (a
// change to street or district needs its code, sent or already held); a role other than
// officer leaves the user's grid
// units without an officer (they are listed in the audit record). An admin cannot change
// their own role, and the last enabled admin keeps theirs.
func (s *Store) UpdateUser(ctx context.Context, actor, username string, ch UserChange) (*User, error) {
	err := s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		var fe fieldErrors
		display := ch.DisplayName
		if display != nil {
			fe.add(text("display_name", *display, maxDisplayName))
		}
		role, street, district := u.role, "", ""
		if u.street != nil {
			street = *u.street
		}
		if u.district != nil {
			district = *u.district
		}
		if ch.Role != nil {
			role = *ch.Role
			if role != RoleStreet && ch.StreetCode == nil {
				street = ""
			}
			if role != RoleDistrict && ch.DistrictCode == nil {
				district = ""
			}
		}
		if ch.StreetCode != nil {
			street = *ch.StreetCode
		}
		if ch.DistrictCode != nil {
			district = *ch.DistrictCode
		}
		if err := s.checkRoleArea(ctx, &fe, role, street, district); err != nil {
			return err
		}
		if err := fe.err(); err != nil {
			return err
		}
		if role != u.role {
			if err := notSelf(actor, username, "change the role of"); err != nil {
				return err
			}
			if err := keepAnAdmin(ctx, tx, u, "given another role"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET display_name = coalesce($2, display_name), role = $3, street_code = $4, district_code = $5 WHERE id = $1`,
			u.id, display, role, orNull(street), orNull(district)); err != nil {
			return err
		}
		details := map[string]any{"role": role, "street_code": street, "district_code": district}
		if display != nil {
			details["display_name"] = *display
		}
		if u.role == RoleOfficer && role != RoleOfficer {
			units, err := unassignAll(ctx, tx, u.id)
			if err != nil {
				return err
			}
			if len(units) > 0 {
				details["units_unassigned"] = units
			}
		}
		return s.Audit(ctx, tx, actor, "user_update", username, details)
	})
	if err != nil {
		return nil, err
	}
	return s.UserByName(ctx, username)
}

// unassignAll leaves the grid units of user without an officer and returns their codes.
func unassignAll(ctx context.Context, tx pgx.Tx, user int64) ([]string, error) {
	rows, err := tx.Query(ctx, `UPDATE grid_units SET officer_id = NULL, updated_at = now() WHERE officer_id = $1 RETURNING code`, user)
	if err != nil {
		return nil, err
	}
	units, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(units)
	return units, err
}

// revokeSessions revokes every live session of user but keep (a token's hash; nil for
// none) and returns how many.
func revokeSessions(ctx context.Context, tx pgx.Tx, user int64, keep []byte) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now()
WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND ($2::bytea IS NULL OR token_hash <> $2)`, user, keep)
	return tag.RowsAffected(), err
}

// SetUserDisabled disables or enables a user, and audits it. Disabling revokes the user's
// sessions and raises their credentials version, so neither a token nor remembered Basic
// credentials work on the next request; enabling does not bring the sessions back. An
// admin cannot disable themselves, and the last enabled admin cannot be disabled.
func (s *Store) SetUserDisabled(ctx context.Context, actor, username string, disabled bool) (*User, error) {
	err := s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		if u.disabled == disabled {
			return nil // already so: nothing to write or audit
		}
		action, details := "user_enable", map[string]any{}
		if disabled {
			if err := notSelf(actor, username, "disable"); err != nil {
				return err
			}
			if err := keepAnAdmin(ctx, tx, u, "disabled"); err != nil {
				return err
			}
			n, err := revokeSessions(ctx, tx, u.id, nil)
			if err != nil {
				return err
			}
			action, details["sessions_revoked"] = "user_disable", n
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET disabled = $2, credentials_version = credentials_version + 1 WHERE id = $1`, u.id, disabled); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, action, username, details)
	})
	if err != nil {
		return nil, err
	}
	return s.UserByName(ctx, username)
}

// RemoveUser removes a user, keeping their history: it is a soft delete. The row stays
// (removed_at set, disabled), so the hazards they reported, their inspections and the
// audit rows naming them stay intact and still name them; their sessions are revoked and
// their grid units left without an officer. The username stays taken: adding it again is
// ErrDuplicate, so a name in the history always means one person. A removed user is not
// listed and not found by UserByName. An admin cannot remove themselves, and the last
// enabled admin cannot be removed.
func (s *Store) RemoveUser(ctx context.Context, actor, username string) error {
	return s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		if err := notSelf(actor, username, "remove"); err != nil {
			return err
		}
		if err := keepAnAdmin(ctx, tx, u, "removed"); err != nil {
			return err
		}
		n, err := revokeSessions(ctx, tx, u.id, nil)
		if err != nil {
			return err
		}
		var units []string
		if u.role == RoleOfficer { // an empty UPDATE of grid_units would still move the grid's data version
			if units, err = unassignAll(ctx, tx, u.id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET removed_at = now(), disabled = true, credentials_version = credentials_version + 1
WHERE id = $1`, u.id); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "user_remove", username, map[string]any{"sessions_revoked": n, "units_unassigned": units})
	})
}

// SetPassword gives a user a new password (an admin's reset) and revokes all their
// sessions; remembered Basic credentials stop working on the next request too.
func (s *Store) SetPassword(ctx context.Context, actor, username, password string) error {
	if p := passwordProblem("password", username, password); p != nil {
		return &InvalidFieldsError{Errors: []InvalidError{*p}}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		n, err := setHash(ctx, tx, u.id, hash, nil)
		if err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "user_password_reset", username, map[string]any{"sessions_revoked": n})
	})
}

// setHash stores a new password hash, raises the credentials version and revokes the
// sessions but keep's.
func setHash(ctx context.Context, tx pgx.Tx, user int64, hash string, keep []byte) (int64, error) {
	if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, credentials_version = credentials_version + 1 WHERE id = $1`, user, hash); err != nil {
		return 0, err
	}
	return revokeSessions(ctx, tx, user, keep)
}

// ChangePassword is a user changing their own password: old must be their current one
// (else an InvalidFieldsError naming old_password; never ErrBadCredentials, which would
// sign the caller out), new_password must follow the rules and differ from it. The
// caller's other sessions are revoked; token, the session making the change, stays
// (empty for none).
func (s *Store) ChangePassword(ctx context.Context, p *Principal, token, old, newPassword string) error {
	var fe fieldErrors
	if old == "" {
		fe.add(&InvalidError{Field: "old_password", Reason: "is required"})
	}
	fe.add(passwordProblem("new_password", p.Username, newPassword))
	if err := fe.err(); err != nil {
		return err
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return err
	}
	var keep []byte
	if token != "" {
		keep = hashToken(token)
	}
	return s.changeUser(ctx, p.Username, func(tx pgx.Tx, u *userRow) error {
		if u.id != p.UserID {
			return noUser(p.Username)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.hash), []byte(old)) != nil {
			return &InvalidFieldsError{Errors: []InvalidError{{Field: "old_password", Reason: "is not your current password"}}}
		}
		if old == newPassword {
			return &InvalidFieldsError{Errors: []InvalidError{{Field: "new_password", Reason: "is your current password; choose another"}}}
		}
		n, err := setHash(ctx, tx, u.id, hash, keep)
		if err != nil {
			return err
		}
		return s.Audit(ctx, tx, p.Actor(), "password_change", p.Username, map[string]any{"sessions_revoked": n})
	})
}

// LoadUsersCSV adds the users of a CSV file (username,role,street_code,district_code,
// display_name; a file without the district_code column, as written before the district
// role, is read too), all with the same password hash; users that exist already are left
// as they are. It returns how many it added.
func (s *Store) LoadUsersCSV(ctx context.Context, r io.Reader, passwordHash string) (int, error) {
	recs, err := readCSVOf(r, []string{"username", "role", "street_code", "district_code", "display_name"},
		[]string{"username", "role", "street_code", "display_name"})
	if err != nil {
		return 0, fmt.Errorf("users: %w", err)
	}
	batch := &pgx.Batch{}
	for _, rec := range recs {
		district := ""
		if len(rec) == 5 {
			district, rec = rec[3], append(rec[:3:3], rec[4])
		}
		batch.Queue(`INSERT INTO users (username, role, street_code, district_code, display_name, password_hash)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING`, rec[0], rec[1], orNull(rec[2]), orNull(district), rec[3], passwordHash)
	}
	var n int
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := pg.LockForWrite(ctx, tx, []string{"users"}); err != nil {
			return err
		}
		n, err = runBatch(ctx, tx, batch, "users")
		return err
	})
	return n, err
}

// orNull is an optional text value to bind: nil (NULL) when empty.
func orNull(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// LoadGridCSV loads grid units (code,name,street_code,officer) and their cells
// (h3,unit_code, the cell as an H3 hex string). A unit or cell loaded before is updated.
func (s *Store) LoadGridCSV(ctx context.Context, units, cells io.Reader) (int, int, error) {
	urecs, err := readCSV(units, "code", "name", "street_code", "officer")
	if err != nil {
		return 0, 0, fmt.Errorf("grid units: %w", err)
	}
	crecs, err := readCSV(cells, "h3", "unit_code")
	if err != nil {
		return 0, 0, fmt.Errorf("grid cells: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := pg.LockForWrite(ctx, tx, []string{"grid_units", "grid_cells"}); err != nil {
		return 0, 0, err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE unit_stage (code text, name text, street_code text, officer text) ON COMMIT DROP`); err != nil {
		return 0, 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"unit_stage"}, []string{"code", "name", "street_code", "officer"},
		pgx.CopyFromSlice(len(urecs), func(i int) ([]any, error) {
			r := urecs[i]
			return []any{r[0], r[1], r[2], r[3]}, nil
		})); err != nil {
		return 0, 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id)
SELECT u.code, u.name, u.street_code, o.id FROM unit_stage u LEFT JOIN users o ON o.username = u.officer
ON CONFLICT (code) DO UPDATE SET name = excluded.name, street_code = excluded.street_code,
       officer_id = excluded.officer_id, updated_at = now()`); err != nil {
		return 0, 0, fmt.Errorf("grid units: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE cell_stage (h3 bigint, unit_code text) ON COMMIT DROP`); err != nil {
		return 0, 0, err
	}
	var bad error
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cell_stage"}, []string{"h3", "unit_code"},
		pgx.CopyFromSlice(len(crecs), func(i int) ([]any, error) {
			c, err := ParseCell(crecs[i][0])
			if err != nil {
				bad = fmt.Errorf("grid cells row %d: %w", i+1, err)
				return nil, bad
			}
			return []any{c, crecs[i][1]}, nil
		})); err != nil {
		if bad != nil {
			return 0, 0, bad
		}
		return 0, 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code)
SELECT left(u.street_code, 6), c.h3, c.unit_code FROM cell_stage c JOIN grid_units u ON u.code = c.unit_code
ON CONFLICT (district_code, h3) DO UPDATE SET unit_code = excluded.unit_code`); err != nil {
		return 0, 0, fmt.Errorf("grid cells: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, err
	}
	return len(urecs), len(crecs), nil
}

func runBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, what string) (int, error) {
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	n := 0
	for i := 0; i < b.Len(); i++ {
		tag, err := br.Exec()
		if err != nil {
			return n, fmt.Errorf("%s row %d: %w", what, i+1, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, br.Close()
}

// readCSV reads a CSV file whose header is exactly cols.
func readCSV(r io.Reader, cols ...string) ([][]string, error) {
	return readCSVOf(r, cols)
}

// readCSVOf reads a CSV file whose header is exactly one of headers (the first is the
// current one, named in the error); every row has its header's length.
func readCSVOf(r io.Reader, headers ...[]string) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		for _, cols := range headers {
			if !slices.Equal(recs[0], cols) {
				continue
			}
			for i, rec := range recs[1:] {
				if len(rec) != len(cols) {
					return nil, fmt.Errorf("record on line %d: wrong number of fields", i+2)
				}
			}
			return recs[1:], nil
		}
	}
	return nil, fmt.Errorf("want the header %s", strings.Join(headers[0], ","))
}
