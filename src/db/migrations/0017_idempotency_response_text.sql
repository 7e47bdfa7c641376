-- A replayed answer must be byte-for-byte the first: jsonb re-orders an object's keys, so the
-- stored response is kept as the text it was written as. Rows written before keep their jsonb.
alter table idempotency_keys add column response_text text;
alter table idempotency_keys alter column response drop not null;
