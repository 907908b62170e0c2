package risk

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"
	"github.com/uber/h3-go/v4"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Request asks for a recompute: why (a trigger), who (an actor) and as of when (zero:
// now). AsOf lets the demo back-fill history: hazards open then, enterprise risk levels
// then, taken_on its Asia/Shanghai date; everything else (places, pipelines, sites,
// spaces, stations) as it is now.
type Request struct {
	Trigger string
	By      string
	AsOf    time.Time
	// onlyIfNoSchedule: the scheduler's run, skipped (errScheduledToday) when a scheduled
	// snapshot of the day exists, checked under the lock.
	onlyIfNoSchedule bool
}

// recomputeLock is the advisory lock key held by a recompute (held by the recompute's connection): two
// never run at once; the second one does not wait but fails with grid.ErrBusy (the
// scheduler tries again a minute later; an admin's request gets a 503 to retry).
const recomputeLock = int64(0x7269736b) // "risk"

// topN is how many contributors an area lists, cellTopN a cell (a hexagon of 0.1 km² holds
// few; its parts sum up the rest).
const (
	topN     = 10
	cellTopN = 5
)

// Recompute computes the index from the data as of req.AsOf and stores it as a new
// snapshot, in one transaction: a failure leaves the previous snapshot the latest. Every
// attempt is a risk_runs row, written and finished outside that transaction so a failed
// one keeps its error. A recompute while another runs is grid.ErrBusy (nothing written
// but the run's record).
func (s *Service) Recompute(ctx context.Context, req Request) (Snapshot, error) {
	if !slices.Contains([]string{TriggerSchedule, TriggerManual, TriggerDemo}, req.Trigger) {
		return Snapshot{}, Bad("trigger", "must be schedule, manual or demo")
	}
	by, ok := trimmed(req.By, 100)
	if !ok || by == "" {
		return Snapshot{}, Bad("requested_by", "must be text of 1 to 100 characters")
	}
	req.By = by
	now := time.Now()
	if req.AsOf.IsZero() || req.AsOf.After(now) {
		req.AsOf = now
	}
	book := context.WithoutCancel(ctx)
	var run int64
	if err := s.db.QueryRow(book, `INSERT INTO risk_runs (trigger, requested_by) VALUES ($1, $2) RETURNING id`,
		req.Trigger, req.By).Scan(&run); err != nil {
		return Snapshot{}, err
	}
	snap, err := s.recompute(ctx, req, now)
	var sid *int64
	var msg *string
	if err != nil {
		m := err.Error()
		msg = &m
	} else {
		sid = &snap.ID
	}
	if _, ferr := s.db.Exec(book, `UPDATE risk_runs SET finished_at = now(), snapshot_id = $2, error = $3 WHERE id = $1`, run, sid, msg); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return Snapshot{}, &RecomputeError{Run: run, Err: err}
	}
	return snap, nil
}

// RecomputeError is a failed recompute: its run (risk_runs.id) and why. The previous
// snapshot is unchanged.
type RecomputeError struct {
	Run int64
	Err error
}

func (e *RecomputeError) Error() string {
	return fmt.Sprintf("risk recompute (run %d) failed, the previous snapshot stays the latest: %v", e.Run, e.Err)
}

func (e *RecomputeError) Unwrap() error { return e.Err }

// Reason says why in a client's words: a timeout, a cancelled request, the database
// unavailable, or the database's own message (no SQL, no SQLSTATE).
func (e *RecomputeError) Reason() string {
	var pe *pgconn.PgError
	err := grid.Typed(e.Err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, grid.ErrTimeout):
		return "it took too long"
	case errors.Is(err, context.Canceled):
		return "it was cancelled"
	case grid.IsUnavailable(err):
		return "the database is unavailable"
	case errors.As(e.Err, &pe):
		return "the database refused it: " + pe.Message
	}
	return "it failed: " + e.Err.Error()
}

// Run is one recompute attempt (risk_runs).
type Run struct {
	ID          int64      `json:"id"`
	Trigger     string     `json:"trigger"`
	RequestedBy string     `json:"requested_by"`
	StartedAt   grid.Time  `json:"started_at"`
	FinishedAt  *grid.Time `json:"finished_at"`
	SnapshotID  *int64     `json:"snapshot_id"`
	Error       *string    `json:"error"`
}

// Runs lists the recompute attempts, newest first.
func (s *Service) Runs(ctx context.Context, limit, offset int) ([]Run, error) {
	rows, err := s.db.Query(ctx, `SELECT id, trigger, requested_by, started_at, finished_at, snapshot_id, error
FROM risk_runs ORDER BY id DESC LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var x Run
		var fin *time.Time
		err := r.Scan(&x.ID, &x.Trigger, &x.RequestedBy, &x.StartedAt, &fin, &x.SnapshotID, &x.Error)
		if fin != nil {
			t := grid.TimeOf(*fin)
			x.FinishedAt = &t
		}
		return x, err
	})
}

const snapshotCols = `id, taken_on::text, computed_at, config_id, config, trigger, requested_by, duration_ms, cells, summary`

func scanSnapshot(row pgx.Row, withConfig bool) (Snapshot, error) {
	var sn Snapshot
	var cfg, sum []byte
	if err := row.Scan(&sn.ID, &sn.TakenOn, &sn.ComputedAt, &sn.ConfigID, &cfg, &sn.Trigger, &sn.RequestedBy, &sn.DurationMS, &sn.Cells, &sum); err != nil {
		return sn, err
	}
	if withConfig {
		if err := json.Unmarshal(cfg, &sn.Config); err != nil {
			return sn, err
		}
	}
	return sn, json.Unmarshal(sum, &sn.Summary)
}

// SnapshotList is a page of snapshots without their configuration copies.
type SnapshotList struct {
	Snapshots []SnapshotItem `json:"snapshots"`
	Total     int            `json:"total"`
}

// SnapshotItem is a Snapshot in a list: everything but the configuration copy.
type SnapshotItem struct {
	ID          int64          `json:"id"`
	TakenOn     string         `json:"taken_on"`
	ComputedAt  grid.Time      `json:"computed_at"`
	ConfigID    *int64         `json:"config_id"`
	Trigger     string         `json:"trigger"`
	RequestedBy string         `json:"requested_by"`
	DurationMS  int            `json:"duration_ms"`
	Cells       int            `json:"cells"`
	Summary     map[string]any `json:"summary"`
}

// Snapshots lists the snapshots newest first (by taken_on, then id).
func (s *Service) Snapshots(ctx context.Context, limit, offset int) (SnapshotList, error) {
	out := SnapshotList{Snapshots: []SnapshotItem{}}
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM risk_snapshots`).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+snapshotCols+` FROM risk_snapshots ORDER BY taken_on DESC, id DESC LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		sn, err := scanSnapshot(rows, false)
		if err != nil {
			return out, err
		}
		out.Snapshots = append(out.Snapshots, SnapshotItem{ID: sn.ID, TakenOn: sn.TakenOn, ComputedAt: sn.ComputedAt, ConfigID: sn.ConfigID,
			Trigger: sn.Trigger, RequestedBy: sn.RequestedBy, DurationMS: sn.DurationMS, Cells: sn.Cells, Summary: sn.Summary})
	}
	return out, rows.Err()
}

// SnapshotByID returns one snapshot with its configuration copy (grid.NotFoundError when
// there is none).
func (s *Service) SnapshotByID(ctx context.Context, id int64) (Snapshot, error) {
	sn, err := scanSnapshot(s.db.QueryRow(ctx, `SELECT `+snapshotCols+` FROM risk_snapshots WHERE id = $1`, id), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return Snapshot{}, &grid.NotFoundError{What: "risk snapshot", Key: strconv.FormatInt(id, 10)}
	}
	return sn, err
}

// previousSnapshot is the latest snapshot taken on or before day (by taken_on, then id):
// the one a new snapshot of day follows (a back-filled day's is the one before it, not the
// newest); nil when there is none.
func previousSnapshot(ctx context.Context, tx pgx.Tx, day string) (*Snapshot, error) {
	sn, err := scanSnapshot(tx.QueryRow(ctx, `SELECT `+snapshotCols+` FROM risk_snapshots WHERE taken_on <= $1 ORDER BY taken_on DESC, id DESC LIMIT 1`, day), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &sn, nil
}

func (s *Service) recompute(ctx context.Context, req Request, now time.Time) (Snapshot, error) {
	start := time.Now()
	// The lock is the session's, taken before the transaction begins, so the
	// transaction's view (repeatable read: one view of the data for every query) always
	// includes the snapshot of a recompute that finished just before.
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, recomputeLock).Scan(&locked); err != nil {
		return Snapshot{}, err
	}
	if !locked {
		return Snapshot{}, fmt.Errorf("%w (another risk recompute is running)", grid.ErrBusy)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, recomputeLock); err != nil {
			// A connection that cannot unlock is closed, which releases the lock.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return Snapshot{}, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// A city-wide recompute may take longer than a request's statement_timeout; the
	// caller's context still bounds it.
	// work_mem: the enterprises' and hazards' window sorts stay in memory.
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '10min'; SET LOCAL work_mem = '128MB'`); err != nil {
		return Snapshot{}, err
	}
	if req.onlyIfNoSchedule {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM risk_snapshots WHERE trigger = 'schedule' AND taken_on = $1)`,
			req.AsOf.In(grid.ShanghaiZone()).Format(time.DateOnly)).Scan(&done); err != nil {
			return Snapshot{}, err
		}
		if done {
			return Snapshot{}, errScheduledToday
		}
	}
	rec, err := currentConfig(ctx, tx)
	if err != nil {
		return Snapshot{}, err
	}
	cfg := rec.Config
	if err := cfg.Validate(); err != nil {
		return Snapshot{}, fmt.Errorf("the configuration in force (%d) is invalid: %w", rec.ID, err)
	}
	prev, err := previousSnapshot(ctx, tx, req.AsOf.In(grid.ShanghaiZone()).Format(time.DateOnly))
	if err != nil {
		return Snapshot{}, err
	}
	ix, err := s.index(ctx, tx, cfg, req.AsOf)
	if err != nil {
		return Snapshot{}, err
	}
	sn := Snapshot{TakenOn: req.AsOf.In(grid.ShanghaiZone()).Format(time.DateOnly), Config: cfg, Trigger: req.Trigger,
		RequestedBy: req.By, Cells: len(ix.cells), Summary: ix.summary()}
	if rec.ID != 0 {
		id := rec.ID
		sn.ConfigID = &id
	}
	cfgJS, err := json.Marshal(cfg)
	if err != nil {
		return Snapshot{}, err
	}
	sumJS, err := json.Marshal(sn.Summary)
	if err != nil {
		return Snapshot{}, err
	}
	sn.DurationMS = int(time.Since(start).Milliseconds())
	if err := tx.QueryRow(ctx, `INSERT INTO risk_snapshots (taken_on, config_id, config, trigger, requested_by, duration_ms, cells, summary)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, computed_at`, sn.TakenOn, sn.ConfigID, cfgJS, sn.Trigger, sn.RequestedBy, sn.DurationMS, sn.Cells, sumJS).
		Scan(&sn.ID, &sn.ComputedAt); err != nil {
		return Snapshot{}, err
	}
	if err := ix.write(ctx, tx, sn.ID); err != nil {
		return Snapshot{}, err
	}
	// The statistics must know the new snapshot before the rules join it to the previous
	// one: with the rows just written the planner takes it for empty and joins two
	// snapshots' cells by a nested loop over every pair (on the whole city, until the
	// statement timeout). ANALYZE counts the transaction's own rows, and its statistics
	// commit with them. The few snapshot ids need no large sample (3,000 rows, not
	// 30,000; BENCHMARKS.md).
	if _, err := tx.Exec(ctx, `SET LOCAL default_statistics_target = 10; ANALYZE risk_cells (snapshot_id); ANALYZE risk_areas (snapshot_id)`); err != nil {
		return Snapshot{}, err
	}
	if _, err := s.raiseWarnings(ctx, tx, sn, prev, cfg, now); err != nil {
		return Snapshot{}, err
	}
	// The duration covers the whole computation, writes included.
	sn.DurationMS = int(time.Since(start).Milliseconds())
	if _, err := tx.Exec(ctx, `UPDATE risk_snapshots SET duration_ms = $2 WHERE id = $1`, sn.ID, sn.DurationMS); err != nil {
		return Snapshot{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Snapshot{}, err
	}
	return sn, nil
}

// inSnapshot runs f in a read-only repeatable-read transaction on another connection that
// sees exactly what the exporting transaction (pg_export_snapshot's snap) sees.
func (s *Service) inSnapshot(ctx context.Context, snap string, f func(pgx.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// SET TRANSACTION SNAPSHOT takes no parameter: snap is the server's own snapshot id
	// (hex digits and dashes), quoted as a literal.
	if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT `+pg.Literal(snap)+`; SET LOCAL statement_timeout = '10min'`); err != nil {
		return err
	}
	return f(tx)
}

// The components of the index (parts' keys, in this order).
var components = []string{"enterprises", "hazards", "pipelines", "gas_sites", "underground"}

const (
	cEnterprise = iota
	cHazard
	cPipeline
	cGasSite
	cUnderground
)

// The counts of a cell or an area (counts' keys).
var countNames = []string{"重大", "较大", "一般", "低", "major_hazards", "hazchem", "hazards_open", "hazards_overdue", "hazards_major_open",
	"pipeline_km", "gas_sites", "underground_spaces"}

const (
	nLevel0 = iota // 重大 .. 低: enterprises by risk level
	_
	_
	_
	nMajor
	nHazchem
	nOpen
	nOverdue
	nMajorOpen
	nKm
	nSites
	nSpaces
	nCounts
)

// areaKey is a contributor's place: its cell and its tagged district, street, community.
type areaKey struct {
	h3                  int64
	district, street, c string
}

// group is the contributors of one place (areaKey), their raw points (before the fire
// factor) by component, counts, the highest enterprise level (rank: 3 重大 .. 0 低, -1
// none), and the candidates for the top contributors (each place's own top topN: any
// area's or cell's top topN are among the union of its places').
type group struct {
	raw    [5]float64
	counts [nCounts]float64
	floor  int
	top    []Contributor // raw points
}

// acc accumulates a cell's or an area's points after the fire factor.
type acc struct {
	parts  [5]float64
	counts [nCounts]float64
	floor  int
	top    []Contributor
	full   bool           // top was cut to topN: candidates after cut are skipped
	cut    Contributor    // the last of the topN when full
	cells  map[Colour]int // areas: their cells by colour
}

func newAcc() *acc { return &acc{floor: -1} }

func (a *acc) score() float64 {
	var s float64
	for _, p := range a.parts {
		s += p
	}
	return s
}

type cellOut struct {
	h3                  int64
	district, street, c string
	own, spill, score   float64
	factor, minutes     float64
	scoreColour, colour Colour
	floorColour         Colour
	acc                 *acc
	disk                []h3.Cell // the cells within k rings (itself included), once computed
}

// diskOf is the cells within k rings of c, computed once (cgo: three loops need it).
func diskOf(c *cellOut, k int) []h3.Cell {
	if c.disk == nil {
		c.disk = h3.GridDisk(h3.Cell(c.h3), k)
	}
	return c.disk
}

type areaOut struct {
	code, level, district string
	score                 float64
	scoreColour, colour   Colour
	floorColour           Colour
	acc                   *acc
}

// index is one computation, before it is written.
type index struct {
	cfg   Config
	cells []*cellOut
	areas []*areaOut
}

func rankColour(r int) Colour {
	if r < 0 {
		return ""
	}
	return LevelColour(grid.RiskLevels()[3-r])
}

// newGroups is an empty set of places and the function that finds (or adds) one.
func newGroups() (map[areaKey]*group, func(areaKey) *group) {
	groups := map[areaKey]*group{}
	return groups, func(k areaKey) *group {
		g := groups[k]
		if g == nil {
			g = &group{floor: -1}
			groups[k] = g
		}
		return g
	}
}

func (s *Service) index(ctx context.Context, tx pgx.Tx, cfg Config, asOf time.Time) (*index, error) {
	groups, get := newGroups()
	// The open hazards are read on a second connection at the same time, in a transaction
	// that imports this one's snapshot (the same view of the data): the server scans
	// them while Go sums the enterprises. Their places are merged in afterwards. A pool
	// of one connection reads them in this transaction, after the enterprises.
	hgroups, hget := newGroups()
	readHazards := func() error { return s.hazards(ctx, tx, cfg, asOf, hget) }
	if s.db.Config().MaxConns >= 2 {
		var snap string
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
			return nil, err
		}
		hctx, cancel := context.WithCancel(ctx)
		defer cancel() // an early return stops the reader; its channel is buffered
		done := make(chan error, 1)
		go func() {
			done <- s.inSnapshot(hctx, snap, func(htx pgx.Tx) error { return s.hazards(hctx, htx, cfg, asOf, hget) })
		}()
		readHazards = func() error { return <-done }
	}
	if err := s.enterprises(ctx, tx, cfg, asOf, get); err != nil {
		return nil, fmt.Errorf("enterprises: %w", err)
	}
	if err := readHazards(); err != nil {
		return nil, fmt.Errorf("hazards: %w", err)
	}
	for k, hg := range hgroups {
		g := get(k)
		for i := range hg.raw {
			g.raw[i] += hg.raw[i]
		}
		for i := range hg.counts {
			g.counts[i] += hg.counts[i]
		}
		g.floor = max(g.floor, hg.floor)
		for _, c := range hg.top {
			g.top = pushTop(g.top, c, topN)
		}
	}
	if err := s.pipelines(ctx, tx, cfg, get); err != nil {
		return nil, fmt.Errorf("pipelines: %w", err)
	}
	if err := s.sitesAndSpaces(ctx, tx, cfg, get); err != nil {
		return nil, fmt.Errorf("sites and spaces: %w", err)
	}
	ix := &index{cfg: cfg}
	// Cells: the places' cells and their k-ring neighbours.
	cells := map[int64]*cellOut{}
	for k := range groups {
		if cells[k.h3] == nil {
			cells[k.h3] = &cellOut{h3: k.h3, acc: newAcc()}
		}
	}
	for _, h := range mapKeys(cells) {
		for _, n := range diskOf(cells[h], cfg.Spill.K) {
			if n != 0 && cells[int64(n)] == nil {
				cells[int64(n)] = &cellOut{h3: int64(n), acc: newAcc()}
			}
		}
	}
	order := mapKeys(cells)
	slices.Sort(order)
	if err := s.fire(ctx, tx, cfg.Fire, order, cells); err != nil {
		return nil, fmt.Errorf("fire stations: %w", err)
	}
	areas := map[string]*areaOut{}
	rows, err := tx.Query(ctx, `SELECT code, level, district_code FROM areas`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		a := &areaOut{acc: newAcc()}
		if err := rows.Scan(&a.code, &a.level, &a.district); err != nil {
			rows.Close()
			return nil, err
		}
		a.acc.cells = map[Colour]int{}
		areas[a.code] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	area := func(code, level string) *acc {
		if code == "" {
			return nil
		}
		a := areas[code]
		if a == nil {
			// Tagged with a code no longer among the areas (an areas import since): kept.
			a = &areaOut{code: code, level: level, district: code[:min(6, len(code))], acc: newAcc()}
			a.acc.cells = map[Colour]int{}
			areas[code] = a
		}
		return a.acc
	}
	// Each place's points times its cell's fire factor, into its cell and its areas.
	best := map[int64]float64{}
	keys := mapKeys(groups)
	slices.SortFunc(keys, func(a, b areaKey) int {
		return cmp.Or(cmp.Compare(a.h3, b.h3), cmp.Compare(a.district, b.district), cmp.Compare(a.street, b.street), cmp.Compare(a.c, b.c))
	})
	for _, k := range keys {
		g := groups[k]
		c := cells[k.h3]
		var pts float64
		for i := range g.raw {
			pts += g.raw[i] * c.factor
		}
		// The cell's areas: those of its place with the most points; ties go to the
		// smallest codes (keys are sorted, so the first place wins a tie).
		if b, ok := best[k.h3]; !ok || pts > b {
			best[k.h3] = pts
			c.district, c.street, c.c = k.district, k.street, k.c
		}
		for _, a := range []*acc{c.acc, area(k.district, LevelDistrict), area(k.street, LevelStreet), area(k.c, LevelCommunity)} {
			if a != nil {
				a.add(g, c.factor)
			}
		}
	}
	for _, c := range cells {
		c.own = c.acc.score()
	}
	// Spill: every other cell within k rings of a cell with points.
	for _, h := range order {
		c := cells[h]
		if c.own <= 0 {
			continue
		}
		for _, n := range diskOf(c, cfg.Spill.K) {
			if int64(n) != h && n != 0 {
				cells[int64(n)].spill += cfg.Spill.Share * c.own
			}
		}
	}
	// Cells without places of their own take the areas of the neighbour with the most
	// points (ties: the smallest cell).
	for _, h := range order {
		c := cells[h]
		if c.district != "" {
			continue
		}
		var from *cellOut
		for _, n := range diskOf(c, cfg.Spill.K) {
			o := cells[int64(n)]
			if o == nil || o.district == "" || int64(n) == h {
				continue
			}
			if from == nil || o.own > from.own || (o.own == from.own && o.h3 < from.h3) {
				from = o
			}
		}
		if from != nil {
			c.district, c.street, c.c = from.district, from.street, from.c
		}
	}
	th := cfg.Thresholds
	for _, h := range order {
		c := cells[h]
		if c.district == "" {
			continue // unreachable: every cell is a place's or a neighbour's
		}
		c.score = c.own + c.spill
		c.scoreColour = th[LevelCell].Colour(c.score)
		c.floorColour = rankColour(c.acc.floor)
		c.colour = Higher(c.scoreColour, c.floorColour)
		if c.spill > 0 {
			c.acc.top = append(c.acc.top, Contributor{Kind: KindSpill, Detail: fmt.Sprintf("邻近 %d 圈网格 × %g", cfg.Spill.K, cfg.Spill.Share), Points: c.spill})
		}
		finishTop(c.acc, c.score, cellTopN)
		ix.cells = append(ix.cells, c)
		for _, code := range []string{c.district, c.street, c.c} {
			if a := areas[code]; code != "" && a != nil {
				a.acc.cells[c.colour]++
			}
		}
	}
	codes := mapKeys(areas)
	slices.Sort(codes)
	for _, code := range codes {
		a := areas[code]
		a.score = a.acc.score()
		a.scoreColour = th[a.level].Colour(a.score)
		a.floorColour = rankColour(a.acc.floor)
		a.colour = Higher(a.scoreColour, a.floorColour)
		finishTop(a.acc, a.score, topN)
		ix.areas = append(ix.areas, a)
	}
	return ix, nil
}

func (a *acc) add(g *group, factor float64) {
	for i := range g.raw {
		a.parts[i] += g.raw[i] * factor
	}
	for i := range g.counts {
		a.counts[i] += g.counts[i]
	}
	a.floor = max(a.floor, g.floor)
	// A district gathers hundreds of thousands of candidates: the list is cut to topN as
	// it grows, and once cut, a candidate after its last one is skipped (the order is
	// total, so this keeps the same topN).
	for _, t := range g.top {
		t.Points *= factor
		if a.full && topOrder(t, a.cut) >= 0 {
			continue
		}
		a.top = append(a.top, t)
		if len(a.top) > 8*topN {
			sortTop(a.top)
			a.top = a.top[:topN]
			a.full, a.cut = true, a.top[topN-1]
		}
	}
}

// sortTop orders contributors by topOrder.
func sortTop(top []Contributor) { slices.SortFunc(top, topOrder) }

// topOrder: by points, largest first, then kind and id.
func topOrder(x, y Contributor) int {
	return cmp.Or(cmp.Compare(y.Points, x.Points), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.ID, y.ID))
}

// finishTop keeps the topN largest contributors (ties by kind and id) with their shares.
func finishTop(a *acc, score float64, n int) {
	sortTop(a.top)
	if len(a.top) > n {
		a.top = slices.Clip(a.top[:n])
	}
	for i := range a.top {
		if score > 0 {
			a.top[i].Share = a.top[i].Points / score
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// enterpriseSQL: every enterprise's place, level (0 重大 .. 3 低), extras and names, read in
// one scan; Go sums them by place and keeps each place's top topN. $1: whether levels
// are taken as of $2 from enterprise_risk_levels (else the current ones).
var enterpriseSQL = `WITH lv AS (
    SELECT DISTINCT ON (uscc) uscc, risk_level FROM enterprise_risk_levels WHERE $1 AND at <= $2 ORDER BY uscc, at DESC, id DESC
), first AS (
    SELECT DISTINCT ON (uscc) uscc, risk_level FROM enterprise_risk_levels WHERE $1 ORDER BY uscc, at, id
)
SELECT e.h3, ` + placeCodes("e") + `, e.id,
       (array_position(ARRAY['重大', '较大', '一般', '低'], CASE WHEN $1 THEN coalesce(lv.risk_level, first.risk_level, e.risk_level) ELSE e.risk_level END) - 1)::int2,
       e.major_hazard, e.industry LIKE '危化品%', e.uscc, e.name, e.industry
  FROM enterprises e
  LEFT JOIN lv ON $1 AND lv.uscc = e.uscc
  LEFT JOIN first ON $1 AND first.uscc = e.uscc`

// placeCodes are a big table's district, street and community codes as numbers (-1 for
// none): they are the areas' codes (6, 9 and 12 digits, areas.code's check), and numbers
// spare a million rows three strings each.
func placeCodes(t string) string {
	return fmt.Sprintf(`%[1]s.district_code::int8, coalesce(nullif(%[1]s.street_code, '')::int8, -1), coalesce(nullif(%[1]s.community_code, '')::int8, -1)`, t)
}

// placeNums is a place with numeric codes (placeCodes).
type placeNums struct{ h3, d, s, c int64 }

// placeGroups finds the group of a place read with placeCodes.
type placeGroups struct {
	m   map[placeNums]*group
	get func(areaKey) *group
}

func (pg *placeGroups) group(k placeNums) *group {
	if g, ok := pg.m[k]; ok {
		return g
	}
	g := pg.get(areaKey{h3: k.h3, district: areaCode(k.d, 6), street: areaCode(k.s, 9), c: areaCode(k.c, 12)})
	pg.m[k] = g
	return g
}

func areaCode(n int64, digits int) string {
	if n < 0 {
		return ""
	}
	return fmt.Sprintf("%0*d", digits, n)
}

// pushTop keeps top the n first contributors in topOrder, in order.
func pushTop(top []Contributor, c Contributor, n int) []Contributor {
	i := len(top)
	for i > 0 && topOrder(c, top[i-1]) < 0 {
		i--
	}
	if i >= n {
		return top
	}
	if len(top) < n {
		top = append(top, Contributor{})
	}
	copy(top[i+1:], top[i:len(top)-1])
	top[i] = c
	return top
}

func (s *Service) enterprises(ctx context.Context, tx pgx.Tx, cfg Config, asOf time.Time, get func(areaKey) *group) error {
	// Levels as of asOf come from the history unless no level was given after asOf (then
	// the current levels are the same, and the history's join is skipped).
	var history bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM enterprise_risk_levels WHERE at > $1)`, asOf).Scan(&history); err != nil {
		return err
	}
	levels := grid.RiskLevels()
	w := make([]float64, len(levels))
	for i, l := range levels {
		w[i] = cfg.Enterprise[l]
	}
	rows, err := tx.Query(ctx, enterpriseSQL, history, asOf)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The rows are read raw (binary int8, int2, bool and text): a million rows' names
	// become strings only for the contributors that enter a place's top topN.
	// (text is the same bytes in either format; the numbers and booleans must be binary.)
	for i, fd := range rows.FieldDescriptions() {
		if i < 8 && fd.Format != pgx.BinaryFormatCode {
			return fmt.Errorf("enterprises: column %d is not in binary format", i)
		}
	}
	places := &placeGroups{m: map[placeNums]*group{}, get: get}
	i8 := func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 11 || len(v[5]) != 2 {
			return errors.New("enterprises: a row without a known risk level")
		}
		k := placeNums{h3: i8(v[0]), d: i8(v[1]), s: i8(v[2]), c: i8(v[3])}
		id := i8(v[4])
		lvl := int(int16(binary.BigEndian.Uint16(v[5])))
		major, hazchem := v[6][0] == 1, v[7][0] == 1
		if lvl < 0 || lvl >= len(levels) {
			return fmt.Errorf("enterprise %d: unknown risk level", id)
		}
		g := places.group(k)
		pts := w[lvl]
		if major {
			pts += cfg.MajorHazard
			g.counts[nMajor]++
		}
		if hazchem {
			pts += cfg.Hazchem
			g.counts[nHazchem]++
		}
		g.raw[cEnterprise] += pts
		g.counts[nLevel0+lvl]++
		g.floor = max(g.floor, 3-lvl)
		c := Contributor{Kind: KindEnterprise, ID: id, Points: pts}
		if len(g.top) >= topN && topOrder(c, g.top[topN-1]) >= 0 {
			continue
		}
		c.Detail = levels[lvl]
		if major {
			c.Detail += " · 重大危险源"
		}
		c.Code, c.Name, c.Detail = string(v[8]), string(v[9]), c.Detail+" · "+string(v[10])
		g.top = pushTop(g.top, c, topN)
	}
	return rows.Err()
}

// hazardSQL: the hazards open at $1 (reported by then and not closed by then) with their
// place, code and category, whether 重大 and whether overdue (the deadline before $2, the
// Shanghai date of $1). Open ones are a tenth of all: their names come in the same scan.
var hazardSQL = `SELECT h3, ` + placeCodes("hazards") + `, id, code, category, level = '重大',
       coalesce(deadline < $2::date, false)
  FROM hazards
 WHERE reported_at <= $1 AND (closed_at > $1 OR (closed_at IS NULL AND status <> 'closed'))`

func (s *Service) hazards(ctx context.Context, tx pgx.Tx, cfg Config, asOf time.Time, get func(areaKey) *group) error {
	day := asOf.In(grid.ShanghaiZone()).Format(time.DateOnly)
	rows, err := tx.Query(ctx, hazardSQL, asOf, day)
	if err != nil {
		return err
	}
	defer rows.Close()
	var k placeNums
	var id int64
	var code, category string
	var major, overdue bool
	places := &placeGroups{m: map[placeNums]*group{}, get: get}
	for rows.Next() {
		if err := rows.Scan(&k.h3, &k.d, &k.s, &k.c, &id, &code, &category, &major, &overdue); err != nil {
			return err
		}
		g := places.group(k)
		pts, detail := cfg.Hazard["一般"], "一般"
		if major {
			pts, detail = cfg.Hazard["重大"], "重大 · 挂牌督办"
			g.counts[nMajorOpen]++
		}
		if overdue {
			pts *= cfg.HazardOverdue
			detail += " · 逾期"
			g.counts[nOverdue]++
		}
		g.counts[nOpen]++
		g.raw[cHazard] += pts
		g.top = pushTop(g.top, Contributor{Kind: KindHazard, ID: id, Code: code, Name: category, Detail: detail, Points: pts}, topN)
	}
	return rows.Err()
}

// pipelineSQL: the pipelines with the cells they cross and their UTM 51N lines as WKB.
const pipelineSQL = `SELECT district_code, coalesce(street_code, ''), coalesce(community_code, ''), id, code, coalesce(name, ''), pressure,
       h3_cells, ST_AsBinary(geom_m)
  FROM pipelines`

// utmSQL transforms lon/lat points ($1, $2) to UTM 51N, in order.
const utmSQL = `SELECT ST_X(m), ST_Y(m) FROM (
    SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), 32651) AS m
      FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i)) q ORDER BY i`

type xy struct{ x, y float64 }

// toUTM transforms lon/lat points to UTM 51N through PostGIS (the projection every
// distance in SafeGrid uses).
func toUTM(ctx context.Context, tx pgx.Tx, lons, lats []float64) ([]xy, error) {
	rows, err := tx.Query(ctx, utmSQL, lons, lats)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (xy, error) {
		var p xy
		return p, r.Scan(&p.x, &p.y)
	})
}

// hexUTM is a cell's hexagon in UTM 51N: its h3-go boundary vertices transformed, counter-
// clockwise, with its bounding box.
type hexUTM struct {
	v                      []xy
	minX, minY, maxX, maxY float64
}

// clipLength is the length of the segment a→b inside the convex hexagon h (Cyrus–Beck):
// the same as PostGIS's ST_Length(ST_Intersection(segment, polygon)) for a convex polygon.
func (h *hexUTM) clipLength(a, b xy) float64 {
	if max(a.x, b.x) < h.minX || min(a.x, b.x) > h.maxX || max(a.y, b.y) < h.minY || min(a.y, b.y) > h.maxY {
		return 0
	}
	dx, dy := b.x-a.x, b.y-a.y
	t0, t1 := 0.0, 1.0
	n := len(h.v)
	for i := range n {
		p, q := h.v[i], h.v[(i+1)%n]
		// The inward normal of a counter-clockwise edge is its left normal.
		nx, ny := -(q.y - p.y), q.x-p.x
		f := nx*(a.x-p.x) + ny*(a.y-p.y)
		g := nx*dx + ny*dy
		switch {
		case g == 0:
			if f < 0 {
				return 0
			}
		case g > 0:
			t0 = max(t0, -f/g)
		default:
			t1 = min(t1, -f/g)
		}
		if t0 >= t1 {
			return 0
		}
	}
	return (t1 - t0) * math.Hypot(dx, dy)
}

// pipelines: a pipeline's km in each cell it crosses (its UTM 51N line inside the cell's
// hexagon, the h3 boundary's vertices in UTM 51N) count for that cell and for the
// pipeline's own areas (its district, street and community: those of its midpoint, as
// everywhere else).
func (s *Service) pipelines(ctx context.Context, tx pgx.Tx, cfg Config, get func(areaKey) *group) error {
	type pipe struct {
		k        areaKey
		c        Contributor
		pressure string
		cells    []int64
		lines    [][]xy
	}
	rows, err := tx.Query(ctx, pipelineSQL)
	if err != nil {
		return err
	}
	var pipes []pipe
	hexes := map[int64]*hexUTM{}
	for rows.Next() {
		var p pipe
		var raw []byte
		if err := rows.Scan(&p.k.district, &p.k.street, &p.k.c, &p.c.ID, &p.c.Code, &p.c.Name, &p.pressure, &p.cells, &raw); err != nil {
			rows.Close()
			return err
		}
		g, err := wkb.Unmarshal(raw)
		if err != nil {
			rows.Close()
			return fmt.Errorf("pipeline %s: %w", p.c.Code, err)
		}
		if ml, ok := g.(*geom.MultiLineString); ok {
			for i := range ml.NumLineStrings() {
				var line []xy
				for _, c := range ml.LineString(i).Coords() {
					line = append(line, xy{c.X(), c.Y()})
				}
				p.lines = append(p.lines, line)
			}
		}
		for _, h := range p.cells {
			hexes[h] = nil
		}
		pipes = append(pipes, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ids := mapKeys(hexes)
	var lons, lats []float64
	for _, h := range ids {
		for _, v := range h3.CellToBoundary(h3.Cell(h)) {
			lons, lats = append(lons, v.Lng), append(lats, v.Lat)
		}
	}
	pts, err := toUTM(ctx, tx, lons, lats)
	if err != nil {
		return err
	}
	at := 0
	for _, h := range ids {
		n := len(h3.CellToBoundary(h3.Cell(h)))
		hx := &hexUTM{v: pts[at : at+n], minX: math.Inf(1), minY: math.Inf(1), maxX: math.Inf(-1), maxY: math.Inf(-1)}
		for _, v := range hx.v {
			hx.minX, hx.maxX, hx.minY, hx.maxY = min(hx.minX, v.x), max(hx.maxX, v.x), min(hx.minY, v.y), max(hx.maxY, v.y)
		}
		hexes[h] = hx
		at += n
	}
	for _, p := range pipes {
		for _, h := range p.cells {
			hx := hexes[h]
			var m float64
			for _, line := range p.lines {
				for i := 0; i+1 < len(line); i++ {
					m += hx.clipLength(line[i], line[i+1])
				}
			}
			if m <= 0 {
				continue
			}
			km := m / 1000
			k := p.k
			k.h3 = h
			g := get(k)
			c := p.c
			c.Kind = KindPipeline
			c.Points = cfg.Pipeline[p.pressure] * km
			c.Detail = fmt.Sprintf("%s %.2f km", p.pressure, km)
			g.raw[cPipeline] += c.Points
			g.counts[nKm] += km
			g.top = append(g.top, c)
		}
	}
	return nil
}

const sitesSQL = `SELECT 'gas_site', h3, district_code, coalesce(street_code, ''), coalesce(community_code, ''), id, code, occupant, status
  FROM gas_occupancy_sites
UNION ALL
SELECT 'underground', h3, district_code, coalesce(street_code, ''), coalesce(community_code, ''), id, code, coalesce(name, ''), use
  FROM underground_spaces`

// sitesAndSpaces: gas occupancy sites and underground spaces, each in its h3 cell (a
// polygon's: the cell of its representative point, as the importer tags it).
func (s *Service) sitesAndSpaces(ctx context.Context, tx pgx.Tx, cfg Config, get func(areaKey) *group) error {
	rows, err := tx.Query(ctx, sitesSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, class string
		var k areaKey
		var c Contributor
		if err := rows.Scan(&kind, &k.h3, &k.district, &k.street, &k.c, &c.ID, &c.Code, &c.Name, &class); err != nil {
			return err
		}
		g := get(k)
		c.Detail = class
		if kind == "gas_site" {
			c.Kind, c.Points = KindGasSite, cfg.GasSite[class]
			g.raw[cGasSite] += c.Points
			g.counts[nSites]++
		} else {
			c.Kind, c.Points = KindUnderground, cfg.Underground[class]
			g.raw[cUnderground] += c.Points
			g.counts[nSpaces]++
		}
		g.top = append(g.top, c)
	}
	return rows.Err()
}

// fire sets each cell's response time (minutes from the nearest existing station:
// straight-line metres in UTM 51N from the cell's centre × detour at speed) and factor.
func (s *Service) fire(ctx context.Context, tx pgx.Tx, f FireTerm, order []int64, cells map[int64]*cellOut) error {
	rows, err := tx.Query(ctx, `SELECT ST_X(geom_m), ST_Y(geom_m) FROM fire_stations WHERE status = 'existing'`)
	if err != nil {
		return err
	}
	st, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (xy, error) {
		var p xy
		return p, r.Scan(&p.x, &p.y)
	})
	if err != nil {
		return err
	}
	lons, lats := make([]float64, len(order)), make([]float64, len(order))
	for i, h := range order {
		ll := h3.CellToLatLng(h3.Cell(h))
		lons[i], lats[i] = ll.Lng, ll.Lat
	}
	centres, err := toUTM(ctx, tx, lons, lats)
	if err != nil {
		return err
	}
	perMin := f.SpeedKmh * 1000 / 60
	for i, h := range order {
		d := math.Inf(1)
		for _, p := range st {
			d = min(d, math.Hypot(p.x-centres[i].x, p.y-centres[i].y))
		}
		c := cells[h]
		c.minutes = d * f.Detour / perMin
		c.factor = 1 + f.Factor*min(1, max(0, (c.minutes-f.ReachMinutes)/f.ReachMinutes))
	}
	return nil
}

// hexPolygon is the cell's hexagon (risk_cells.geom).
func hexPolygon(c h3.Cell) *geom.Polygon {
	b := h3.CellToBoundary(c)
	ring := make([]geom.Coord, 0, len(b)+1)
	for _, p := range append(b, b[0]) {
		ring = append(ring, geom.Coord{p.Lng, p.Lat})
	}
	return geom.NewPolygon(geom.XY).MustSetCoords([][]geom.Coord{ring}).SetSRID(4326)
}

// appendParts writes the parts as JSON: the points by component, and for a cell
// (spill ≥ 0) its spill, fire minutes and factor.
func (a *acc) appendParts(b []byte, spill, minutes, factor float64) []byte {
	b = append(b, '{')
	for i, n := range components {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNumber(appendJSONString(b, n), a.parts[i])
	}
	if spill >= 0 {
		b = appendNumber(append(b, `,"spill"`...), spill)
		b = appendNumber(append(b, `,"fire_minutes"`...), minutes)
		b = appendNumber(append(b, `,"fire_factor"`...), factor)
	}
	return append(b, '}')
}

// appendNumber writes :v (a finite number: the configuration is validated).
func appendNumber(b []byte, v float64) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return append(b, ":null"...)
	}
	return strconv.AppendFloat(append(b, ':'), v, 'g', -1, 64)
}

// appendTop writes contributors as JSON, as encoding/json would (Contributor's tags).
func appendTop(b []byte, top []Contributor) []byte {
	b = append(b, '[')
	for i, c := range top {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(append(b, `{"kind":`...), c.Kind)
		if c.ID != 0 {
			b = strconv.AppendInt(append(b, `,"id":`...), c.ID, 10)
		}
		for _, f := range [...]struct{ k, v string }{{`,"code":`, c.Code}, {`,"name":`, c.Name}, {`,"detail":`, c.Detail}} {
			if f.v != "" {
				b = appendJSONString(append(b, f.k...), f.v)
			}
		}
		b = appendNumber(append(b, `,"points"`...), c.Points)
		b = appendNumber(append(b, `,"share"`...), c.Share)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString writes s as a JSON string (invalid UTF-8 as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Runs of bytes that need no escape (most names: valid UTF-8 without quotes or
	// controls) are copied whole; invalid UTF-8 becomes U+FFFD as encoding/json writes it.
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(append(b, s[start:i]...), "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c == '"' || c == '\\' || c < 0x20 {
			b = append(b, s[start:i]...)
			if c < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, c)
			} else {
				b = append(b, '\\', c)
			}
			i++
			start = i
			continue
		}
		i++
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (a *acc) countsJSON() map[string]any {
	out := map[string]any{}
	levels := map[string]float64{}
	for i, l := range grid.RiskLevels() {
		levels[l] = a.counts[nLevel0+i]
	}
	out["enterprises"] = levels
	for i := nMajor; i < nCounts; i++ {
		out[countNames[i]] = a.counts[i]
	}
	if a.cells != nil {
		cells := map[string]int{}
		for _, c := range Colours() {
			cells[string(c)] = a.cells[c]
		}
		out["cells"] = cells
	}
	return out
}

func nullColour(c Colour) *string {
	if c == "" {
		return nil
	}
	s := string(c)
	return &s
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// write copies the cells and areas of snapshot id in.
func (ix *index) write(ctx context.Context, tx pgx.Tx, id int64) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"risk_cells"},
		[]string{"snapshot_id", "district_code", "h3", "street_code", "community_code", "own", "spill", "score", "score_colour", "floor_colour", "colour", "parts", "top", "geom"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(ix.cells) {
				return nil, nil
			}
			c := ix.cells[i]
			i++
			// Written by hand: encoding/json's reflection took most of the write's time.
			parts := c.acc.appendParts(nil, c.spill, c.minutes, c.factor)
			top := appendTop(nil, c.acc.top)
			return []any{id, c.district, c.h3, nullText(c.street), nullText(c.c), c.own, c.spill, c.score, string(c.scoreColour),
				nullColour(c.floorColour), string(c.colour), parts, top, hexPolygon(h3.Cell(c.h3))}, nil
		}))
	if err != nil {
		return fmt.Errorf("writing the cells: %w", err)
	}
	j := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"risk_areas"},
		[]string{"snapshot_id", "district_code", "code", "level", "score", "score_colour", "floor_colour", "colour", "parts", "top", "counts"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if j >= len(ix.areas) {
				return nil, nil
			}
			a := ix.areas[j]
			j++
			parts := a.acc.appendParts(nil, -1, 0, 0)
			top := appendTop(nil, a.acc.top)
			counts, err := json.Marshal(a.acc.countsJSON())
			if err != nil {
				return nil, err
			}
			return []any{id, a.district, a.code, a.level, a.score, string(a.scoreColour), nullColour(a.floorColour), string(a.colour), parts, top, counts}, nil
		}))
	if err != nil {
		return fmt.Errorf("writing the areas: %w", err)
	}
	return nil
}

// summary: cells and areas by colour per level, and what was counted city-wide.
func (ix *index) summary() map[string]any {
	by := map[string]map[string]int{}
	for _, lv := range Levels() {
		by[lv] = map[string]int{}
		for _, c := range Colours() {
			by[lv][string(c)] = 0
		}
	}
	for _, c := range ix.cells {
		by[LevelCell][string(c.colour)]++
	}
	total := newAcc()
	for _, a := range ix.areas {
		by[a.level][string(a.colour)]++
		if a.level == LevelDistrict {
			for i := range a.acc.counts {
				total.counts[i] += a.acc.counts[i]
			}
		}
	}
	counts := total.countsJSON()
	return map[string]any{"colours": by, "counts": counts}
}
