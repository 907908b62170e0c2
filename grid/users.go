package grid

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"safegrid/grid/internal/pg"
)

// roles a user can have.
var roles = []string{RoleAdmin, RolePlanner, RoleStreet, RoleOfficer}

// Roles are the roles a user can have.
func Roles() []string { return slices.Clone(roles) }

// User is a person who signs in: admin 管理员, planner 规划, street office 街道办 or grid
// officer 网格员.
type User struct {
	ID          int64
	Username    string
	DisplayName string
	Role        string
	StreetCode  string // for the street role only
}

// HashPassword hashes a password for storage.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("password: at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// AddUser creates a user and records it in the audit log, both or neither; an existing
// username is an error.
func (s *Store) AddUser(ctx context.Context, actor string, u User, password string) (int64, error) {
	if !slices.Contains(roles, u.Role) {
		return 0, fmt.Errorf("role %q: want one of %s", u.Role, strings.Join(roles, ", "))
	}
	if (u.Role == "street") != (u.StreetCode != "") {
		return 0, errors.New("a street office user needs --street CODE, and only it")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return 0, err
	}
	var street any
	if u.StreetCode != "" {
		street = u.StreetCode
		var level string
		if err := s.pool.QueryRow(ctx, `SELECT level FROM areas WHERE code = $1`, u.StreetCode).Scan(&level); err != nil || level != "street" {
			return 0, fmt.Errorf("street %s is not a loaded street", u.StreetCode)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO users (username, display_name, role, street_code, password_hash)
VALUES ($1, $2, $3, $4, $5) RETURNING id`, u.Username, u.DisplayName, u.Role, street, hash).Scan(&id)
	if err != nil {
		return 0, err
	}
	details := map[string]any{"id": id, "role": u.Role, "street_code": u.StreetCode}
	if err := s.Audit(ctx, tx, actor, "user_add", u.Username, details); err != nil {
		return 0, err
	}
	return id, tx.Commit(ctx)
}

// LoadUsersCSV adds the users of a CSV file (username,role,street_code,display_name), all
// with the same password hash; users that exist already are left as they are. It returns
// how many it added.
func (s *Store) LoadUsersCSV(ctx context.Context, r io.Reader, passwordHash string) (int, error) {
	recs, err := readCSV(r, "username", "role", "street_code", "display_name")
	if err != nil {
		return 0, fmt.Errorf("users: %w", err)
	}
	batch := &pgx.Batch{}
	for _, rec := range recs {
		var street any
		if rec[2] != "" {
			street = rec[2]
		}
		batch.Queue(`INSERT INTO users (username, role, street_code, display_name, password_hash)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING`, rec[0], rec[1], street, rec[3], passwordHash)
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
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(cols)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || !slices.Equal(recs[0], cols) {
		return nil, fmt.Errorf("want the header %s", strings.Join(cols, ","))
	}
	return recs[1:], nil
}
