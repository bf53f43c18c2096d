-- What Meta last said about the whole account (`account_update`: a restriction, a ban, the app
-- removed, a pricing tier), and whether it pauses the connection's sends: `paused` 1 pauses
-- them until `paused_until` (Unix seconds), or until lifted when that is NULL.
ALTER TABLE whatsapp_connections ADD COLUMN account_notice TEXT;
ALTER TABLE whatsapp_connections ADD COLUMN account_notice_at BIGINT;
ALTER TABLE whatsapp_connections ADD COLUMN paused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE whatsapp_connections ADD COLUMN paused_until BIGINT;
