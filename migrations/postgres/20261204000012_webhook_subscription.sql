-- Whether the connection's app is subscribed to its WhatsApp Business Account's webhooks
-- (Meta's `subscribed_apps`): 1, 0, or NULL when not known. Without it no webhook arrives.
ALTER TABLE whatsapp_connections ADD COLUMN webhooks_subscribed BIGINT;
