package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// Bulk path: an import into an empty table loads the rows the in-memory tagger settled
// straight into the table by COPY, with the table's secondary indexes dropped and built
// again at the end, inside the import's transaction (so still all or nothing). The rows
// area_tag or ST_MakeValid must see still go through staging and the usual SQL. Every
// kind but areas takes it; the first history rows of hazards (hazard_history) and
// enterprises (enterprise_risk_levels) are written afterwards from the loaded table in one
// INSERT … SELECT (bulkChildSQL), into their table truncated and stripped of its secondary
// indexes too when it is empty (prepareChild).

// bulkKind tells whether kind k can take the bulk path: areas keep their own write
// (parents, parts). Hazards and enterprises take it too: their first history rows
// (bulkChild) are written from the loaded table after the COPY.
func bulkKind(k *grid.Kind) bool { return k.Name != "areas" }

// noBulk, as a context value, keeps an import on the SQL path even into an empty table: the
// tests load the same file both ways and compare the tables.
type noBulk struct{}

// bulkChild is the table the bulk path fills from k's loaded table after the COPY, with
// bulkChildSQL: a hazard's history starts with its import, an enterprise's risk-level
// history with its first level.
func bulkChild(k *grid.Kind) string {
	switch k.Name {
	case "hazards":
		return "hazard_history"
	case "enterprises":
		return "enterprise_risk_levels"
	}
	return ""
}

// bulkChildSQL writes the rows of bulkChild(k) for every row of k's table (all of them the
// import's: the table was empty), as the SQL path's INSERT … RETURNING and riskLevelSteps
// write them for each row they insert. $1 is the actor.
func bulkChildSQL(k *grid.Kind) string {
	switch k.Name {
	case "hazards":
		return `INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, note, at)
SELECT district_code, id, NULL, status, $1, 'imported', reported_at FROM hazards`
	case "enterprises":
		return bulkRiskLevelSQL
	}
	return ""
}

// prepareChild readies an empty child table for bulkChildSQL the way bulkTable readies the
// main one: locked, truncated in the transaction (no write-ahead log with wal_level
// minimal) and its secondary indexes dropped, to be built once after the insert. A child
// holding rows (enterprise_risk_levels outlives its enterprises) keeps its indexes and is
// written row by row. Its foreign keys (hazard_history's to hazards) are not checked row by
// row while deferForeignKeys has the triggers off: its rows are made from the rows of the
// table they refer to, in the same statement.
func prepareChild(ctx context.Context, tx pgx.Tx, table string) (droppedIndexes, error) {
	var empty bool
	q := "SELECT NOT EXISTS (SELECT 1 FROM " + pg.Ident(table) + ")"
	if err := tx.QueryRow(ctx, q).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pg.Ident(table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return nil, err
	}
	if err := tx.QueryRow(ctx, q).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	if err := truncateEmpty(ctx, tx, table); err != nil {
		return nil, err
	}
	return dropSecondaryIndexes(ctx, tx, table)
}

// bulkTable locks k's table and reports whether it is empty. It looks without a lock
// first so that imports into a loaded table do not block its writers.
func bulkTable(ctx context.Context, tx pgx.Tx, k *grid.Kind) (bool, error) {
	if !bulkKind(k) || ctx.Value(noBulk{}) != nil {
		return false, nil
	}
	table := pg.Ident(k.Table)
	var empty bool
	q := "SELECT NOT EXISTS (SELECT 1 FROM " + table + ")"
	if err := tx.QueryRow(ctx, q).Scan(&empty); err != nil || !empty {
		return false, err
	}
	// The indexes are dropped below, which takes ACCESS EXCLUSIVE anyway; taking it now
	// avoids upgrading a weaker lock later.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return false, err
	}
	if err := tx.QueryRow(ctx, q).Scan(&empty); err != nil || !empty {
		return false, err
	}
	return true, truncateEmpty(ctx, tx, k.Table)
}

// truncateEmpty truncates table, which is empty and locked, in the import's transaction:
// the table gets new files, so on a server with wal_level = minimal (the private cluster's
// setting) the COPY and the index builds after it skip the write-ahead log; the files are
// synced at commit instead (PostgreSQL manual, "Populating a Database"). Tables whose
// foreign keys point at table, directly or through others, are empty too (they can only
// point at rows that exist), and TRUNCATE must name them; a table holding rows anyway (a key created NOT VALID) keeps
// the plain path's behaviour: no truncate.
func truncateEmpty(ctx context.Context, tx pgx.Tx, table string) error {
	rows, err := tx.Query(ctx, `
WITH RECURSIVE refs (rel) AS (
    SELECT $1::regclass::oid
    UNION
    SELECT c.conrelid FROM pg_constraint c JOIN refs ON c.confrelid = refs.rel WHERE c.contype = 'f')
SELECT rel::regclass::text FROM refs WHERE rel <> $1::regclass::oid`, pg.Ident(table))
	if err != nil {
		return err
	}
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	names := []string{pg.Ident(table)}
	for _, r := range refs {
		// r comes from regclass output: quoted where needed already.
		var empty bool
		if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+r+")").Scan(&empty); err != nil {
			return err
		}
		if !empty {
			return nil
		}
		names = append(names, r)
	}
	_, err = tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", "))
	return err
}

// droppedIndexes are secondary indexes and unique constraints dropped for a load, to be
// created again: CREATE INDEX and ALTER TABLE … ADD CONSTRAINT statements.
type droppedIndexes []string

// dropSecondaryIndexes drops the indexes of table that back no constraint (the primary
// key and unique constraints stay: other tables refer to the key) and returns their
// definitions from pg_indexes.
func dropSecondaryIndexes(ctx context.Context, tx pgx.Tx, table string) (droppedIndexes, error) {
	rows, err := tx.Query(ctx, `
SELECT format('%I.%I', x.schemaname, x.indexname), x.indexdef
  FROM pg_indexes x
 WHERE x.schemaname = current_schema() AND x.tablename = $1
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conindid = format('%I.%I', x.schemaname, x.indexname)::regclass)
 ORDER BY x.indexname`, table)
	if err != nil {
		return nil, err
	}
	var names []string
	var defs droppedIndexes
	var name, def string
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		names = append(names, name)
		defs = append(defs, def)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(names) > 0 {
		if _, err := tx.Exec(ctx, "DROP INDEX "+strings.Join(names, ", ")); err != nil {
			return nil, err
		}
	}
	// Unique constraints no foreign key depends on: checking one row at a time costs
	// more than building the index once (1M enterprises: COPY 14.1 s -> 8.4 s, the
	// index 2.0 s). Keys are unique within the file already (recordSource). The primary
	// key stays (other tables refer to it; building it afterwards saves well under a
	// second), and so do foreign keys: dropping one locks the referenced table (areas)
	// against every reader until commit.
	rows, err = tx.Query(ctx, `
SELECT c.conname, pg_get_constraintdef(c.oid)
  FROM pg_constraint c
 WHERE c.conrelid = $1::regclass AND c.contype = 'u'
   AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
 ORDER BY c.conname`, pg.Ident(table))
	if err != nil {
		return nil, err
	}
	var cons []string
	if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		cons = append(cons, name)
		defs = append(defs, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", pg.Ident(table), pg.Ident(name), def))
		return nil
	}); err != nil {
		return nil, err
	}
	for _, c := range cons {
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", pg.Ident(table), pg.Ident(c))); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// bulkSettings give index builds of this transaction memory and parallel workers.
func bulkSettings(ctx context.Context, tx pgx.Tx) error {
	workers := min(runtime.NumCPU(), 8)
	_, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL maintenance_work_mem = '1GB';
SET LOCAL max_parallel_maintenance_workers = %d`, workers))
	return err
}

// create builds the dropped indexes again.
func (d droppedIndexes) create(ctx context.Context, tx pgx.Tx, trace *tracer) error {
	for _, def := range d {
		trace.step(firstLine(def))
		if _, err := tx.Exec(ctx, def); err != nil {
			return fmt.Errorf("re-create index: %w", err)
		}
	}
	return nil
}

// tableColumns are the columns the bulk COPY fills, in the order of tableValues.
func tableColumns(k *grid.Kind) []string {
	cols := []string{"district_code", "street_code", "community_code"}
	for _, f := range k.Fields {
		cols = append(cols, f.Name)
	}
	cols = append(cols, "h3")
	if hasCells(k) {
		cols = append(cols, "h3_cells")
	}
	return append(cols, "geom")
}

// splitSource hands the settled records to the table's COPY (copyReader) and keeps the
// others for staging.
type splitSource struct {
	src  *recordSource
	k    *grid.Kind
	left []record
	n    int
}

// nextSettled returns the next record for the table, keeping the others aside.
func (s *splitSource) nextSettled() (record, bool) {
	for {
		rec, ok := s.src.nextRecord()
		if !ok {
			return record{}, false
		}
		if rec.tagSQL || rec.repair {
			s.left = append(s.left, rec)
			continue
		}
		s.n++
		return rec, true
	}
}

// leftSource copies the kept records into staging.
type leftSource struct {
	k    *grid.Kind
	recs []record
	i    int
	vals []any
}

func (s *leftSource) Next() bool {
	if s.i >= len(s.recs) {
		return false
	}
	s.vals = stagingValues(s.k, s.recs[s.i], s.vals[:0])
	s.i++
	return true
}

func (s *leftSource) Values() ([]any, error) { return s.vals, nil }
func (s *leftSource) Err() error             { return nil }

// foreignKeys are a table's foreign keys, checked once after a bulk load instead of row
// by row. Row by row, each check is a query and a row lock on the referenced row: for
// 1,000,000 enterprises against 16 districts that is 4.2 of the COPY's 9.1 seconds.
type foreignKeys []foreignKey

type foreignKey struct {
	name, ref  string   // constraint; referenced table (regclass text, quoted)
	cols, refs []string // referencing and referenced columns, in key order
}

// deferForeignKeys turns table's foreign-key triggers off for the rest of the transaction
// with session_replication_role = replica (what pg_restore --disable-triggers does) and
// locks the referenced tables in SHARE mode, so that no referenced key can go away before
// commit (readers are not blocked). It needs the right to set that parameter (a
// superuser, as on the private cluster, or GRANT SET ON PARAMETER); without it, or when
// table has triggers of its own that replica mode would silence (those ENABLE ALWAYS
// still fire), it returns nil and the keys are checked row by row as usual. The caller must call check before commit.
func deferForeignKeys(ctx context.Context, tx pgx.Tx, table string) (foreignKeys, error) {
	var may bool
	if err := tx.QueryRow(ctx, `
SELECT has_parameter_privilege('session_replication_role', 'SET')
   AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'A')`, pg.Ident(table)).Scan(&may); err != nil || !may {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
SELECT c.conname, c.confrelid::regclass::text,
       array_agg(a.attname::text ORDER BY k.n), array_agg(fa.attname::text ORDER BY k.n)
  FROM pg_constraint c
 CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k (col, fcol, n)
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
  JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.fcol
 WHERE c.conrelid = $1::regclass AND c.contype = 'f'
 GROUP BY c.oid, c.conname, c.confrelid
 ORDER BY c.conname`, pg.Ident(table))
	if err != nil {
		return nil, err
	}
	var fks foreignKeys
	var fk foreignKey
	if _, err := pgx.ForEachRow(rows, []any{&fk.name, &fk.ref, &fk.cols, &fk.refs}, func() error {
		fks = append(fks, fk)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(fks) == 0 {
		return nil, nil
	}
	for _, fk := range fks {
		if _, err := tx.Exec(ctx, "LOCK TABLE "+fk.ref+" IN SHARE MODE"); err != nil {
			return nil, err
		}
	}
	_, err = tx.Exec(ctx, "SET LOCAL session_replication_role = replica")
	return fks, err
}

// check turns the triggers back on and checks every key of table with one anti-join
// each (MATCH SIMPLE: a key with a NULL column refers to nothing).
func (fks foreignKeys) check(ctx context.Context, tx pgx.Tx, table string) error {
	if fks == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = DEFAULT"); err != nil {
		return err
	}
	for _, fk := range fks {
		var notNull, match, shown []string
		for i, c := range fk.cols {
			notNull = append(notNull, "t."+pg.Ident(c)+" IS NOT NULL")
			match = append(match, "r."+pg.Ident(fk.refs[i])+" = t."+pg.Ident(c))
			shown = append(shown, "t."+pg.Ident(c)+"::text")
		}
		q := fmt.Sprintf("SELECT concat_ws(', ', %s) FROM %s t WHERE %s AND NOT EXISTS (SELECT 1 FROM %s r WHERE %s) LIMIT 1",
			strings.Join(shown, ", "), pg.Ident(table), strings.Join(notNull, " AND "), fk.ref, strings.Join(match, " AND "))
		var bad string
		err := tx.QueryRow(ctx, q).Scan(&bad)
		if err == nil {
			return fmt.Errorf("%s: %s (%s) = (%s) is not in %s", table, fk.name, strings.Join(fk.cols, ", "), bad, fk.ref)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	return nil
}
