-- The notification channel and deadline reminders (issue 15, "Deadline reminders and
-- escalation"; the rules are docs/NOTIFY.md).
--
-- - notify_outbox: one row per message and recipient (a user, a street office, a district),
--   written by grid.Store.Notify in the transaction of whatever raised it, so a message
--   exists exactly when its cause committed. The scheduler (grid/notify) fans each row out
--   once: in-app notifications for the recipient's users, and one webhook delivery for
--   each webhook of the recipient's street or district.
-- - notifications: the in-app list 通知, per user, with read state.
-- - webhooks: an admin's endpoints per street or district; webhook_deliveries: one row per
--   message and webhook (its idempotency key, its lease while one instance sends it, its
--   back-off); webhook_attempts: the delivery log, one row per HTTP attempt.
-- - hazard_reminders: which reminder of which hazard has been raised (once per hazard and
--   kind).
--
-- No data-version triggers: no kept answer (api/respcache.go) reads these tables; the
-- notification routes answer fresh every time.
--
-- Small tables on Citus: notify_outbox, notifications, webhooks and their deliveries and
-- attempts are written a few times per hazard and day; they stay on the coordinator like
-- audit_log. hazard_reminders carries district_code, like hazard_history.

-- +goose Up
CREATE TABLE notify_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL CHECK (key <> ''),
    kind text NOT NULL CHECK (kind ~ '^[a-z0-9_]{1,40}$'),
    recipient_kind text NOT NULL CHECK (recipient_kind IN ('user', 'street', 'district')),
    recipient text NOT NULL CHECK (recipient <> ''),
    title text NOT NULL CHECK (title <> ''),
    body text NOT NULL DEFAULT '',
    data jsonb,
    street_code text,
    district_code text,
    created_at timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz,
    UNIQUE (key, recipient_kind, recipient)
);
COMMENT ON TABLE notify_outbox IS 'messages to send: one row per message and recipient, fanned out once by the scheduler';
COMMENT ON COLUMN notify_outbox.key IS 'what the message is about, e.g. hazard/123/due_3d; with the recipient it is unique, so a message is never queued twice';
CREATE INDEX notify_outbox_pending_idx ON notify_outbox (id) WHERE fanned_out_at IS NULL;

CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    outbox_id bigint NOT NULL REFERENCES notify_outbox (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    UNIQUE (user_id, outbox_id)
);
COMMENT ON TABLE notifications IS '通知: the in-app notifications of each user; read_at NULL is unread';
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

CREATE TABLE webhooks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    url text NOT NULL CHECK (url ~ '^https?://'),
    secret text NOT NULL CHECK (length(secret) >= 16),
    scope_kind text NOT NULL CHECK (scope_kind IN ('street', 'district')),
    scope_code text NOT NULL REFERENCES areas (code),
    consecutive_failures integer NOT NULL DEFAULT 0,
    disabled_at timestamptz,
    disabled_reason text,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (length(scope_code) = CASE scope_kind WHEN 'street' THEN 9 ELSE 6 END)
);
COMMENT ON TABLE webhooks IS 'HTTP endpoints an admin set up for a street or a district; messages to it are POSTed as JSON signed with HMAC-SHA256 of the secret';
COMMENT ON COLUMN webhooks.disabled_at IS 'set after too many consecutive failed attempts; its deliveries wait until an admin enables it again';
CREATE INDEX webhooks_scope_idx ON webhooks (scope_kind, scope_code);

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    outbox_id bigint NOT NULL REFERENCES notify_outbox (id) ON DELETE CASCADE,
    idempotency_key uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    lease_token uuid,
    delivered_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (outbox_id, webhook_id)
);
COMMENT ON TABLE webhook_deliveries IS 'one message to one webhook; sent by the instance holding its lease, retried with back-off until a 2xx';
COMMENT ON COLUMN webhook_deliveries.idempotency_key IS 'sent as the Idempotency-Key header on every attempt, so a receiver can drop a copy it already has';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);

CREATE TABLE webhook_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error text,
    duration_ms integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE webhook_attempts IS 'the delivery log: every HTTP attempt, its status or error';
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (webhook_id, id DESC);

CREATE TABLE hazard_reminders (
    district_code text NOT NULL,
    hazard_id bigint NOT NULL,
    kind text NOT NULL CHECK (kind ~ '^[a-z0-9_]{1,40}$'),
    raised_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, hazard_id, kind),
    FOREIGN KEY (district_code, hazard_id) REFERENCES hazards (district_code, id) ON DELETE CASCADE
);
COMMENT ON TABLE hazard_reminders IS 'deadline reminders and escalations raised: once per hazard and kind (due_3d, due_1d, overdue, escalated)';

-- The reminders' scan: open hazards by deadline.
CREATE INDEX hazards_deadline_open_idx ON hazards (deadline) WHERE deadline IS NOT NULL AND status NOT IN ('verified', 'closed');

-- +goose Down
DROP INDEX hazards_deadline_open_idx;
DROP TABLE hazard_reminders;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE notifications;
DROP TABLE notify_outbox;
