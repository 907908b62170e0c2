package grid

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"
)

// The roles, as stored in users.role.
const (
	RoleAdmin    = "admin"    // 管理员: imports, users, grid units, everything
	RolePlanner  = "planner"  // 规划: city-wide reading and coverage analysis
	RoleDistrict = "district" // 区安监局: one district's everything (Principal.DistrictCode)
	RoleStreet   = "street"   // 街道办: one street's hazards (Principal.StreetCode)
	RoleOfficer  = "officer"  // 网格员: the cells of the grid units assigned to them
)

// Principal is the signed-in caller of a request: who they are and what their scope is.
type Principal struct {
	UserID     int64
	Username   string
	Role       string
	StreetCode string // the street a street office sees; empty for other roles
	// DistrictCode is the district a district safety bureau user sees; empty for other roles.
	DistrictCode string
	// CredentialsVersion is the user's credentials version when CheckPassword checked
	// their password; Recheck compares it. Zero for a bearer token's caller.
	CredentialsVersion int
}

// HasRole reports whether the caller has one of roles.
func (p *Principal) HasRole(roles ...string) bool { return p != nil && slices.Contains(roles, p.Role) }

// Actor is how the caller is named in audit_log and hazard_history. CLI actors are
// "cli:<os user>"; a username cannot contain ':', so the two never collide.
func (p *Principal) Actor() string { return p.Username }

// Session is a bearer token handed out at login. Only the token's SHA-256 is stored.
type Session struct {
	Token     string
	ExpiresAt time.Time
	Principal Principal
}

// Querier runs a statement: a *pgxpool.Pool, a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// dummyHash is compared against when the username is unknown, so that a miss takes as
// long as a wrong password and timing does not reveal which usernames exist. Lazy: bcrypt
// costs tens of milliseconds and most commands never log anyone in.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user, no such password"), bcrypt.DefaultCost)
	return h
})

// CheckPassword returns the user whose username and password these are. An unknown user,
// a wrong password and a disabled or removed account all give ErrBadCredentials.
func (s *Store) CheckPassword(ctx context.Context, username, password string) (*Principal, error) {
	var p Principal
	var street, district *string
	var hash string
	var disabled bool
	if !usernameRE.MatchString(username) {
		username = "" // no such user; and PostgreSQL never sees a NUL or invalid UTF-8
	}
	err := s.pool.QueryRow(ctx, `SELECT id, username, role, street_code, district_code, password_hash, disabled, credentials_version
FROM users WHERE username = $1`, username).Scan(&p.UserID, &p.Username, &p.Role, &street, &district, &hash, &disabled, &p.CredentialsVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || disabled {
		return nil, ErrBadCredentials
	}
	p.setArea(street, district)
	return &p, nil
}

// Login checks the password and opens a session of ttl. Successful and failed logins are
// both audited; a failure returns ErrBadCredentials.
func (s *Store) Login(ctx context.Context, username, password string, ttl time.Duration) (*Session, error) {
	return s.LoginFrom(ctx, "", username, password, ttl)
}

// LoginFrom is Login for a caller at addr (the client's address, "" when unknown), which
// both audit records keep: a failed sign-in's actor is only the name the caller claimed,
// and the address is what tells an attack from the user.
func (s *Store) LoginFrom(ctx context.Context, addr, username, password string, ttl time.Duration) (*Session, error) {
	var details map[string]any
	if addr != "" {
		details = map[string]any{"addr": addr}
	}
	p, err := s.CheckPassword(ctx, username, password)
	if errors.Is(err, ErrBadCredentials) {
		if aerr := s.Audit(ctx, nil, username, "login_failed", username, details); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	sess, err := s.openSession(ctx, p, addr, ttl)
	if errors.Is(err, ErrBadCredentials) {
		// The password was reset, or the user disabled or removed, while it was checked.
		if aerr := s.Audit(ctx, nil, username, "login_failed", username, details); aerr != nil {
			return nil, aerr
		}
	}
	return sess, err
}

// openSession opens a session for p, whose password was just checked. The session is
// inserted only if the user's credentials are still those that were checked (the same
// credentials version, not disabled, not removed): a password reset, a disable or a
// removal that commits during the bcrypt compare refuses the login (ErrBadCredentials)
// rather than handing out a token the change was meant to end.
func (s *Store) openSession(ctx context.Context, p *Principal, addr string, ttl time.Duration) (*Session, error) {
	token, hash, err := newToken()
	if err != nil {
		return nil, err
	}
	sess := &Session{Token: token, Principal: *p}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Expired sessions are useless; dropping them here keeps the table small without a job.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < now() - interval '1 day'`); err != nil {
			return err
		}
		// The user's row is locked by this update, re-read if a change committed meanwhile
		// (then it no longer matches): a reset waits for this sign-in and then revokes its
		// session, or this sign-in sees the reset and is refused.
		tag, err := tx.Exec(ctx, `UPDATE users SET last_login_at = now()
 WHERE id = $1 AND credentials_version = $2 AND NOT disabled AND removed_at IS NULL`, p.UserID, p.CredentialsVersion)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrBadCredentials
		}
		if err := tx.QueryRow(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`, hash, p.UserID, ttl.Seconds()).Scan(&sess.ExpiresAt); err != nil {
			return err
		}
		details := map[string]any{"expires_at": FormatTime(sess.ExpiresAt)}
		if addr != "" {
			details["addr"] = addr
		}
		return s.Audit(ctx, tx, p.Actor(), "login", p.Username, details)
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// liveSessionSQL is the live session of token $1 and its user, as a CTE (live), with
// the session's last_seen_at brought up to date when it is a minute old or more (seen):
// one statement, and at most one write a minute per token.
const liveSessionSQL = `WITH live AS (
    SELECT s.token_hash, s.last_seen_at, u.id, u.username, u.role, u.street_code, u.district_code
      FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled),
seen AS (
    UPDATE sessions SET last_seen_at = now()
     WHERE token_hash = (SELECT token_hash FROM live WHERE last_seen_at IS NULL OR last_seen_at < now() - interval '1 minute'))
`

// Authenticate returns the caller a bearer token belongs to, or ErrInvalidToken when the
// token is unknown, expired or revoked, or its user is disabled or removed.
func (s *Store) Authenticate(ctx context.Context, token string) (*Principal, error) {
	var p Principal
	var street, district *string
	err := s.pool.QueryRow(ctx, liveSessionSQL+`SELECT id, username, role, street_code, district_code FROM live`,
		hashToken(token)).Scan(&p.UserID, &p.Username, &p.Role, &street, &district)
	return principalOf(&p, street, district, err)
}

// AuthenticateVersions is Authenticate and DataVersions in one statement (one round trip),
// for requests whose answer may be kept.
func (s *Store) AuthenticateVersions(ctx context.Context, token string) (*Principal, Versions, error) {
	var p Principal
	var street, district *string
	var today string
	var names []string
	var counts []int64
	err := s.pool.QueryRow(ctx, liveSessionSQL+`SELECT l.id, l.username, l.role, l.street_code, l.district_code, v.*
FROM live l CROSS JOIN (`+versionsSQL+`) v`,
		hashToken(token)).Scan(&p.UserID, &p.Username, &p.Role, &street, &district, &today, &names, &counts)
	pp, err := principalOf(&p, street, district, err)
	if err != nil {
		return nil, Versions{}, err
	}
	return pp, versionsOf(today, names, counts), nil
}

// Recheck returns the user whose password CheckPassword checked as p, as they are now
// (their role and street may have changed), or ErrBadCredentials when the user has since
// been disabled or removed or their password changed (their credentials version moved).
// It is how remembered Basic credentials are checked on every request without bcrypt.
func (s *Store) Recheck(ctx context.Context, p *Principal) (*Principal, error) {
	var q Principal
	var street, district *string
	err := s.pool.QueryRow(ctx, `SELECT id, username, role, street_code, district_code, credentials_version FROM users
WHERE id = $1 AND credentials_version = $2 AND NOT disabled`, p.UserID, p.CredentialsVersion).
		Scan(&q.UserID, &q.Username, &q.Role, &street, &district, &q.CredentialsVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	q.setArea(street, district)
	return &q, nil
}

func principalOf(p *Principal, street, district *string, err error) (*Principal, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	p.setArea(street, district)
	return p, nil
}

// setArea sets the street and district of a scan (NULL columns are empty).
func (p *Principal) setArea(street, district *string) {
	if street != nil {
		p.StreetCode = *street
	}
	if district != nil {
		p.DistrictCode = *district
	}
}

// Logout revokes the caller's token; it fails with ErrInvalidToken when the token was not
// live (so a second logout is refused like any stale token).
func (s *Store) Logout(ctx context.Context, p *Principal, token string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now()
WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL`, hashToken(token), p.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrInvalidToken
		}
		return s.Audit(ctx, tx, p.Actor(), "logout", p.Username, nil)
	})
}

// newToken returns a random 32-byte token (base64url, 43 characters) and its hash.
func newToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	t := base64.RawURLEncoding.EncodeToString(b)
	return t, hashToken(t), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// AssignedUnit is a grid unit as its officer sees it.
type AssignedUnit struct {
	Code       string
	Name       string
	StreetCode string
	Cells      int
}

// OfficerUnits returns the grid units assigned to a user (none for other roles).
func (s *Store) OfficerUnits(ctx context.Context, userID int64) ([]AssignedUnit, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.code, u.name, u.street_code, count(gc.h3)::int
FROM grid_units u LEFT JOIN grid_cells gc ON gc.unit_code = u.code
WHERE u.officer_id = $1 GROUP BY u.code ORDER BY u.code`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AssignedUnit])
}

// UserSession is a session as an admin sees it: its id, never its token.
type UserSession struct {
	ID         int64
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt *time.Time // to the minute; nil: not used since login
	Revoked    bool
}

// UserSessions lists a user's sessions that have not expired, live and revoked, newest
// first: a page of them and how many there are (limit 0: 100). Expired sessions are
// not listed (logins delete them a day after they expire).
func (s *Store) UserSessions(ctx context.Context, username string, limit, offset int) ([]UserSession, int, error) {
	u, err := s.UserByName(ctx, username)
	if err != nil {
		return nil, 0, err
	}
	if limit <= 0 {
		limit = 100
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1 AND expires_at > now()`, u.ID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, created_at, expires_at, last_seen_at, revoked_at IS NOT NULL FROM sessions
WHERE user_id = $1 AND expires_at > now() ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, u.ID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UserSession])
	return out, total, err
}

// RevokeSession revokes one session of a user (by its id, UserSession.ID); its token is
// refused from the next request on. A session that is not the user's is a NotFoundError;
// revoking a revoked session again changes nothing.
func (s *Store) RevokeSession(ctx context.Context, actor, username string, id int64) error {
	return s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE`, id, u.id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return &NotFoundError{What: "session", Key: strconv.FormatInt(id, 10)}
		}
		if err != nil || revoked {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "session_revoke", username, map[string]any{"session": id})
	})
}

// RevokeSessions revokes every live session of a user and returns how many it revoked.
func (s *Store) RevokeSessions(ctx context.Context, actor, username string) (int, error) {
	var n int64
	err := s.changeUser(ctx, username, func(tx pgx.Tx, u *userRow) error {
		var err error
		if n, err = revokeSessions(ctx, tx, u.id, nil); err != nil {
			return err
		}
		return s.Audit(ctx, tx, actor, "sessions_revoke", username, map[string]any{"sessions_revoked": n})
	})
	return int(n), err
}
