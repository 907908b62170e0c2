package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
)

// Notification is one entry of a user's in-app list 通知.
type Notification struct {
	ID        int64
	Key       string // what it is about: hazard/123/due_3d
	Kind      string
	Title     string
	Body      string
	Data      json.RawMessage // nil for none
	Street    string
	District  string
	CreatedAt time.Time
	ReadAt    *time.Time
}

const inboxSQL = `SELECT n.id, o.key, o.kind, o.title, o.body, o.data, coalesce(o.street_code, ''), coalesce(o.district_code, ''),
       n.created_at, n.read_at
  FROM notifications n JOIN notify_outbox o ON o.id = n.outbox_id
 WHERE n.user_id = $1 AND ($2::boolean IS FALSE OR n.read_at IS NULL)
 ORDER BY n.id DESC LIMIT $3 OFFSET $4`

const inboxCountSQL = `SELECT count(*) FILTER (WHERE $2::boolean IS FALSE OR read_at IS NULL), count(*) FILTER (WHERE read_at IS NULL)
  FROM notifications WHERE user_id = $1`

// Inbox is a page of the user's notifications, newest first (only the unread ones when
// unread is true), with the number the filter selects on all pages and the number unread.
func (s *Service) Inbox(ctx context.Context, user int64, unread bool, limit, offset int) ([]Notification, int, int, error) {
	var total, unreadN int
	if err := s.db.QueryRow(ctx, inboxCountSQL, user, unread).Scan(&total, &unreadN); err != nil {
		return nil, 0, 0, err
	}
	rows, err := s.db.Query(ctx, inboxSQL, user, unread, limit, offset)
	if err != nil {
		return nil, 0, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		var data []byte
		err := r.Scan(&n.ID, &n.Key, &n.Kind, &n.Title, &n.Body, &data, &n.Street, &n.District, &n.CreatedAt, &n.ReadAt)
		if data != nil {
			n.Data = json.RawMessage(data)
		}
		return n, err
	})
	return list, total, unreadN, err
}

// UnreadCount is the number of the user's unread notifications.
func (s *Service) UnreadCount(ctx context.Context, user int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, user).Scan(&n)
	return n, err
}

// MarkRead marks one of p's notifications read. Another user's notification is not found,
// exactly like one that does not exist. Marking a read one again changes nothing.
func (s *Service) MarkRead(ctx context.Context, p *grid.Principal, id int64) error {
	return s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		var changed bool
		err := tx.QueryRow(ctx, `UPDATE notifications SET read_at = coalesce(read_at, now())
WHERE id = $1 AND user_id = $2 RETURNING read_at = now()`, id, p.UserID).Scan(&changed)
		if errors.Is(err, pgx.ErrNoRows) {
			return &grid.NotFoundError{What: "notification", Key: strconv.FormatInt(id, 10)}
		}
		if err != nil || !changed {
			return err
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "notification_read",
			Kind: grid.AuditNotification, Object: strconv.FormatInt(id, 10)})
	})
}

// MarkAllRead marks every unread notification of p read and returns how many there were.
func (s *Service) MarkAllRead(ctx context.Context, p *grid.Principal) (int, error) {
	var n int64
	err := s.st.WriteTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL`, p.UserID)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		return s.st.Record(ctx, tx, grid.AuditEntry{Actor: p.Actor(), Action: "notification_read_all",
			Kind: grid.AuditNotification, Object: "all", Details: map[string]any{"count": n}})
	})
	return int(n), err
}
