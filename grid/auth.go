package grid

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"
)

// The roles, as stored in users.role.
const (
	RoleAdmin   = "admin"   // 管理员: imports, users, grid units, everything
	RolePlanner = "planner" // 规划: city-wide reading and coverage analysis
	RoleStreet  = "street"  // 街道办: one street's hazards (Principal.StreetCode)
	RoleOfficer = "officer" // 网格员: the cells of the grid units assigned to them
)

// Principal is the signed-in caller of a request: who they are and what their scope is.
type Principal struct {
	UserID     int64
	Username   string
	Role       string
	StreetCode string // the street a street office sees; empty for other roles
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
// a wrong password and a disabled account all give ErrBadCredentials.
func (s *Store) CheckPassword(ctx context.Context, username, password string) (*Principal, error) {
	var p Principal
	var street *string
	var hash string
	var disabled bool
	err := s.pool.QueryRow(ctx, `SELECT id, username, role, street_code, password_hash, disabled
FROM users WHERE username = $1`, username).Scan(&p.UserID, &p.Username, &p.Role, &street, &hash, &disabled)
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
	if street != nil {
		p.StreetCode = *street
	}
	return &p, nil
}

// Login checks the password and opens a session of ttl. Successful and failed logins are
// both audited; a failure returns ErrBadCredentials.
func (s *Store) Login(ctx context.Context, username, password string, ttl time.Duration) (*Session, error) {
	p, err := s.CheckPassword(ctx, username, password)
	if errors.Is(err, ErrBadCredentials) {
		if aerr := s.Audit(ctx, nil, username, "login_failed", username, nil); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
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
		if err := tx.QueryRow(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`, hash, p.UserID, ttl.Seconds()).Scan(&sess.ExpiresAt); err != nil {
			return err
		}
		return s.Audit(ctx, tx, p.Actor(), "login", p.Username, map[string]any{"expires_at": sess.ExpiresAt})
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Authenticate returns the caller a bearer token belongs to, or ErrInvalidToken when the
// token is unknown, expired or revoked, or its user is disabled.
func (s *Store) Authenticate(ctx context.Context, token string) (*Principal, error) {
	var p Principal
	var street *string
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.username, u.role, u.street_code
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled`,
		hashToken(token)).Scan(&p.UserID, &p.Username, &p.Role, &street)
	return principalOf(&p, street, err)
}

// AuthenticateVersions is Authenticate and DataVersions in one statement (one round trip),
// for requests whose answer may be kept.
func (s *Store) AuthenticateVersions(ctx context.Context, token string) (*Principal, Versions, error) {
	var p Principal
	var street *string
	var today string
	var names []string
	var counts []int64
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.username, u.role, u.street_code, v.*
FROM sessions s JOIN users u ON u.id = s.user_id CROSS JOIN (`+versionsSQL+`) v
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled`,
		hashToken(token)).Scan(&p.UserID, &p.Username, &p.Role, &street, &today, &names, &counts)
	pp, err := principalOf(&p, street, err)
	if err != nil {
		return nil, Versions{}, err
	}
	return pp, versionsOf(today, names, counts), nil
}

func principalOf(p *Principal, street *string, err error) (*Principal, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if street != nil {
		p.StreetCode = *street
	}
	return p, nil
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

// User returns one user (without the password hash).
func (s *Store) User(ctx context.Context, id int64) (*User, error) {
	var u User
	var street *string
	err := s.pool.QueryRow(ctx, `SELECT id, username, display_name, role, street_code FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &street)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &NotFoundError{What: "user", Key: fmt.Sprint(id)}
	}
	if err != nil {
		return nil, err
	}
	if street != nil {
		u.StreetCode = *street
	}
	return &u, nil
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
