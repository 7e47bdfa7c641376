-- laurel: no-transaction (built concurrently: an upgrade keeps issuing rewards meanwhile)
-- The console's redemptions list: a program's reward instances, newest first, a page at a time
-- (keyset on instance_id, a UUIDv7, so newest first is issue order).
create index concurrently if not exists reward_instances_program on reward_instances (tenant_id, program_id, instance_id);
