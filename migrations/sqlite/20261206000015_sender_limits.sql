-- What the provider caps for the sending number, as the last connection check read it:
-- messages a second (a number shared with the WhatsApp Business app is fixed at 20) and unique
-- customers reached outside their window in 24 hours (the messaging limit's tier; NULL is
-- unlimited or not known).
ALTER TABLE whatsapp_connections ADD COLUMN max_per_second BIGINT;
ALTER TABLE whatsapp_connections ADD COLUMN daily_unique_limit BIGINT;
ALTER TABLE whatsapp_connections ADD COLUMN shared_with_app BIGINT NOT NULL DEFAULT 0;
