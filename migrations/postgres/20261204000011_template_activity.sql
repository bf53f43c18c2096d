-- Meta archives a template after 12 months without activity (created, edited or sent). Axis CRM
-- keeps when it created the template and when it last sent it, to warn a month before.
ALTER TABLE whatsapp_templates ADD COLUMN created_at BIGINT;
ALTER TABLE whatsapp_templates ADD COLUMN last_sent_at BIGINT;
-- Rows from before: their last read is the best estimate of their last activity.
UPDATE whatsapp_templates SET created_at = updated_at;
