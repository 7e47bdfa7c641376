-- laurel: no-transaction (indexes built concurrently: a large program keeps taking writes)
-- Analytics read a program's events, activity and journal over a time range: one index range
-- scan each, carrying the columns the aggregates sum so the heap is not visited.
create index concurrently if not exists events_program_time on events (tenant_id, program_id, occurred_at)
  include (member_id, type, total);
create index concurrently if not exists member_activity_program_time on member_activity (tenant_id, program_id, occurred_at)
  include (member_id, spend, visits);
create index concurrently if not exists journal_entries_program_time on journal_entries (tenant_id, program_id, created_at)
  include (kind, amount, wallet_id, reverses_entry_id);
create index concurrently if not exists members_program_enrolled on members (tenant_id, program_id, enrolled_at);
create index concurrently if not exists reward_instances_program_issued on reward_instances (tenant_id, program_id, issued_at);
