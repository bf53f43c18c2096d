-- Connections know their provider. Every connection made before providers existed is Meta's
-- Cloud API; webhooks for it keep answering at /webhooks/whatsapp/{key}.
ALTER TABLE whatsapp_connections ADD COLUMN provider TEXT NOT NULL DEFAULT 'meta';
