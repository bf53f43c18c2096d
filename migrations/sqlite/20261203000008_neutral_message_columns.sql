-- Provider-neutral names for what every provider has: the provider's id of a message, its trace
-- id for support, the sender a send went out from, and the prepared document it referred to.
-- (The index names keep the old word; they are not read by the app.)
ALTER TABLE whatsapp_sends RENAME COLUMN wamid TO provider_message_id;
ALTER TABLE whatsapp_sends RENAME COLUMN phone_number_id TO sender_id;
ALTER TABLE whatsapp_sends RENAME COLUMN media_id TO media_ref;
ALTER TABLE whatsapp_sends RENAME COLUMN media_uploaded_at TO media_prepared_at;
ALTER TABLE whatsapp_attempts RENAME COLUMN wamid TO provider_message_id;
ALTER TABLE whatsapp_attempts RENAME COLUMN fbtrace_id TO trace_id;
ALTER TABLE whatsapp_inbound RENAME COLUMN wamid TO provider_message_id;
