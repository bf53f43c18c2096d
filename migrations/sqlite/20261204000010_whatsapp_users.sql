-- WhatsApp usernames (2026): a customer may hide their number behind a username. Meta then
-- identifies them by a business-scoped user id (BSUID, e.g. `US.13491208655302741918`), valid
-- only for the business portfolio it came from. A tenant keeps it with the account it belongs to;
-- `phone_e164` stays nullable, and a tenant known only by the id can still be invoiced.
ALTER TABLE tenants ADD COLUMN provider_user_id TEXT;
ALTER TABLE tenants ADD COLUMN provider_user_scope TEXT;
ALTER TABLE tenants ADD COLUMN username TEXT;
-- One tenant per user id within an account: two deliveries from a new username at once make one.
CREATE UNIQUE INDEX tenants_provider_user ON tenants (user_id, provider_user_id) WHERE provider_user_id IS NOT NULL;
