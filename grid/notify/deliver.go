package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The outbox's fan-out, in one transaction per batch: the rows are locked with SKIP LOCKED,
// so two instances never fan out the same row, and the notifications and deliveries they
// make commit together with the row's fanned_out_at, so a row is fanned out exactly once.
const (
	fanClaimSQL = `SELECT id FROM notify_outbox WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`
	// A district's users are its district bureau users (区安监局, role district); a
	// district without an enabled one has its messages go to the admins, so an
	// escalation always reaches someone (docs/NOTIFY.md, "Recipients"). The bureaus are
	// counted in a grouped table joined by district, not a correlated subquery (Citus
	// refuses those over reference tables).
	fanInboxSQL = `WITH bureaus AS (
    SELECT district_code FROM users WHERE role = 'district' AND NOT disabled AND removed_at IS NULL GROUP BY district_code)
INSERT INTO notifications (user_id, outbox_id)
SELECT u.id, o.id FROM notify_outbox o LEFT JOIN bureaus b ON o.recipient_kind = 'district' AND b.district_code = o.recipient
  JOIN users u ON
       (o.recipient_kind = 'user' AND u.id::text = o.recipient)
    OR (o.recipient_kind = 'street' AND u.role = 'street' AND u.street_code = o.recipient)
    OR (o.recipient_kind = 'district' AND u.role = 'district' AND u.district_code = o.recipient)
    OR (o.recipient_kind = 'district' AND b.district_code IS NULL AND u.role = 'admin')
 WHERE o.id = ANY($1) AND u.removed_at IS NULL
ON CONFLICT (user_id, outbox_id) DO NOTHING`
	fanHooksSQL = `INSERT INTO webhook_deliveries (webhook_id, outbox_id)
SELECT w.id, o.id FROM notify_outbox o JOIN webhooks w ON w.scope_kind = o.recipient_kind AND w.scope_code = o.recipient
 WHERE o.id = ANY($1)
ON CONFLICT (outbox_id, webhook_id) DO NOTHING`
	fanDoneSQL = `UPDATE notify_outbox SET fanned_out_at = now() WHERE id = ANY($1)`
)

// FanOut turns queued messages into in-app notifications and webhook deliveries and
// returns how many messages it handled.
func (s *Service) FanOut(ctx context.Context) (int, error) {
	total := 0
	for {
		var ids []int64
		err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, fanClaimSQL, s.opts().Batch)
			if err != nil {
				return err
			}
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || len(ids) == 0 {
				return err
			}
			for _, q := range []string{fanInboxSQL, fanHooksSQL, fanDoneSQL} {
				if _, err := tx.Exec(ctx, q, ids); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < s.opts().Batch {
			return total, nil
		}
	}
}

// claimSQL leases due deliveries of enabled webhooks to this instance: rows another
// instance is claiming are skipped (SKIP LOCKED), and a leased row is not due again until
// its lease ends, so while its sender lives no other instance sends it.
const claimSQL = `WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
     WHERE d.delivered_at IS NULL AND w.disabled_at IS NULL AND d.next_attempt_at <= now()
       AND (d.lease_until IS NULL OR d.lease_until < now())
     ORDER BY d.next_attempt_at, d.id LIMIT $1
     FOR UPDATE OF d SKIP LOCKED)
UPDATE webhook_deliveries d SET lease_until = clock_timestamp() + $2 * interval '1 millisecond',
       lease_token = gen_random_uuid(), attempts = d.attempts + 1
  FROM due, webhooks w, notify_outbox o
 WHERE d.id = due.id AND w.id = d.webhook_id AND o.id = d.outbox_id
RETURNING d.id, d.idempotency_key::text, d.lease_token::text, d.attempts, w.id, w.url, w.secret,
       o.key, o.kind, o.recipient_kind, o.recipient, o.title, o.body, o.data,
       coalesce(o.street_code, ''), coalesce(o.district_code, ''), o.created_at`

type delivery struct {
	id, webhook int64
	key, lease  string
	attempt     int
	url, secret string
	payload     Payload
}

// Payload is the JSON body of a webhook POST. Its bytes are the same on every attempt.
type Payload struct {
	Delivery  string          `json:"delivery"` // the idempotency key, also the Idempotency-Key header
	Key       string          `json:"key"`      // what the message is about: hazard/123/due_3d
	Kind      string          `json:"kind"`
	Recipient PayloadTo       `json:"recipient"`
	Title     string          `json:"title"`
	Body      string          `json:"body"`
	Street    string          `json:"street_code,omitempty"`
	District  string          `json:"district_code,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt string          `json:"created_at"` // RFC 3339 UTC, milliseconds
}

// PayloadTo is the recipient the message was for.
type PayloadTo struct {
	Kind string `json:"kind"`
	Code string `json:"code"`
}

// The headers of a webhook POST (docs/NOTIFY.md).
const (
	HeaderSignature   = "X-SafeGrid-Signature" // sha256=<hex HMAC-SHA256 of the body with the secret>
	HeaderIdempotency = "Idempotency-Key"      // the same on every attempt of one message to one webhook
	HeaderEvent       = "X-SafeGrid-Event"     // the message's kind
	HeaderAttempt     = "X-SafeGrid-Attempt"   // 1, 2, ...
)

// Sign is the signature header's value for body: sha256= and the hex HMAC-SHA256 of the
// body with the webhook's secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Service) claim(ctx context.Context) ([]delivery, error) {
	o := s.opts()
	// As many as are sent at once: a claimed delivery's lease runs while it waits for a
	// worker, so claiming more could let a lease run out before its request even starts.
	rows, err := s.db.Query(ctx, claimSQL, o.Workers, o.Lease.Milliseconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery, error) {
		var d delivery
		var data []byte
		var created time.Time
		p := &d.payload
		err := r.Scan(&d.id, &d.key, &d.lease, &d.attempt, &d.webhook, &d.url, &d.secret,
			&p.Key, &p.Kind, &p.Recipient.Kind, &p.Recipient.Code, &p.Title, &p.Body, &data, &p.Street, &p.District, &created)
		p.Delivery = d.key
		p.Data = data
		p.CreatedAt = created.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		return d, err
	})
}

// Deliver sends the due webhook deliveries, Options.Workers at a time (each round claims as
// many as it sends), until none is due,
// and returns how many were delivered and how many attempts failed. When ctx ends while a
// request is in flight, the delivery is handed back (due at once) for the next run or
// another instance; its receiver may have got it, and then gets it again with the same
// Idempotency-Key.
func (s *Service) Deliver(ctx context.Context) (delivered, failed int, err error) {
	client := s.client()
	for ctx.Err() == nil {
		batch, err := s.claim(ctx)
		if err != nil || len(batch) == 0 {
			return delivered, failed, err
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var firstErr error
		for _, d := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.deliverOne(ctx, client, d)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
				case ok:
					delivered++
				default:
					failed++
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return delivered, failed, firstErr
		}
	}
	return delivered, failed, nil
}

func (s *Service) client() *http.Client {
	o := s.opts()
	dialer := &net.Dialer{Timeout: o.Timeout}
	if !o.AllowPrivate {
		dialer.Control = guardDial
	}
	return &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: o.Timeout,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: true},
		// A redirect is an answer, not followed: a 3xx counts as a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliverOne makes one attempt and records it. ok reports a 2xx; err is a database error
// recording it.
func (s *Service) deliverOne(ctx context.Context, client *http.Client, d delivery) (ok bool, err error) {
	body, err := json.Marshal(d.payload)
	if err != nil {
		return false, err
	}
	start := time.Now()
	status, sendErr := send(ctx, client, d, body)
	took := time.Since(start)
	success := sendErr == nil && status >= 200 && status < 300
	if ctx.Err() != nil {
		// Stopped (shutdown, restart): record what is known outside the ended context, and
		// hand an unfinished delivery back.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if success {
			return true, s.recordSuccess(rctx, d, status, took)
		}
		return false, s.release(rctx, d, status, took)
	}
	if success {
		return true, s.recordSuccess(ctx, d, status, took)
	}
	msg := ""
	if sendErr != nil {
		msg = sendErr.Error()
	} else {
		msg = "HTTP " + strconv.Itoa(status)
	}
	return false, s.recordFailure(ctx, d, status, msg, took)
}

func send(ctx context.Context, client *http.Client, d delivery, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SafeGrid-Webhook/1")
	req.Header.Set(HeaderSignature, Sign(d.secret, body))
	req.Header.Set(HeaderIdempotency, d.key)
	req.Header.Set(HeaderEvent, d.payload.Kind)
	req.Header.Set(HeaderAttempt, strconv.Itoa(d.attempt))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// attemptSQL logs an attempt, unless an admin removed the webhook (and so the delivery)
// while it was in flight.
const attemptSQL = `INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, status_code, error, duration_ms)
SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)`

func statusOrNil(status int) *int {
	if status == 0 {
		return nil
	}
	return &status
}

func (s *Service) recordSuccess(ctx context.Context, d delivery, status int, took time.Duration) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, attemptSQL, d.id, d.webhook, d.attempt, status, nil, took.Milliseconds()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET delivered_at = now(), lease_until = NULL, last_error = NULL
WHERE id = $1 AND delivered_at IS NULL`, d.id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = 0, last_success_at = now() WHERE id = $1`, d.webhook)
		return err
	})
}

func (s *Service) recordFailure(ctx context.Context, d delivery, status int, msg string, took time.Duration) error {
	o := s.opts()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, attemptSQL, d.id, d.webhook, d.attempt, statusOrNil(status), msg, took.Milliseconds()); err != nil {
			return err
		}
		// Only while this instance still holds the lease: one that ran out may have been
		// taken over by another instance, whose outcome counts.
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET lease_until = NULL, last_error = $3,
       next_attempt_at = now() + $4 * interval '1 millisecond'
 WHERE id = $1 AND lease_token = $2::uuid AND delivered_at IS NULL`, d.id, d.lease, msg, o.backoff(d.attempt).Milliseconds()); err != nil {
			return err
		}
		var justDisabled bool
		var w Webhook
		reason := fmt.Sprintf("%d consecutive failed attempts; the last: %s", o.MaxFailures, msg)
		if err := tx.QueryRow(ctx, `UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_failure_at = now(),
       disabled_reason = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END,
       disabled_at = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END
 WHERE id = $1 RETURNING disabled_at IS NOT NULL AND disabled_at = now(), scope_kind, scope_code`, d.webhook, o.MaxFailures, reason).
			Scan(&justDisabled, &w.ScopeKind, &w.ScopeCode); err != nil {
			return err
		}
		if !justDisabled {
			return nil
		}
		w.ID = d.webhook
		return s.audit(ctx, tx, SystemActor, "webhook_disabled", &w, map[string]any{"reason": reason})
	})
}

// release hands a delivery whose attempt was cut short back: due at once, the attempt not
// counted against the webhook.
func (s *Service) release(ctx context.Context, d delivery, status int, took time.Duration) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, attemptSQL, d.id, d.webhook, d.attempt, statusOrNil(status), "interrupted: the sender stopped", took.Milliseconds()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET lease_until = NULL, next_attempt_at = now()
 WHERE id = $1 AND lease_token = $2::uuid AND delivered_at IS NULL`, d.id, d.lease)
		return err
	})
}
