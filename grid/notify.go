package grid

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The kinds of recipient of a message (notify_outbox.recipient_kind).
const (
	RecipientUser     = "user"     // one person: Code is the user's id
	RecipientStreet   = "street"   // a street office 街道办: all street users of the street, and the street's webhooks
	RecipientDistrict = "district" // a district 区: the district's users and its webhooks
)

// Recipient is whom a message goes to: a user, a street office or a district.
type Recipient struct {
	Kind string // RecipientUser, RecipientStreet or RecipientDistrict
	Code string // the user's id, or the 9-digit street or 6-digit district code
}

// UserRecipient is the recipient that is the user with this id.
func UserRecipient(id int64) Recipient {
	return Recipient{Kind: RecipientUser, Code: strconv.FormatInt(id, 10)}
}

// Message is a notification 通知 to send through the notification channel: in-app to the
// recipients' users and as a signed webhook POST to their streets' and districts' webhooks
// (grid/notify delivers it; docs/NOTIFY.md).
type Message struct {
	// Key names what the message is about (hazard/123/due_3d, warning/456): with a
	// recipient it is unique, so the same message is queued once however often its cause
	// is seen.
	Key   string
	Kind  string // a lower-case word that receivers switch on: due_3d, overdue, escalated, ...
	Title string // one line, shown in the list (zh-CN)
	Body  string // more detail, may be empty
	// Street and District are where the thing the message is about lies (may be empty).
	Street, District string
	// Data is extra JSON for receivers (the hazard's code and deadline, ...); nil for none.
	Data any
}

var messageKind = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// notifySQL queues one message for one recipient; a message already queued for that
// recipient (same key) is left alone.
const notifySQL = `INSERT INTO notify_outbox (key, kind, recipient_kind, recipient, title, body, data, street_code, district_code)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (key, recipient_kind, recipient) DO NOTHING`

// Notify queues m for each recipient in the outbox, inside q (the transaction that makes
// the message's cause, so both commit or neither does; nil means the pool). It returns how
// many of the recipients were new for m.Key; a recipient that already has this message
// is skipped, never sent to twice. The scheduler in grid/notify delivers what is queued.
// Recipients are not checked against users or areas here: one that names nobody reaches
// nobody.
func (s *Store) Notify(ctx context.Context, q Querier, m Message, to ...Recipient) (int, error) {
	if q == nil {
		q = s.pool
	}
	if strings.TrimSpace(m.Key) == "" || strings.TrimSpace(m.Title) == "" {
		return 0, fmt.Errorf("notify: a message needs a key and a title")
	}
	if !messageKind.MatchString(m.Kind) {
		return 0, fmt.Errorf("notify %s: kind %q is not a lower-case word", m.Key, m.Kind)
	}
	var data []byte
	if m.Data != nil {
		var err error
		if data, err = json.Marshal(m.Data); err != nil {
			return 0, fmt.Errorf("notify %s: data: %w", m.Key, err)
		}
	}
	n := 0
	for _, r := range to {
		switch r.Kind {
		case RecipientUser, RecipientStreet, RecipientDistrict:
		default:
			return n, fmt.Errorf("notify %s: unknown recipient kind %q", m.Key, r.Kind)
		}
		if r.Code == "" {
			continue
		}
		tag, err := q.Exec(ctx, notifySQL, m.Key, m.Kind, r.Kind, r.Code, m.Title, m.Body, data,
			nullText(m.Street), nullText(m.District))
		if err != nil {
			return n, fmt.Errorf("notify %s: %w", m.Key, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}
