// Package grid is SafeGrid's domain: areas, the supervised things and their hazards, grid
// units, and the PostGIS store that holds them.
package grid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"
	pgxgeom "github.com/twpayne/pgx-geom"

	"safegrid/grid/internal/pg"
	"safegrid/migrations"
)

// Store is the PostGIS database behind SafeGrid. Its pool is reached only by the grid
// packages (DB); everything else calls their functions.
type Store struct {
	pool *pgxpool.Pool
	// WriteLockTimeout bounds how long a day-to-day write (a hazard, an inspection, a
	// grid unit) waits for a lock, such as an import's on the tables it writes; then it
	// fails with ErrBusy instead of holding one of the pool's few connections. Zero: no
	// bound.
	WriteLockTimeout time.Duration
	// PhotoFarM is the distance in metres beyond which a photo's EXIF position, from the
	// hazard or the inspected enterprise it documents, flags it as far (photos.far); zero
	// is DefaultPhotoFarM (serve --photo-max-distance).
	PhotoFarM float64

	regions regionCache // Shanghai's districts as a raster, for location checks
}

// ErrNoDatabase is returned when no database URL was given.
var ErrNoDatabase = errors.New("no database: set DATABASE_URL or pass --database-url")

// Option adjusts the pool before it connects.
type Option func(*pgxpool.Config)

// WithStatementTimeout makes the server cancel any statement that runs longer than d, so
// a runaway query is stopped even when the client that asked for it is gone.
func WithStatementTimeout(d time.Duration) Option {
	return func(c *pgxpool.Config) {
		if d > 0 {
			c.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
}

// WithConnectTimeout bounds each connection attempt, so requests fail fast (503) while the
// database is unreachable instead of hanging on a dead host.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *pgxpool.Config) {
		if d > 0 && c.ConnConfig.ConnectTimeout == 0 {
			c.ConnConfig.ConnectTimeout = d
		}
	}
}

// WithClientCheck makes the server check every d, while a query runs, that the client is
// still there (client_connection_check_interval, Linux servers), and cancel the query
// when it is not: a killed service's import then rolls back and releases its table locks
// within d instead of running to the end of its statement first.
func WithClientCheck(d time.Duration) Option {
	return func(c *pgxpool.Config) {
		if _, set := c.ConnConfig.RuntimeParams["client_connection_check_interval"]; d > 0 && !set {
			c.ConnConfig.RuntimeParams["client_connection_check_interval"] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
}

// WithApplicationName names the connections in pg_stat_activity.
func WithApplicationName(name string) Option {
	return func(c *pgxpool.Config) {
		if _, set := c.ConnConfig.RuntimeParams["application_name"]; !set {
			c.ConnConfig.RuntimeParams["application_name"] = name
		}
	}
}

// WithMaxConns caps the pool's connections (pgxpool's default is max(4, CPUs)).
func WithMaxConns(n int32) Option {
	return func(c *pgxpool.Config) {
		if n > 0 {
			c.MaxConns = n
		}
	}
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s, err := OpenLazy(ctx, url, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		cc := s.pool.Config().ConnConfig
		return nil, fmt.Errorf("connect to %s:%d: %w", cc.Host, cc.Port, err)
	}
	return s, nil
}

// OpenLazy is Open without the check: the pool connects on first use, so a store can
// exist while its database is down (readiness probes report it).
func OpenLazy(ctx context.Context, url string, opts ...Option) (*Store, error) {
	if url == "" {
		return nil, ErrNoDatabase
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	afterConnect := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if afterConnect != nil {
			if err := afterConnect(ctx, conn); err != nil {
				return err
			}
		}
		return registerGeom(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Store{pool: pool, WriteLockTimeout: 5 * time.Second}, nil
}

// DB is the store's pool, for the grid packages only: pg.Key can be named only under
// grid/ (see grid/internal/pg), so nothing else can call it.
func (s *Store) DB(pg.Key) *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// PoolStats are the connection pool's counters, for metrics.
type PoolStats struct {
	Acquired, Idle, Total, Max int32
	EmptyAcquires              int64
	AcquireWait                time.Duration
}

// PoolStats reads the pool's counters now.
func (s *Store) PoolStats() PoolStats {
	if s.pool == nil {
		return PoolStats{}
	}
	st := s.pool.Stat()
	return PoolStats{
		Acquired: st.AcquiredConns(), Idle: st.IdleConns(), Total: st.TotalConns(), Max: st.MaxConns(),
		EmptyAcquires: st.EmptyAcquireCount(), AcquireWait: st.AcquireDuration(),
	}
}

// registerGeom lets conn bind and scan PostGIS geometry and geography values as go-geom's
// geom.T (EWKB, pgx-geom's codec). On a fresh database PostGIS arrives with the first
// migration: until then there is nothing to register, and Migrate renews the pool's
// connections once it has applied migrations.
func registerGeom(ctx context.Context, conn *pgx.Conn) error {
	var postgis bool
	if err := conn.QueryRow(ctx, `SELECT to_regtype('geometry') IS NOT NULL AND to_regtype('geography') IS NOT NULL`).Scan(&postgis); err != nil || !postgis {
		return err
	}
	return pgxgeom.Register(ctx, conn)
}

// IsUnavailable reports whether err means the database cannot be reached or is restarting
// (refused or dropped connections, admin/crash shutdown, too many connections, a closed
// pool), as opposed to an error in the query itself. Such a request may succeed when
// retried: pgxpool replaces broken connections by itself.
func IsUnavailable(err error) bool {
	// A context that ended is the caller's doing, not the database's (and
	// context.DeadlineExceeded would otherwise pass for a net.Error below).
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin/crash shutdown, cannot connect now
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed)
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Migrate applies the migrations not yet applied and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if len(res) > 0 {
		// The migrations may have created PostGIS: connections opened before it came
		// registered no geometry type (registerGeom), so they go (those in use on release).
		s.pool.Reset()
	}
	if err != nil {
		return len(res), fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// ErrBusy is returned by a write that waited WriteLockTimeout for a lock (an import
// writing the same table) or lost a deadlock: nothing was written, and trying again
// shortly will do.
var ErrBusy = errors.New("the data is being changed by another task (an import); nothing was written, try again shortly")

// WriteTx runs fn in a transaction whose lock waits are bounded by WriteLockTimeout; a
// lock timeout or deadlock comes back as ErrBusy. Day-to-day writes go through it.
func (s *Store) WriteTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if s.WriteLockTimeout > 0 {
			if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", s.WriteLockTimeout.Milliseconds())); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "40P01") {
		return fmt.Errorf("%w (%s)", ErrBusy, pe.Message)
	}
	return err
}
