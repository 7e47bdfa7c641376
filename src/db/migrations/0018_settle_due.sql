-- The settle job's due set, per run: a table every connection sees, where a temp table lived on
-- one connection only (behind a transaction pooler, a run's statements reach several). Unlogged:
-- it is rebuilt by the next run if lost in a crash.
create unlogged table settle_due (
  run_id     uuid not null,
  tenant_id  uuid not null,
  member_id  uuid not null,
  wallet_id  uuid not null,
  created_at timestamptz not null default now(),
  primary key (run_id, tenant_id, member_id, wallet_id)
);
