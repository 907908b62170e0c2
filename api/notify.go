package api

import (
	"bytes"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"safegrid/grid"
	"safegrid/grid/notify"
)

// notificationItem is one in-app notification 通知 (docs/NOTIFY.md).
type notificationItem struct {
	ID           int64           `json:"id" doc:"names the notification for POST .../{id}/read"`
	Key          string          `json:"key" doc:"what it is about, e.g. hazard/123/due_3d"`
	Kind         string          `json:"kind" doc:"due_<n>d (n days before a hazard's deadline), overdue, escalated, ..."`
	Title        string          `json:"title"`
	Body         string          `json:"body"`
	StreetCode   *string         `json:"street_code" doc:"the street of what it is about; null for none"`
	DistrictCode *string         `json:"district_code" doc:"the district of what it is about; null for none"`
	Data         json.RawMessage `json:"data" doc:"details for clients (a hazard's hazard_id, hazard_code, deadline, days_left, ...); {} for none"`
	CreatedAt    string          `json:"created_at" format:"date-time" doc:"RFC 3339, UTC, milliseconds"`
	ReadAt       *string         `json:"read_at" format:"date-time" doc:"null while unread"`
}

type notificationPage struct {
	Items  []notificationItem `json:"items" doc:"newest first"`
	Total  int                `json:"total" doc:"notifications the filter selects, on all pages"`
	Unread int                `json:"unread" doc:"all your unread notifications, whatever the filter"`
}

type readAllResponse struct {
	Marked int `json:"marked" doc:"how many were unread"`
}

// webhookItem is a webhook as the admin API shows it (never its secret).
type webhookItem struct {
	ID                  int64   `json:"id"`
	Name                string  `json:"name"`
	URL                 string  `json:"url"`
	ScopeKind           string  `json:"scope_kind" enum:"street,district" doc:"whose messages it receives: a street office's or a district's"`
	ScopeCode           string  `json:"scope_code" doc:"the 9-digit street or 6-digit district"`
	Enabled             bool    `json:"enabled" doc:"false after too many consecutive failed attempts: its deliveries wait until POST .../enable"`
	DisabledAt          *string `json:"disabled_at" format:"date-time"`
	DisabledReason      *string `json:"disabled_reason"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	Pending             int     `json:"pending" doc:"messages not yet delivered to it"`
	LastSuccessAt       *string `json:"last_success_at" format:"date-time"`
	LastFailureAt       *string `json:"last_failure_at" format:"date-time"`
	CreatedBy           string  `json:"created_by"`
	CreatedAt           string  `json:"created_at" format:"date-time"`
	UpdatedAt           string  `json:"updated_at" format:"date-time"`
}

type webhookPage struct {
	Items []webhookItem `json:"items"`
	Total int           `json:"total"`
}

type webhookRequest struct {
	Name      *string `json:"name,omitempty" doc:"1 to 100 characters"`
	URL       *string `json:"url,omitempty" doc:"http or https; not a loopback, private or link-local address unless the server allows it (--webhook-allow-private)"`
	Secret    *string `json:"secret,omitempty" doc:"16 to 200 bytes; absent on create: one is generated and returned once"`
	ScopeKind *string `json:"scope_kind,omitempty" enum:"street,district"`
	ScopeCode *string `json:"scope_code,omitempty" doc:"a loaded 9-digit street or 6-digit district; changes together with scope_kind"`
}

// newWebhookRequest creates a webhook: everything but the secret is required.
type newWebhookRequest struct {
	Name      string  `json:"name" required:"true" maxLength:"100" doc:"1 to 100 characters"`
	URL       string  `json:"url" required:"true" maxLength:"2000" doc:"http or https; not a loopback, private or link-local address unless the server allows it (--webhook-allow-private)"`
	Secret    *string `json:"secret,omitempty" doc:"16 to 200 bytes; absent: one is generated and returned once"`
	ScopeKind string  `json:"scope_kind" required:"true" enum:"street,district"`
	ScopeCode string  `json:"scope_code" required:"true" doc:"a loaded 9-digit street or 6-digit district"`
}

type webhookCreated struct {
	Webhook webhookItem `json:"webhook"`
	Secret  string      `json:"secret" doc:"the secret that signs its requests (X-SafeGrid-Signature: sha256=HMAC-SHA256 of the body); shown this once"`
}

type attemptItem struct {
	ID             int64   `json:"id"`
	DeliveryID     int64   `json:"delivery_id"`
	IdempotencyKey string  `json:"idempotency_key" doc:"the Idempotency-Key header: the same on every attempt of one message"`
	MessageKey     string  `json:"message_key"`
	Kind           string  `json:"kind"`
	Attempt        int     `json:"attempt" doc:"1 for the first attempt of this delivery"`
	At             string  `json:"at" format:"date-time"`
	StatusCode     *int    `json:"status_code" doc:"the receiver's HTTP status; null when no answer came"`
	Error          *string `json:"error" doc:"why the attempt failed; null for a 2xx"`
	DurationMS     int     `json:"duration_ms"`
	Delivered      bool    `json:"delivered" doc:"the message has been delivered (by this attempt or a later one)"`
}

type attemptPage struct {
	Items []attemptItem `json:"items" doc:"newest first"`
	Total int           `json:"total"`
}

// webhookBodyLimit holds a webhook's fields (a URL of 2,000 characters, a secret of 200
// bytes) with room to spare.
const webhookBodyLimit = 16 << 10

// notifyRoutes are everyone's in-app notifications and the admin's webhooks.
func (s *Server) notifyRoutes() {
	me := []string{"notifications"}
	s.route(fiber.MethodGet, "/api/v1/me/notifications", Operation{
		Summary: "Your notifications", Description: "Your in-app notifications (deadline reminders, escalations, ...), newest " +
			"first, paged, with the number unread. Every role has them.",
		Tags: me, Response: notificationPage{},
		Params: []Param{QueryParam("unread", "boolean", "true: only unread ones"), LimitParam, OffsetParam},
	}, s.listNotifications)
	s.route(fiber.MethodPost, "/api/v1/me/notifications/read-all", Operation{
		Summary: "Mark all your notifications read", Tags: me, Response: readAllResponse{},
	}, s.readAllNotifications)
	s.route(fiber.MethodPost, "/api/v1/me/notifications/:id/read", Operation{
		Summary: "Mark one of your notifications read", Description: "Another user's notification is a 404, like one that does not exist. " +
			"Marking a read one again is a 204.",
		Tags: me, Params: []Param{PathParam("id", "the notification's id")}, Problems: []int{fiber.StatusNotFound},
	}, s.readNotification)

	admin := []string{grid.RoleAdmin}
	tags := []string{"webhooks"}
	id := PathParam("id", "the webhook's id")
	nf := []int{fiber.StatusNotFound}
	s.route(fiber.MethodGet, "/api/v1/admin/webhooks", Operation{
		Summary: "Webhooks", Description: "The webhooks messages to street offices and districts are POSTed to, by id.",
		Tags: tags, Roles: admin, Response: webhookPage{}, Params: []Param{LimitParam, OffsetParam},
	}, s.listWebhooks)
	s.route(fiber.MethodPost, "/api/v1/admin/webhooks", Operation{
		Summary: "Add a webhook", Description: "Every message to the street office or district named from now on is POSTed to " +
			"the URL as JSON, signed (X-SafeGrid-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>), with an " +
			"Idempotency-Key that stays the same on retries. See docs/NOTIFY.md.",
		Tags: tags, Roles: admin, Body: newWebhookRequest{}, Response: webhookCreated{}, Status: fiber.StatusCreated,
		BodyLimit: webhookBodyLimit,
	}, s.createWebhook)
	s.route(fiber.MethodGet, "/api/v1/admin/webhooks/:id", Operation{
		Summary: "One webhook", Tags: tags, Roles: admin, Params: []Param{id}, Response: webhookItem{}, Problems: nf,
	}, s.getWebhook)
	s.route(fiber.MethodPatch, "/api/v1/admin/webhooks/:id", Operation{
		Summary: "Change a webhook", Description: "Fields left out stay as they are.",
		Tags: tags, Roles: admin, Params: []Param{id}, Body: webhookRequest{}, Response: webhookItem{}, Problems: nf,
		BodyLimit: webhookBodyLimit,
	}, s.updateWebhook)
	s.route(fiber.MethodDelete, "/api/v1/admin/webhooks/:id", Operation{
		Summary: "Remove a webhook", Description: "With its waiting deliveries and its delivery log; the audit log keeps it.",
		Tags: tags, Roles: admin, Params: []Param{id}, Problems: nf,
	}, s.deleteWebhook)
	s.route(fiber.MethodPost, "/api/v1/admin/webhooks/:id/enable", Operation{
		Summary: "Enable a webhook again", Description: "After it was disabled by consecutive failures: its count starts again " +
			"and its waiting deliveries go out on the scheduler's next run.",
		Tags: tags, Roles: admin, Params: []Param{id}, Response: webhookItem{}, Problems: nf,
	}, s.enableWebhook)
	s.route(fiber.MethodGet, "/api/v1/admin/webhooks/:id/deliveries", Operation{
		Summary: "A webhook's delivery log", Description: "Every HTTP attempt, newest first: status or error, time taken.",
		Tags: tags, Roles: admin, Params: []Param{id, LimitParam, OffsetParam}, Response: attemptPage{}, Problems: nf,
	}, s.webhookDeliveries)
}

func textOrNull(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func (s *Server) listNotifications(c *fiber.Ctx) error {
	unread, err := queryBool(c, "unread")
	if err != nil {
		return err
	}
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	list, total, unreadN, err := s.notify.Inbox(c.UserContext(), principal(c).UserID, unread, limit, offset)
	if err != nil {
		return err
	}
	out := notificationPage{Items: make([]notificationItem, len(list)), Total: total, Unread: unreadN}
	for i, n := range list {
		data := n.Data
		if data == nil {
			data = json.RawMessage(`{}`)
		}
		out.Items[i] = notificationItem{ID: n.ID, Key: n.Key, Kind: n.Kind, Title: n.Title, Body: n.Body,
			StreetCode: textOrNull(n.Street), DistrictCode: textOrNull(n.District), Data: data,
			CreatedAt: grid.FormatTime(n.CreatedAt), ReadAt: timeOrNull(n.ReadAt)}
	}
	return c.JSON(out)
}

func (s *Server) readNotification(c *fiber.Ctx) error {
	id, err := pathID(c, "notification")
	if err != nil {
		return err
	}
	if err := s.notify.MarkRead(c.UserContext(), principal(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) readAllNotifications(c *fiber.Ctx) error {
	n, err := s.notify.MarkAllRead(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(readAllResponse{Marked: n})
}

func webhookOut(w *notify.Webhook) webhookItem {
	return webhookItem{ID: w.ID, Name: w.Name, URL: w.URL, ScopeKind: w.ScopeKind, ScopeCode: w.ScopeCode,
		Enabled: w.DisabledAt == nil, DisabledAt: timeOrNull(w.DisabledAt), DisabledReason: textOrNull(w.DisabledReason),
		ConsecutiveFailures: w.ConsecutiveFailures, Pending: w.Pending, LastSuccessAt: timeOrNull(w.LastSuccessAt),
		LastFailureAt: timeOrNull(w.LastFailureAt), CreatedBy: w.CreatedBy, CreatedAt: grid.FormatTime(w.CreatedAt), UpdatedAt: grid.FormatTime(w.UpdatedAt)}
}

func (s *Server) listWebhooks(c *fiber.Ctx) error {
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	list, total, err := s.notify.Webhooks(c.UserContext(), limit, offset)
	if err != nil {
		return err
	}
	out := webhookPage{Items: make([]webhookItem, len(list)), Total: total}
	for i := range list {
		out.Items[i] = webhookOut(&list[i])
	}
	return c.JSON(out)
}

func (r webhookRequest) input() notify.WebhookInput {
	return notify.WebhookInput{Name: r.Name, URL: r.URL, Secret: r.Secret, ScopeKind: r.ScopeKind, ScopeCode: r.ScopeCode}
}

func (s *Server) createWebhook(c *fiber.Ctx) error {
	var req newWebhookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := notify.WebhookInput{Name: &req.Name, URL: &req.URL, Secret: req.Secret, ScopeKind: &req.ScopeKind, ScopeCode: &req.ScopeCode}
	w, secret, err := s.notify.CreateWebhook(c.UserContext(), principal(c).Actor(), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(webhookCreated{Webhook: webhookOut(w), Secret: secret})
}

func (s *Server) getWebhook(c *fiber.Ctx) error {
	id, err := pathID(c, "webhook")
	if err != nil {
		return err
	}
	w, err := s.notify.Webhook(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(webhookOut(w))
}

func (s *Server) updateWebhook(c *fiber.Ctx) error {
	id, err := pathID(c, "webhook")
	if err != nil {
		return err
	}
	var req webhookRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	w, err := s.notify.UpdateWebhook(c.UserContext(), principal(c).Actor(), id, req.input())
	if err != nil {
		return err
	}
	return c.JSON(webhookOut(w))
}

func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	id, err := pathID(c, "webhook")
	if err != nil {
		return err
	}
	if err := s.notify.DeleteWebhook(c.UserContext(), principal(c).Actor(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) enableWebhook(c *fiber.Ctx) error {
	id, err := pathID(c, "webhook")
	if err != nil {
		return err
	}
	w, err := s.notify.EnableWebhook(c.UserContext(), principal(c).Actor(), id)
	if err != nil {
		return err
	}
	return c.JSON(webhookOut(w))
}

func (s *Server) webhookDeliveries(c *fiber.Ctx) error {
	id, err := pathID(c, "webhook")
	if err != nil {
		return err
	}
	limit, offset, err := s.page(c)
	if err != nil {
		return err
	}
	list, total, err := s.notify.Attempts(c.UserContext(), id, limit, offset)
	if err != nil {
		return err
	}
	out := attemptPage{Items: make([]attemptItem, len(list)), Total: total}
	for i, a := range list {
		out.Items[i] = attemptItem{ID: a.ID, DeliveryID: a.DeliveryID, IdempotencyKey: a.IdempotencyKey, MessageKey: a.MessageKey,
			Kind: a.Kind, Attempt: a.Attempt, At: grid.FormatTime(a.At), StatusCode: a.StatusCode, Error: textOrNull(a.Error),
			DurationMS: a.DurationMS, Delivered: a.Delivered}
	}
	return c.JSON(out)
}
