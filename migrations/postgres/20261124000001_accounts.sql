-- Accounts, sessions and login throttling (PostgreSQL).
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT   NOT NULL,
    email_key     TEXT   NOT NULL UNIQUE,   -- lower-cased: unique case-insensitively
    name          TEXT   NOT NULL,
    business_name TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,          -- argon2id PHC string
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT   PRIMARY KEY,           -- SHA-256 of the cookie's session id, never the id itself
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE login_failures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email_key  TEXT   NOT NULL,
    client_ip  TEXT   NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email_key, at);
CREATE INDEX login_failures_ip ON login_failures (client_ip, at);
