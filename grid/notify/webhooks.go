package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Webhook is an HTTP endpoint an admin set up for a street or a district: every message
// to that street office or district is POSTed to it as JSON, signed with its secret.
type Webhook struct {
	ID                  int64
	Name                string
	URL                 string
	ScopeKind           string // grid.RecipientStreet or grid.RecipientDistrict
	ScopeCode           string
	ConsecutiveFailures int
	DisabledAt          *time.Time
	DisabledReason      string
	LastSuccessAt       *time.Time
	LastFailureAt       *time.Time
	Pending             int // deliveries not yet made
	CreatedBy           string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// WebhookInput is a new webhook, or the fields of a change (nil: unchanged).
type WebhookInput struct {
	Name      *string
	URL       *string
	Secret    *string // empty or nil on create: one is generated
	ScopeKind *string
	ScopeCode *string
}

const webhookCols = `w.id, w.name, w.url, w.scope_kind, w.scope_code, w.consecutive_failures, w.disabled_at,
       coalesce(w.disabled_reason, ''), w.last_success_at, w.last_failure_at,
       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.delivered_at IS NULL),
       w.created_by, w.created_at, w.updated_at`

func scanWebhook(r pgx.CollectableRow) (Webhook, error) {
	var w Webhook
	err := r.Scan(&w.ID, &w.Name, &w.URL, &w.ScopeKind, &w.ScopeCode, &w.ConsecutiveFailures, &w.DisabledAt,
		&w.DisabledReason, &w.LastSuccessAt, &w.LastFailureAt, &w.Pending, &w.CreatedBy, &w.CreatedAt, &w.UpdatedAt)
	return w, err
}

// Webhooks lists the webhooks by id, and how many there are.
func (s *Service) Webhooks(ctx context.Context, limit, offset int) ([]Webhook, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM webhooks`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+webhookCols+` FROM webhooks w ORDER BY w.id LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, scanWebhook)
	return list, total, err
}

func noWebhook(id int64) error {
	return &grid.NotFoundError{What: "webhook", Key: strconv.FormatInt(id, 10)}
}

// Webhook is one webhook.
func (s *Service) Webhook(ctx context.Context, id int64) (*Webhook, error) {
	return s.webhook(ctx, s.db, id)
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Service) webhook(ctx context.Context, q queryer, id int64) (*Webhook, error) {
	rows, err := q.Query(ctx, `SELECT `+webhookCols+` FROM webhooks w WHERE w.id = $1`, id)
	if err != nil {
		return nil, err
	}
	w, err := pgx.CollectExactlyOneRow(rows, scanWebhook)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, noWebhook(id)
	}
	return &w, err
}

// CreateWebhook checks and saves a new webhook and returns it with its secret (the one
// given, or a generated one), which is shown this once.
func (s *Service) CreateWebhook(ctx context.Context, actor string, in WebhookInput) (*Webhook, string, error) {
	secret := deref(in.Secret)
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret = hex.EncodeToString(b)
		in.Secret = &secret
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", in.Name}, {"url", in.URL}, {"scope_kind", in.ScopeKind}, {"scope_code", in.ScopeCode}} {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			return nil, "", &grid.InvalidError{Field: f.name, Reason: "is required"}
		}
	}
	if err := s.checkInput(ctx, in, true); err != nil {
		return nil, "", err
	}
	var w *Webhook
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO webhooks (name, url, secret, scope_kind, scope_code, created_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, strings.TrimSpace(*in.Name), *in.URL, secret, *in.ScopeKind, *in.ScopeCode, actor).Scan(&id); err != nil {
			return err
		}
		var err error
		if w, err = s.webhook(ctx, tx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook_add", w, map[string]any{"name": w.Name, "url": w.URL, "scope_kind": w.ScopeKind, "scope_code": w.ScopeCode})
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// UpdateWebhook changes the fields given. A new URL is checked like a new webhook's.
func (s *Service) UpdateWebhook(ctx context.Context, actor string, id int64, in WebhookInput) (*Webhook, error) {
	if in == (WebhookInput{}) {
		return s.Webhook(ctx, id) // nothing to change, nothing to record
	}
	if err := s.checkInput(ctx, in, false); err != nil {
		return nil, err
	}
	var w *Webhook
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhooks SET name = coalesce($2, name), url = coalesce($3, url), secret = coalesce($4, secret),
       scope_kind = coalesce($5, scope_kind), scope_code = coalesce($6, scope_code), updated_at = now() WHERE id = $1`,
			id, trimmed(in.Name), in.URL, in.Secret, in.ScopeKind, in.ScopeCode)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return noWebhook(id)
		}
		if w, err = s.webhook(ctx, tx, id); err != nil {
			return err
		}
		changed := map[string]any{}
		for k, v := range map[string]*string{"name": in.Name, "url": in.URL, "scope_kind": in.ScopeKind, "scope_code": in.ScopeCode} {
			if v != nil {
				changed[k] = *v
			}
		}
		if in.Secret != nil {
			changed["secret"] = "changed" // never the secret itself
		}
		return s.audit(ctx, tx, actor, "webhook_change", w, changed)
	})
	return w, err
}

// DeleteWebhook removes a webhook with its deliveries and their log; the audit log keeps
// that it existed.
func (s *Service) DeleteWebhook(ctx context.Context, actor string, id int64) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		w, err := s.webhook(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook_remove", w, map[string]any{"name": w.Name, "url": w.URL})
	})
}

// EnableWebhook turns a webhook that was disabled after failures back on: its count of
// failures starts again and its waiting deliveries are sent from the next run on.
func (s *Service) EnableWebhook(ctx context.Context, actor string, id int64) (*Webhook, error) {
	var w *Webhook
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var was *time.Time
		err := tx.QueryRow(ctx, `UPDATE webhooks w SET disabled_at = NULL, disabled_reason = NULL, consecutive_failures = 0, updated_at = now()
  FROM (SELECT id, disabled_at FROM webhooks WHERE id = $1 FOR UPDATE) old WHERE w.id = old.id RETURNING old.disabled_at`, id).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return noWebhook(id)
		}
		if err != nil {
			return err
		}
		// Waiting deliveries go out now rather than after their back-off.
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE webhook_id = $1 AND delivered_at IS NULL`, id); err != nil {
			return err
		}
		if w, err = s.webhook(ctx, tx, id); err != nil || was == nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook_enable", w, nil)
	})
	return w, err
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, actor, action string, w *Webhook, details any) error {
	e := grid.AuditEntry{Actor: actor, Action: action, Kind: grid.AuditWebhook, Object: strconv.FormatInt(w.ID, 10), Details: details}
	if w.ScopeKind == grid.RecipientStreet {
		e.Street = w.ScopeCode
	}
	return s.st.Record(ctx, tx, e)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	t := strings.TrimSpace(*p)
	return &t
}

// checkInput checks the fields given; all is true for a new webhook.
func (s *Service) checkInput(ctx context.Context, in WebhookInput, all bool) error {
	var fe []grid.InvalidError
	add := func(field, reason string) { fe = append(fe, grid.InvalidError{Field: field, Reason: reason}) }
	if in.Name != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(*in.Name)); n == 0 || n > 100 {
			add("name", "must be 1 to 100 characters")
		}
	}
	if in.URL != nil {
		if err := s.CheckURL(ctx, *in.URL); err != nil {
			add("url", err.Error())
		} else {
			// The scheme as url.Parse reads it, in lower case (HTTPS://... is https).
			u, _ := url.Parse(*in.URL)
			*in.URL = u.Scheme + (*in.URL)[len(u.Scheme):]
		}
	}
	if in.Secret != nil && !secretOK(*in.Secret) {
		add("secret", "must be 16 to 200 printable ASCII characters")
	}
	if in.ScopeKind != nil || in.ScopeCode != nil {
		if !all && (in.ScopeKind == nil || in.ScopeCode == nil) {
			add("scope_code", "scope_kind and scope_code change together")
		} else if err := s.checkScope(ctx, *in.ScopeKind, *in.ScopeCode); err != nil {
			var ie *grid.InvalidError
			if !errors.As(err, &ie) {
				return err
			}
			fe = append(fe, *ie)
		}
	}
	if len(fe) > 0 {
		return &grid.InvalidFieldsError{Errors: fe}
	}
	return nil
}

func secretOK(v string) bool {
	if len(v) < 16 || len(v) > 200 {
		return false
	}
	for i := range len(v) {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Service) checkScope(ctx context.Context, kind, code string) error {
	digits := map[string]int{grid.RecipientStreet: 9, grid.RecipientDistrict: 6}[kind]
	if digits == 0 {
		return &grid.InvalidError{Field: "scope_kind", Reason: "must be street or district"}
	}
	if len(code) != digits || strings.Trim(code, "0123456789") != "" {
		return &grid.InvalidError{Field: "scope_code", Reason: fmt.Sprintf("must be a %d-digit %s code", digits, kind)}
	}
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM areas WHERE code = $1)`, code).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return &grid.InvalidError{Field: "scope_code", Reason: fmt.Sprintf("no %s has the code %s", kind, code)}
	}
	return nil
}

// CheckURL refuses a webhook URL that is not http(s) with a host, that carries
// credentials, or (unless Options.AllowPrivate) whose host is or resolves to a loopback,
// private, link-local or otherwise non-public address. The same address rule is applied
// again to the address each request connects to (guardDial).
func (s *Service) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > 2000 {
		return errors.New("must be at most 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute http or https URL with a host")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http or https URL")
	}
	if u.User != nil {
		return errors.New("must not carry a user name or password")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	if s.opts().AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason := blocked(ip); reason != "" {
			return fmt.Errorf("must not point at a %s address (%s)", reason, ip)
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("host %s does not resolve", host)
	}
	for _, ip := range ips {
		if reason := blocked(ip); reason != "" {
			return fmt.Errorf("host %s resolves to a %s address (%s)", host, reason, ip.Unmap())
		}
	}
	return nil
}

var (
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
)

// blocked names why ip is not a public address a webhook may reach, or "" when it is.
func blocked(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate(), sharedSpace.Contains(ip):
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	return ""
}

// guardDial is the dialer's Control: it sees the address a request really connects to,
// after DNS, so a name that resolved to a public address when the admin saved it and to a
// private one now (DNS rebinding) is refused.
func guardDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook address %s: %w", address, err)
	}
	if reason := blocked(ap.Addr()); reason != "" {
		return fmt.Errorf("webhook address %s is %s: refused (set the server's webhook-allow-private to allow it)", ap.Addr(), reason)
	}
	return nil
}

// Attempt is one HTTP attempt of the delivery log.
type Attempt struct {
	ID             int64
	DeliveryID     int64
	IdempotencyKey string
	MessageKey     string
	Kind           string
	Attempt        int
	At             time.Time
	StatusCode     *int
	Error          string
	DurationMS     int
	Delivered      bool // the delivery has been made (by this attempt or a later one)
}

// Attempts is the webhook's delivery log, newest first, and how many entries it has.
func (s *Service) Attempts(ctx context.Context, webhook int64, limit, offset int) ([]Attempt, int, error) {
	var total int
	err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_attempts WHERE webhook_id = w.id) FROM webhooks w WHERE w.id = $1`, webhook).Scan(&total)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, noWebhook(webhook)
	}
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, a.delivery_id, d.idempotency_key::text, o.key, o.kind, a.attempt, a.at, a.status_code,
       coalesce(a.error, ''), a.duration_ms, d.delivered_at IS NOT NULL
  FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN notify_outbox o ON o.id = d.outbox_id
 WHERE a.webhook_id = $1 ORDER BY a.id DESC LIMIT $2 OFFSET $3`, webhook, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(&a.ID, &a.DeliveryID, &a.IdempotencyKey, &a.MessageKey, &a.Kind, &a.Attempt, &a.At, &a.StatusCode,
			&a.Error, &a.DurationMS, &a.Delivered)
		return a, err
	})
	return list, total, err
}
