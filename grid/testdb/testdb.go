// Package testdb gives integration tests a fresh PostGIS database of their own, cloned from
// a migrated template, on the project's private cluster (started when DATABASE_URL is
// unset) or on the server DATABASE_URL names. Test databases are named safegrid_test_*.
package testdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
	"safegrid/migrations"
)

var (
	baseOnce sync.Once
	baseURL  string
	baseErr  error
)

// BaseURL is the URL of the server tests run against.
func BaseURL(t testing.TB) string {
	t.Helper()
	baseOnce.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			baseURL = u
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "db.sh")
		out, err := exec.Command("bash", script, "start").Output()
		if err != nil {
			baseErr = fmt.Errorf("starting the project's PostGIS (%s start): %w", script, err)
			return
		}
		baseURL = strings.TrimSpace(string(out))
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	return baseURL
}

// withDB returns url with its database name replaced.
func withDB(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("DATABASE_URL: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

// schemaHash names the template after the migrations, so a changed schema gets a new one.
func schemaHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// Setup prepares a template database once; it runs with an advisory lock held so that test
// binaries running in parallel build each template once.
type Setup struct {
	Name  string // part of the template's name; change it when Load changes
	Load  func(ctx context.Context, st *grid.Store) error
	mu    sync.Mutex
	ready string
}

// Migrated is the empty schema.
var Migrated = &Setup{Name: "empty"}

func (s *Setup) template(t testing.TB, ctx context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready != "" {
		return s.ready
	}
	base := BaseURL(t)
	name := "safegrid_tmpl_" + s.Name + "_" + schemaHash()
	admin, err := pgx.Connect(ctx, withDB(base, "postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, name); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, name)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		build := name + "_build"
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{build}.Sanitize())
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{build}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		st, err := grid.Open(ctx, withDB(base, build))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			t.Fatal(err)
		}
		if s.Load != nil {
			if err := s.Load(ctx, st); err != nil {
				st.Close()
				t.Fatalf("template %s: %v", name, err)
			}
		}
		st.Close()
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{build}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" IS_TEMPLATE true"); err != nil {
			t.Fatal(err)
		}
		// The build time, so that dropStale can tell a template left behind by an old
		// schema from one another worktree with another schema is using right now.
		if _, err := admin.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" IS "+
			pg.Literal(templateMark+time.Now().UTC().Format(time.RFC3339))); err != nil {
			t.Fatal(err)
		}
		dropStale(ctx, admin, "safegrid_tmpl_"+s.Name+"_", name)
	}
	s.ready = name
	return name
}

// New returns a store on a new database cloned from setup's template (Migrated when nil),
// dropped when the test ends.
func New(t testing.TB, setup *Setup) *grid.Store {
	t.Helper()
	if setup == nil {
		setup = Migrated
	}
	ctx := context.Background()
	tmpl := setup.template(t, ctx)
	base := BaseURL(t)
	name := fmt.Sprintf("safegrid_test_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	admin, err := pgx.Connect(ctx, withDB(base, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE "
	_, err = admin.Exec(ctx, create+pgx.Identifier{tmpl}.Sanitize())
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "3D000" {
		// The template is gone: a test run on another schema (another worktree on the same
		// server) dropped it. Build it again, once.
		setup.mu.Lock()
		setup.ready = ""
		setup.mu.Unlock()
		_, err = admin.Exec(ctx, create+pgx.Identifier{setup.template(t, ctx)}.Sanitize())
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	st, err := grid.Open(ctx, withDB(base, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		c, err := pgx.Connect(context.Background(), withDB(base, "postgres"))
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return st
}

// URL returns the URL of the store's database, for tests that run the binary.
func URL(t testing.TB, st *grid.Store) string {
	return withDB(BaseURL(t), st.DB(pg.Key{}).Config().ConnConfig.Database)
}

// DB is the store's own pool, for fixtures that write rows in SQL and for tests that
// check what the store's connections see.
func DB(st *grid.Store) *pgxpool.Pool { return st.DB(pg.Key{}) }

// templateMark starts the comment of a template, followed by its build time.
const templateMark = "safegrid test template built "

// staleAfter is how long a template of another schema is kept: worktrees with different
// migrations share one server, and each keeps rebuilding its own templates.
const staleAfter = 24 * time.Hour

// dropStale drops the templates an older schema left behind: those built more than
// staleAfter ago. A template without the build time is left alone.
func dropStale(ctx context.Context, admin *pgx.Conn, prefix, keep string) {
	rows, err := admin.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database
 WHERE starts_with(datname, $1) AND datname <> $2`, prefix, keep)
	if err != nil {
		return
	}
	var names []string
	var n, comment string
	_, err = pgx.ForEachRow(rows, []any{&n, &comment}, func() error {
		built, err := time.Parse(time.RFC3339, strings.TrimPrefix(comment, templateMark))
		if strings.HasPrefix(comment, templateMark) && err == nil && time.Since(built) > staleAfter {
			names = append(names, n)
		}
		return nil
	})
	if err != nil {
		return
	}
	for _, n := range names {
		id := pgx.Identifier{n}.Sanitize()
		_, _ = admin.Exec(ctx, "ALTER DATABASE "+id+" IS_TEMPLATE false")
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
	}
}
