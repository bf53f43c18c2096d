-- Business profile, properties and units, tenants, invoices and their lines.
-- Money: decimal text for what the user typed, minor units (BIGINT) for sums and sorting.
-- Dates: ISO 'YYYY-MM-DD' text, which sorts correctly on both databases.
CREATE TABLE business_profiles (
    user_id              BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    address              TEXT   NOT NULL DEFAULT '',
    tax_id               TEXT   NOT NULL DEFAULT '',
    payment_instructions TEXT   NOT NULL DEFAULT '',
    default_currency     TEXT   NOT NULL DEFAULT 'GBP',
    default_country      TEXT   NOT NULL DEFAULT 'GB',
    invoice_prefix       TEXT   NOT NULL DEFAULT 'INV-',
    next_number          BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE properties (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    address    TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX properties_user ON properties (user_id, name);

CREATE TABLE units (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    property_id BIGINT NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    name        TEXT   NOT NULL
);
CREATE INDEX units_property ON units (property_id);

CREATE TABLE tenants (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    phone_raw       TEXT   NOT NULL DEFAULT '',
    phone_e164      TEXT,
    phone_is_mobile BIGINT NOT NULL DEFAULT 1,   -- 0 when the number is a fixed line
    email           TEXT   NOT NULL DEFAULT '',
    property_id     BIGINT REFERENCES properties (id) ON DELETE SET NULL,
    unit_id         BIGINT REFERENCES units (id) ON DELETE SET NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX tenants_user_name ON tenants (user_id, name);

CREATE TABLE invoices (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number         TEXT   NOT NULL,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id),
    issue_date     TEXT   NOT NULL,
    due_date       TEXT   NOT NULL,
    currency       TEXT   NOT NULL,
    status         TEXT   NOT NULL CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    notes          TEXT   NOT NULL DEFAULT '',
    subtotal_minor BIGINT NOT NULL,
    tax_minor      BIGINT NOT NULL,
    total_minor    BIGINT NOT NULL,
    paid_at        BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (user_id, number)
);
CREATE INDEX invoices_user_due ON invoices (user_id, due_date);
CREATE INDEX invoices_user_issue ON invoices (user_id, issue_date);
CREATE INDEX invoices_user_total ON invoices (user_id, total_minor);
CREATE INDEX invoices_user_status_due ON invoices (user_id, status, due_date);
CREATE INDEX invoices_tenant ON invoices (tenant_id);

CREATE TABLE invoice_lines (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id  BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    description TEXT   NOT NULL,
    quantity    TEXT   NOT NULL,
    unit_price  TEXT   NOT NULL,
    tax_rate    TEXT   NOT NULL,
    net_minor   BIGINT NOT NULL,
    tax_minor   BIGINT NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);
