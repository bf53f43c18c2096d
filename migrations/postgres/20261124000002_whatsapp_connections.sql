-- One WhatsApp Cloud API connection per user. Secrets are AES-256-GCM ciphertexts
-- ("v1.<key id>.<base64>", see src/server/crypto.rs), never plain text.
CREATE TABLE whatsapp_connections (
    id                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                  BIGINT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    mode                     TEXT   NOT NULL CHECK (mode IN ('live', 'sandbox')),
    phone_number_id          TEXT   NOT NULL,
    business_account_id      TEXT,
    phone_number             TEXT,            -- E.164, optional, as the user gave it
    app_id                   TEXT,
    access_token_enc         TEXT   NOT NULL,
    token_last4              TEXT   NOT NULL,
    app_secret_enc           TEXT,
    token_kind               TEXT   NOT NULL, -- temporary | expiring | permanent | unknown
    token_expires_at         BIGINT,
    verified_name            TEXT,
    display_phone_number     TEXT,
    quality_rating           TEXT,
    name_status              TEXT,
    code_verification_status TEXT,
    number_status            TEXT,
    account_mode             TEXT,
    throughput_level         TEXT,
    messaging_limit          TEXT,
    health_problems          TEXT,            -- JSON array of Meta's descriptions
    webhook_key              TEXT   NOT NULL UNIQUE,
    verify_token_enc         TEXT   NOT NULL,
    connected_at             BIGINT NOT NULL,
    last_checked_at          BIGINT NOT NULL,
    last_check_error         TEXT
);
