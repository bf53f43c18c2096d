-- Sending invoices over WhatsApp: the durable outbox, its attempts, inbound messages (the 24-hour
-- window and a short log per tenant), message templates and webhook bookkeeping.

ALTER TABLE whatsapp_connections ADD COLUMN webhook_verified_at BIGINT;
ALTER TABLE whatsapp_connections ADD COLUMN webhook_last_event_at BIGINT;
ALTER TABLE whatsapp_connections ADD COLUMN invoice_template_name TEXT;
ALTER TABLE whatsapp_connections ADD COLUMN invoice_template_language TEXT;

ALTER TABLE tenants ADD COLUMN wa_id TEXT;            -- Meta's id for the tenant (digits), from a send or a message
ALTER TABLE tenants ADD COLUMN last_inbound_at BIGINT; -- when the tenant last wrote: the 24-hour window
CREATE INDEX tenants_user_wa ON tenants (user_id, wa_id);

-- A bulk send ("Send selected", "Send all overdue"), for its progress bar.
CREATE TABLE whatsapp_batches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label      TEXT   NOT NULL,
    total      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX whatsapp_batches_user ON whatsapp_batches (user_id, id);

-- One request to send an invoice, and the job that carries it out.
--   state: queued → sending → accepted → sent → delivered → read, or failed; `unknown` after a
--   time-out whose outcome only a webhook can tell. `state_rank` orders them so webhook statuses only
--   ever move a send forward.
CREATE TABLE whatsapp_sends (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invoice_id         BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    tenant_id          BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    batch_id           BIGINT REFERENCES whatsapp_batches (id) ON DELETE SET NULL,
    recipient          TEXT   NOT NULL,            -- E.164 at the time of the request
    state              TEXT   NOT NULL CHECK (state IN ('queued', 'sending', 'unknown', 'accepted', 'sent', 'delivered', 'read', 'failed')),
    state_rank         BIGINT NOT NULL,
    kind               TEXT,                        -- document | template, decided when sent
    force_template     BIGINT NOT NULL DEFAULT 0,   -- 1 after a document was refused with 131047
    attempts           BIGINT NOT NULL DEFAULT 0,
    in_flight          BIGINT NOT NULL DEFAULT 0,   -- 1 while the /messages call of `attempts` is under way
    next_attempt_at    BIGINT NOT NULL,
    locked_by          TEXT,
    locked_until       BIGINT,
    phone_number_id    TEXT,
    media_id           TEXT,
    media_uploaded_at  BIGINT,
    wamid              TEXT,
    wa_id              TEXT,
    error_code         BIGINT,
    error_title        TEXT,
    error_detail       TEXT,
    error_anchor       TEXT,
    retrying           BIGINT NOT NULL DEFAULT 0,   -- 1 when error_* describe a failure that will be retried
    pricing_category   TEXT,
    pricing_type       TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    accepted_at        BIGINT,
    sent_at            BIGINT,
    delivered_at       BIGINT,
    read_at            BIGINT,
    failed_at          BIGINT
);
CREATE UNIQUE INDEX whatsapp_sends_wamid ON whatsapp_sends (wamid);
CREATE INDEX whatsapp_sends_due ON whatsapp_sends (state, next_attempt_at);
CREATE INDEX whatsapp_sends_invoice ON whatsapp_sends (invoice_id, id);
CREATE INDEX whatsapp_sends_user_sent ON whatsapp_sends (user_id, accepted_at);
CREATE INDEX whatsapp_sends_batch ON whatsapp_sends (batch_id);
-- At most one send of an invoice is under way at any time: a second click cannot queue another.
CREATE UNIQUE INDEX whatsapp_sends_one_active ON whatsapp_sends (invoice_id) WHERE state IN ('queued', 'sending', 'unknown');

-- Every call to Meta's /messages for a send, and what came of it.
CREATE TABLE whatsapp_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    send_id      BIGINT NOT NULL REFERENCES whatsapp_sends (id) ON DELETE CASCADE,
    number       BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    outcome      TEXT   NOT NULL,    -- accepted | retry | failed | unknown | fallback
    wamid        TEXT,
    error_code   BIGINT,
    error_text   TEXT,
    fbtrace_id   TEXT
);
CREATE INDEX whatsapp_attempts_send ON whatsapp_attempts (send_id, id);
CREATE INDEX whatsapp_attempts_wamid ON whatsapp_attempts (wamid);

-- Messages tenants wrote to the business number (the 24-hour window, and a short log).
CREATE TABLE whatsapp_inbound (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id       BIGINT REFERENCES tenants (id) ON DELETE SET NULL,
    wamid           TEXT   NOT NULL,
    wa_id           TEXT,
    kind            TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    received_at     BIGINT NOT NULL,
    UNIQUE (user_id, wamid)
);
CREATE INDEX whatsapp_inbound_tenant ON whatsapp_inbound (tenant_id, received_at);

-- The message templates of the user's WhatsApp Business Account, as last read or created.
CREATE TABLE whatsapp_templates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_id     TEXT   NOT NULL,
    name            TEXT   NOT NULL,
    language        TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    category        TEXT   NOT NULL,
    header_format   TEXT,
    body_text       TEXT   NOT NULL DEFAULT '',
    body_params     BIGINT NOT NULL DEFAULT 0,
    reason          TEXT,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, name, language)
);
