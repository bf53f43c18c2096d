-- "Send a test message to my own number": one row per test, and its round trip as the provider
-- answered and the status webhooks told it. The user's own number is theirs, not a tenant's.
CREATE TABLE whatsapp_self_tests (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient           TEXT   NOT NULL,
    template_name       TEXT   NOT NULL,
    with_document       BIGINT NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    created_at          BIGINT NOT NULL,
    accepted_at         BIGINT,
    sent_at             BIGINT,
    delivered_at        BIGINT,
    read_at             BIGINT,
    failed_at           BIGINT,
    first_webhook_at    BIGINT,
    error_code          BIGINT,
    error_title         TEXT,
    error_detail        TEXT,
    error_anchor        TEXT,
    pricing_category    TEXT,
    pricing_type        TEXT
);
CREATE INDEX whatsapp_self_tests_user ON whatsapp_self_tests (user_id, id);
CREATE INDEX whatsapp_self_tests_message ON whatsapp_self_tests (provider_message_id);
