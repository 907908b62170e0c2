// Package ingest brings data in: it decodes GeoJSON and CSV files of one kind, checks
// every row (geometry, CRS, Shanghai's extent, USCC, enumerations, types), tags rows with
// their H3 cells and areas, and writes them all-or-nothing (the bulk COPY path for empty
// tables, SQL upserts otherwise), re-tagging what an areas import moves.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// ImportOptions say how a file is imported.
type ImportOptions struct {
	Kind   string
	Format Format
	CRS    geo.CRS
	// SkipInvalid loads the good rows and reports the others; without it one bad row
	// fails the whole import and nothing is written.
	SkipInvalid bool
	// Repair makes invalid polygons valid (ST_MakeValid) instead of refusing them.
	Repair bool
	// IgnoreUnknown drops properties the kind does not know instead of refusing the row.
	IgnoreUnknown bool
	// Actor is who imports, for the audit log.
	Actor string
	// Progress, when set, is called with the number of rows read so far.
	Progress func(rows int)
	// ShoreToleranceM is how far outside the district polygons a vertex may lie (ports,
	// pipelines and sites on the shore line); default 500.
	ShoreToleranceM float64
}

// ImportResult is what an import did.
type ImportResult struct {
	Kind       string      `json:"kind"`
	Read       int         `json:"read"`
	Inserted   int         `json:"inserted"`
	Updated    int         `json:"updated"`
	Rejected   int         `json:"rejected"` // rows refused
	Rejections []Rejection `json:"rejections,omitempty"`
	// Retagged counts, per table, the features and hazards an areas import gave new
	// district, street or community codes.
	Retagged map[string]int `json:"retagged,omitempty"`
}

// ImportError is an import refused because of bad rows; nothing was written.
type ImportError struct {
	Kind       string
	Rejections []Rejection
}

func (e *ImportError) Error() string {
	const show = 10
	var b strings.Builder
	rows := map[int]bool{}
	for _, r := range e.Rejections {
		rows[r.Row] = true
	}
	fmt.Fprintf(&b, "%s: %d invalid row(s), nothing imported:", e.Kind, len(rows))
	for i, r := range e.Rejections {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more problem(s)", len(e.Rejections)-show)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(r.String())
	}
	return b.String()
}

// InterruptedError is an import cut off because the database went away under it (it
// stopped or restarted, or the connection dropped). Before the commit was sent the
// transaction cannot have committed: nothing was written. Its message is for people (no
// SQLSTATE); the database's own error is Err.
type InterruptedError struct {
	Kind string
	// AtCommit: the connection was lost while the commit was on its way, so the server
	// may have committed the import just before.
	AtCommit bool
	Err      error
}

func (e *InterruptedError) Error() string {
	if e.AtCommit {
		return e.Kind + ": the database connection was lost while the import was being committed, " +
			"so it may or may not have been written; run the import again once the database is back " +
			"(rows are matched by their key, so running it twice does not duplicate them)"
	}
	return e.Kind + ": the database connection was lost during the import (the database stopped or restarted); " +
		"nothing was written: run the import again once the database is back"
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// committing marks an error of the commit itself.
type committing struct{ err error }

func (c *committing) Error() string { return c.err.Error() }
func (c *committing) Unwrap() error { return c.err }

// Import loads one file of one kind in a single transaction: all rows, or (with
// SkipInvalid) all good rows, or nothing. When the database goes away midway the error
// is an InterruptedError.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	res, err := s.load(ctx, r, opts)
	if err != nil && ctx.Err() == nil && grid.IsUnavailable(err) {
		var c *committing
		return nil, &InterruptedError{Kind: opts.Kind, AtCommit: errors.As(err, &c), Err: err}
	}
	var c *committing
	if errors.As(err, &c) {
		return nil, c.err
	}
	return res, err
}

// load is Import's transaction.
func (s *Service) load(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	k, ok := grid.KindByName(opts.Kind)
	if !ok {
		return nil, &grid.UnknownKindError{Name: opts.Kind}
	}
	if opts.CRS == "" {
		opts.CRS = geo.WGS84
	}
	if opts.ShoreToleranceM == 0 {
		opts.ShoreToleranceM = grid.DefaultShoreToleranceM
	}
	if opts.Actor == "" {
		opts.Actor = "cli"
	}
	co := &checkOptions{crs: opts.CRS, repair: opts.Repair, ignoreUnknown: opts.IgnoreUnknown}
	if k.Name == "areas" {
		co.region = geo.BoundRegion(geo.ShanghaiBound())
	} else {
		var err error
		if co.region, err = s.st.Region(ctx, opts.ShoreToleranceM); err != nil {
			return nil, err
		}
		if co.areas, err = loadAreaIndex(ctx, s.db); err != nil {
			return nil, err
		}
		districts, err := s.Districts(ctx)
		if err != nil {
			return nil, err
		}
		if districts == 0 {
			return nil, fmt.Errorf("no districts loaded: import the areas first (safegrid import --kind areas FILE)")
		}
	}
	sc, err := newScanner(r, opts.Format)
	if err != nil {
		return nil, err
	}
	sc = forKind(sc, k)

	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, stagingDDL(k)); err != nil {
		return nil, fmt.Errorf("staging table: %w", err)
	}

	trace := newTracer()
	trace.step("check for an empty table")
	bulk, err := bulkTable(ctx, tx, k)
	if err != nil {
		return nil, err
	}
	var dropped, childDropped droppedIndexes
	var fks foreignKeys
	if bulk {
		trace.step("drop secondary indexes")
		if err := bulkSettings(ctx, tx); err != nil {
			return nil, err
		}
		if dropped, err = dropSecondaryIndexes(ctx, tx, k.Table); err != nil {
			return nil, err
		}
		if fks, err = deferForeignKeys(ctx, tx, k.Table); err != nil {
			return nil, err
		}
		if child := bulkChild(k); child != "" {
			if childDropped, err = prepareChild(ctx, tx, child); err != nil {
				return nil, err
			}
		}
	}
	src := newRecordSource(ctx, sc, k, co, opts.Progress)
	defer src.cancel() // stops the readers if COPY ends early
	var split *splitSource
	if bulk {
		trace.step("read, check and copy into " + k.Table)
		split = &splitSource{src: src, k: k}
		var cols copyCols
		if cols, err = copyTypes(ctx, tx, k); err != nil {
			return nil, err
		}
		var now time.Time // the defaults' now(): the transaction's start
		if err = tx.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
			return nil, err
		}
		cols.defaults = fieldDefaults(k, now)
		q := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary)", pg.Ident(k.Table), pg.IdentList(tableColumns(k)))
		_, err = tx.Conn().PgConn().CopyFrom(ctx, &copyReader{split: split, cols: cols}, q)
	} else {
		trace.step("read, check and copy")
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"staging"}, stagingColumns(k), src)
	}
	if err != nil {
		if src.fatal != nil {
			return nil, src.fatal
		}
		return nil, fmt.Errorf("copy: %w", err)
	}
	res := &ImportResult{Kind: k.Name, Read: src.read, Rejections: src.rejections}
	res.Rejected = countRows(src.rejections)
	if res.Rejected > 0 && !opts.SkipInvalid {
		return nil, &ImportError{Kind: k.Name, Rejections: src.rejections}
	}
	if k.Name == "areas" {
		more, err := checkAreaParents(ctx, tx)
		if err != nil {
			return nil, err
		}
		if len(more) > 0 {
			if !opts.SkipInvalid {
				return nil, &ImportError{Kind: k.Name, Rejections: more}
			}
			res.Rejections = append(res.Rejections, more...)
			res.Rejected = countRows(res.Rejections)
		}
	}
	steps := writeSQL(k, false)
	if bulk {
		// The table was empty: nothing to update or move; the rows left for area_tag or
		// ST_MakeValid go through staging.
		steps = nil
		if len(split.left) > 0 {
			trace.step("copy left-over rows into staging")
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staging"}, stagingColumns(k), &leftSource{k: k, recs: split.left}); err != nil {
				return nil, fmt.Errorf("copy: %w", err)
			}
			steps = writeSQL(k, true)
		}
	}
	retag := k.Name == "areas" && !bulk // an empty areas table has nothing tagged with it
	if !bulk {
		if err := pg.LockForWrite(ctx, tx, writtenTables(k, retag)); err != nil {
			return nil, fmt.Errorf("write %s: %w", k.Name, err)
		}
	}
	if retag {
		if _, err := tx.Exec(ctx, areaOldSQL); err != nil {
			return nil, fmt.Errorf("write areas: %w", err)
		}
	}
	for _, q := range steps {
		trace.step(firstLine(q.sql))
		var args []any
		if q.actor {
			args = append(args, opts.Actor)
		}
		if q.counts == "both" {
			if err := tx.QueryRow(ctx, q.sql, args...).Scan(&res.Inserted, &res.Updated); err != nil {
				return nil, fmt.Errorf("write %s: %w", k.Name, err)
			}
			continue
		}
		tag, err := tx.Exec(ctx, q.sql, args...)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", k.Name, err)
		}
		switch q.counts {
		case "inserted":
			res.Inserted = int(tag.RowsAffected())
		case "updated":
			res.Updated = int(tag.RowsAffected())
		}
	}
	if bulk {
		res.Inserted += split.n
		if child := bulkChild(k); child != "" {
			trace.step("write " + child)
			if _, err := tx.Exec(ctx, bulkChildSQL(k), opts.Actor); err != nil {
				return nil, fmt.Errorf("write %s: %w", k.Name, err)
			}
		}
		trace.step("check foreign keys")
		if err := fks.check(ctx, tx, k.Table); err != nil {
			return nil, err
		}
		if err := dropped.create(ctx, tx, trace); err != nil {
			return nil, err
		}
		if err := childDropped.create(ctx, tx, trace); err != nil {
			return nil, err
		}
	}
	if retag {
		trace.step("re-tag features near changed areas")
		if res.Retagged, err = retagAreas(ctx, tx); err != nil {
			return nil, err
		}
	}
	details := map[string]any{"read": res.Read, "inserted": res.Inserted, "updated": res.Updated, "rejected": res.Rejected, "crs": opts.CRS,
		"retagged": res.Retagged}
	if err := s.st.Record(ctx, tx, grid.AuditEntry{Actor: opts.Actor, Action: "import", Kind: grid.AuditDataset, Object: k.Name, Details: details}); err != nil {
		return nil, err
	}
	trace.step("commit")
	if err := tx.Commit(ctx); err != nil {
		return nil, &committing{err}
	}
	if k.Name == "areas" {
		s.st.ForgetRegion() // the districts may have moved
	}
	trace.done()
	return res, nil
}

func countRows(rs []Rejection) int {
	rows := map[int]bool{}
	for _, r := range rs {
		rows[r.Row] = true
	}
	return len(rows)
}

// recordSource decodes and checks rows on every core and hands the good ones to COPY in
// file order. Bad rows are collected, not copied.
type recordSource struct {
	k          *grid.Kind
	out        chan batch
	pending    map[int]batch
	next       int
	cur        []record
	i          int
	vals       []any
	read       int
	rejections []Rejection
	keys       map[string]int
	fatal      error
	done       bool // the last batch was taken
	progress   func(int)
	cancel     context.CancelFunc
}

type batch struct {
	seq    int
	chunks []chunk
	recs   []record
	probs  []Rejection
	err    error // a file error that ends the stream after this batch
	last   bool
}

const batchSize = 512

func newRecordSource(ctx context.Context, sc scanner, k *grid.Kind, co *checkOptions, progress func(int)) *recordSource {
	ctx, cancel := context.WithCancel(ctx)
	work := make(chan batch, 8)
	out := make(chan batch, 16)
	src := &recordSource{k: k, out: out, pending: map[int]batch{}, keys: map[string]int{}, progress: progress, cancel: cancel}

	go func() { // reader: the file is read in order by one goroutine
		defer close(work)
		seq := 0
		for {
			b := batch{seq: seq}
			for len(b.chunks) < batchSize {
				c, err := sc.next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						b.err = err
					}
					b.last = true
					break
				}
				b.chunks = append(b.chunks, c)
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			if b.last {
				return
			}
			seq++
		}
	}()

	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for _, c := range b.chunks {
					rec, probs := checkRow(k, sc.decode(c), co)
					if len(probs) > 0 {
						b.probs = append(b.probs, probs...)
						continue
					}
					b.recs = append(b.recs, rec)
				}
				b.chunks = nil
				select {
				case out <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return src
}

// Next implements pgx.CopyFromSource.
func (s *recordSource) Next() bool {
	rec, ok := s.nextRecord()
	if !ok {
		return false
	}
	s.vals = stagingValues(s.k, rec, s.vals[:0])
	return true
}

// nextRecord is the next good record in file order.
func (s *recordSource) nextRecord() (record, bool) {
	for s.i >= len(s.cur) {
		if !s.nextBatch() {
			s.cancel()
			return record{}, false
		}
	}
	s.i++
	return s.cur[s.i-1], true
}

func (s *recordSource) nextBatch() bool {
	if s.done {
		return false
	}
	for {
		if b, ok := s.pending[s.next]; ok {
			delete(s.pending, s.next)
			s.next++
			s.read += len(b.recs) + countRows(b.probs)
			s.rejections = append(s.rejections, b.probs...)
			s.cur, s.i = s.cur[:0], 0
			for _, rec := range b.recs {
				if rec.key != "" {
					if first, dup := s.keys[rec.key]; dup {
						s.rejections = append(s.rejections, Rejection{Row: rec.n, Field: s.k.Key,
							Reason: fmt.Sprintf("%q appears again (first at row %d)", rec.key, first)})
						s.read++
						continue
					}
					s.keys[rec.key] = rec.n
				}
				s.cur = append(s.cur, rec)
			}
			if s.progress != nil {
				s.progress(s.read)
			}
			if b.err != nil {
				s.fatal = b.err
				return false
			}
			s.done = b.last
			return len(s.cur) > 0 || !s.done
		}
		b, ok := <-s.out
		if !ok {
			return false
		}
		s.pending[b.seq] = b
	}
}

// Values implements pgx.CopyFromSource.
func (s *recordSource) Values() ([]any, error) { return s.vals, nil }

// Err implements pgx.CopyFromSource.
func (s *recordSource) Err() error { return s.fatal }

// writtenTables are the tables an import of k into a table with rows writes: its own, the
// history of hazards, and with retag everything tagged with areas.
func writtenTables(k *grid.Kind, retag bool) []string {
	out := []string{k.Table}
	switch {
	case k.Table == "hazards":
		out = append(out, "hazard_history")
	case k.Table == "enterprises":
		out = append(out, "enterprise_risk_levels")
	case k.Table == "areas":
		out = append(out, "area_parts")
	}
	if retag {
		for _, t := range retagTables {
			out = append(out, t.name)
			if t.child != "" {
				out = append(out, t.child)
			}
		}
	}
	return out
}

// Districts counts the districts loaded: every kind but areas needs them to be tagged.
func (s *Service) Districts(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM areas WHERE level = 'district'`).Scan(&n)
	return n, err
}

// Service runs this package's queries on a store. It holds no state of its own beyond
// the store, so one per store is enough and it is safe for concurrent use.
type Service struct {
	st *grid.Store
	db *pgxpool.Pool
}

// New returns the service over st.
func New(st *grid.Store) *Service { return &Service{st: st, db: st.DB(pg.Key{})} }
