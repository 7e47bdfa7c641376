-- laurel: no-transaction (built concurrently: a large program's history keeps taking writes)
-- The console's tenant-wide lists of recent tier and grade changes read these, newest first;
-- the per-member indexes of 0008 cannot serve them without reading every member's history.
create index concurrently if not exists tier_history_recent on tier_history (tenant_id, at desc, history_id desc);
create index concurrently if not exists grade_history_recent on grade_history (tenant_id, at desc, history_id desc);
