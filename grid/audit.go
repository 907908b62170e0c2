package grid

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// The kinds of object an audit record is about (audit_log.object_kind).
const (
	AuditHazard     = "hazard"     // object: the hazard's code
	AuditEnterprise = "enterprise" // object: the USCC (an inspection)
	AuditUser       = "user"       // object: the username
	AuditSession    = "session"    // object: the username whose session it is (login, logout)
	AuditUnit       = "unit"       // object: the grid unit's code
	AuditDataset    = "dataset"    // object: the kind imported (enterprises, areas, ...)
	AuditWebhook    = "webhook"    // object: the webhook's id
	// AuditNotification: object the notification's id, or "all" for marking all read.
	AuditNotification = "notification"
	AuditPhoto        = "photo" // object: the photo's id (an upload, a sweep's removal)
	// The risk assessment's (grid/risk): an early warning 预警 (object: its id) and a
	// joint-control zone 联动联控区 (object: its code).
	AuditRiskWarning = "risk_warning"
	AuditRiskZone    = "risk_zone"
)

var auditKinds = []string{AuditHazard, AuditEnterprise, AuditUser, AuditSession, AuditUnit, AuditDataset, AuditWebhook, AuditNotification, AuditPhoto,
	AuditRiskWarning, AuditRiskZone}

// AuditKinds are the kinds of object an audit record can be about.
func AuditKinds() []string { return slices.Clone(auditKinds) }

// AuditEntry is one record to write in the audit log 审计日志: who did what to which object,
// where.
type AuditEntry struct {
	Actor  string // Principal.Actor(), or "cli:<os user>"
	Action string // hazard_registered, inspection, user_add, login, assign, import, ...
	Kind   string // one of AuditKinds, or empty for a record about no object
	Object string // the object's key (see the Audit* kinds); stored as target too
	Street string // the 9-digit street the object lies in, when it has one
	// Details is stored as JSON (nil for none).
	Details any
}

// auditKindOf is the kind an action's object has, for the records written through Audit,
// which names no kind. The migration 00010 backfills older records with the same rule.
func auditKindOf(action string) string {
	switch {
	case strings.HasPrefix(action, "hazard_"):
		return AuditHazard
	case action == "inspection":
		return AuditEnterprise
	case strings.HasPrefix(action, "user_"), strings.HasPrefix(action, "password_"):
		return AuditUser
	case action == "login", action == "login_failed", action == "logout", strings.HasPrefix(action, "session_"):
		return AuditSession
	case strings.HasPrefix(action, "unit_"), action == "assign", action == "unassign":
		return AuditUnit
	case action == "import":
		return AuditDataset
	case strings.HasPrefix(action, "webhook_"):
		return AuditWebhook
	case strings.HasPrefix(action, "notification"):
		return AuditNotification
	}
	return ""
}

// Audit records a write in audit_log. Pass the transaction that makes the write as q, so
// the record commits or rolls back with it; nil means the pool. details is stored as JSON
// (nil for none). The object's kind follows from the action (user_* a user, login a
// session, ...); Record names it, and the object's street, explicitly.
func (s *Store) Audit(ctx context.Context, q Querier, actor, action, target string, details any) error {
	return s.Record(ctx, q, AuditEntry{Actor: actor, Action: action, Kind: auditKindOf(action), Object: target, Details: details})
}

// recordSQL writes one record. A user's or a session's record without a street takes the
// user's own (a street office's) street; users is a small reference table.
const recordSQL = `INSERT INTO audit_log (actor, action, target, details, object_kind, object_id, street_code)
VALUES ($1, $2, $3, $4, $5, $3, coalesce($6, CASE WHEN $5 IN ('user', 'session')
    THEN (SELECT u.street_code FROM users u WHERE u.username = $3) END))`

// Record writes e in audit_log, inside q (a transaction, so the record commits or rolls
// back with the write it records; nil means the pool). The log is append-only: nothing
// can change or remove a record afterwards (migration 00010).
func (s *Store) Record(ctx context.Context, q Querier, e AuditEntry) error {
	if q == nil {
		q = s.pool
	}
	if e.Kind != "" && !slices.Contains(auditKinds, e.Kind) {
		return fmt.Errorf("audit record %s: unknown object kind %q", e.Action, e.Kind)
	}
	var js []byte
	if e.Details != nil {
		var err error
		if js, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
	}
	_, err := q.Exec(ctx, recordSQL, e.Actor, e.Action, nullText(e.Object), js, nullText(e.Kind), nullText(e.Street))
	return err
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AuditMaxRows is the most records one read of the audit log returns (an export's cap).
const AuditMaxRows = 100_000

// AuditFilter selects audit records. Empty fields select everything; each one given
// narrows the result. From is inclusive, To exclusive.
type AuditFilter struct {
	Actor, Action string
	Kind, Object  string
	Street        string // a 9-digit street code that exists
	From, To      time.Time
	Limit, Offset int // Limit from 1 to AuditMaxRows
}

// AuditRecord is one record of the audit log as it is read.
type AuditRecord struct {
	ID      int64
	At      time.Time
	Actor   string
	Action  string
	Kind    *string
	Object  *string
	Street  *string
	Details json.RawMessage // nil when the record has none
}

var streetCodeRe = regexp.MustCompile(`^[0-9]{9}$`)

// auditTextMax bounds a text filter: longer than any actor, action or key written.
const auditTextMax = 200

// check refuses what no record can match and what the database cannot take (NUL bytes,
// invalid UTF-8), naming the filter as the HTTP layer names its query parameters.
func (f *AuditFilter) check() error {
	for _, t := range []struct{ name, v string }{{"actor", f.Actor}, {"action", f.Action}, {"object", f.Object}} {
		switch {
		case !utf8.ValidString(t.v) || strings.ContainsRune(t.v, 0):
			return &InvalidError{Field: t.name, Reason: "must be UTF-8 text without NUL characters"}
		case utf8.RuneCountInString(t.v) > auditTextMax:
			return &InvalidError{Field: t.name, Reason: fmt.Sprintf("at most %d characters", auditTextMax)}
		}
	}
	if f.Kind != "" && !slices.Contains(auditKinds, f.Kind) {
		return &InvalidError{Field: "kind", Reason: fmt.Sprintf("%q is not one of %s", f.Kind, strings.Join(auditKinds, ", "))}
	}
	if f.Street != "" && !streetCodeRe.MatchString(f.Street) {
		return &InvalidError{Field: "street", Reason: "a street code is 9 digits"}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.From.After(f.To) {
		return &InvalidError{Field: "from", Reason: "is after to"}
	}
	if f.Limit < 1 || f.Limit > AuditMaxRows {
		return &InvalidError{Field: "limit", Reason: fmt.Sprintf("must be from 1 to %d", AuditMaxRows)}
	}
	if f.Offset < 0 {
		return &InvalidError{Field: "offset", Reason: "must be 0 or more"}
	}
	return nil
}

// where is the filter as SQL conditions over audit_log, the values bound in order. The
// condition texts are this function's own; only values come from the caller.
func (f *AuditFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Actor != "" {
		add("actor = $?", f.Actor)
	}
	if f.Action != "" {
		add("action = $?", f.Action)
	}
	if f.Kind != "" {
		add("object_kind = $?", f.Kind)
	}
	if f.Object != "" {
		add("object_id = $?", f.Object)
	}
	if f.Street != "" {
		add("street_code = $?", f.Street)
	}
	if !f.From.IsZero() {
		add("at >= $?", f.From)
	}
	if !f.To.IsZero() {
		add("at < $?", f.To)
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// AuditLog lists the audit records matching f, newest first (by time, then id), one page,
// and how many match in all. A bad filter is an InvalidError naming it (actor, action,
// kind, object, street, from, limit, offset); a street code no street has is one too.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditRecord, int, error) {
	if err := f.check(); err != nil {
		return nil, 0, err
	}
	if f.Street != "" {
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1 AND level = 'street')`, f.Street).Scan(&ok); err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, &InvalidError{Field: "street", Reason: fmt.Sprintf("no street has the code %s", f.Street)}
		}
	}
	where, args := f.where()
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	n := len(args)
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, object_kind, object_id, street_code, details
  FROM audit_log`+where+fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d OFFSET $%d`, n+1, n+2),
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditRecord, error) {
		var a AuditRecord
		var details []byte
		err := r.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.Kind, &a.Object, &a.Street, &details)
		if details != nil {
			a.Details = json.RawMessage(details)
		}
		return a, err
	})
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = []AuditRecord{}
	}
	return out, total, nil
}

// AuditGuard says how far the database itself holds the audit log append-only for the
// role the store connects as. The trigger refuses UPDATE, DELETE and TRUNCATE for every
// role; a superuser or the table's owner could still disable or drop it, which only a
// role that is neither can be kept from (docs/SECURITY.md, "The audit log").
type AuditGuard struct {
	Superuser bool // the role is a superuser
	Owner     bool // the role owns audit_log
}

// AuditGuard reads the role's standing towards audit_log.
func (s *Store) AuditGuard(ctx context.Context) (AuditGuard, error) {
	var g AuditGuard
	err := s.pool.QueryRow(ctx, `SELECT r.rolsuper, coalesce(pg_has_role(c.relowner, 'USAGE'), false)
  FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('audit_log')
 WHERE r.rolname = current_user`).Scan(&g.Superuser, &g.Owner)
	return g, err
}
