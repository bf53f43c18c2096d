-- Each send records the provider it went through, so a stored error code is explained by the
-- provider that reported it even after the user connects another one. Sends made before
-- providers existed went through Meta.
ALTER TABLE whatsapp_sends ADD COLUMN provider TEXT NOT NULL DEFAULT 'meta';
