-- Earning rules (SPEC §4). A rule's definition lives in immutable versions; the rule row holds
-- what changes (enabled, current version, budget used) and is the lock a budget is spent under.
-- Every award of a rule to an event is a row of rule_awards: per-member caps sum them, returns
-- add negative rows, and an event keeps the versions it used.

create table campaigns (
  tenant_id    uuid not null,
  campaign_id  uuid not null,
  program_id   uuid not null,
  name         text not null,
  valid_from   timestamptz,
  valid_to     timestamptz,
  budget       bigint check (budget >= 0),
  budget_used  bigint not null default 0 check (budget_used >= 0),
  per_member   jsonb not null default '[]' check (jsonb_typeof(per_member) = 'array'),
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, campaign_id),
  foreign key (tenant_id, program_id) references programs
);
create index campaigns_program on campaigns (tenant_id, program_id, campaign_id);

create table rules (
  tenant_id    uuid not null,
  rule_id      uuid not null,
  program_id   uuid not null,
  trigger      text not null check (trigger ~ '^[a-z][a-z0-9_]{0,63}$'),
  enabled      boolean not null,
  version      integer not null check (version >= 1),
  budget_used  bigint not null default 0 check (budget_used >= 0),
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, rule_id),
  foreign key (tenant_id, program_id) references programs
);
create index rules_program on rules (tenant_id, program_id, rule_id);
create index rules_active on rules (tenant_id, program_id, trigger) where enabled;

-- definition: the rule as JSON (numbers, ISO dates), exactly as validated on save.
create table rule_versions (
  tenant_id   uuid not null,
  rule_id     uuid not null,
  version     integer not null,
  definition  jsonb not null,
  actor       text not null,
  created_at  timestamptz not null,
  primary key (tenant_id, rule_id, version),
  foreign key (tenant_id, rule_id) references rules
);
create trigger rule_versions_append_only before update or delete on rule_versions
  for each row execute function laurel_forbid_change();

create table rule_awards (
  tenant_id    uuid not null,
  event_id     uuid not null,        -- the purchase or action that earned, or the return that took back
  rule_id      uuid not null,
  version      integer not null,
  campaign_id  uuid,
  member_id    uuid not null,
  occurred_at  timestamptz not null, -- of the earning event: caps count in its period
  wallet       text not null,
  points       bigint not null check (points <> 0),
  primary key (tenant_id, event_id, rule_id),
  foreign key (tenant_id, rule_id, version) references rule_versions
);
create index rule_awards_member_rule on rule_awards (tenant_id, member_id, rule_id, occurred_at);
create index rule_awards_member_campaign on rule_awards (tenant_id, member_id, campaign_id, occurred_at) where campaign_id is not null;
create trigger rule_awards_append_only before update or delete on rule_awards
  for each row execute function laurel_forbid_change();

-- Tier and grade as assigned (by an admin now; computed by tier reviews and grading later).
alter table members add column tier text, add column grade text;

-- An event now moves its points in the transaction that records it: one or more journal entries
-- (points, store credit), the facts its rules saw, and which rules fired (the explanation).
alter table events
  drop column ledger_key,
  drop column base_points,
  drop column base_per_minor,
  add column facts jsonb,
  add column explanation jsonb not null default '[]',
  add column entries jsonb not null default '[]';

-- The programs' base rate and action points become rules, then leave the program.
with base as (
  select tenant_id, program_id, base_points, base_per_minor, created_at, laurel_uuid_v7() as rule_id
  from programs where base_points > 0
), inserted as (
  insert into rules (tenant_id, rule_id, program_id, trigger, enabled, version, created_at, updated_at)
  select tenant_id, rule_id, program_id, 'purchase', true, 1, created_at, created_at from base
  returning tenant_id, rule_id
)
insert into rule_versions (tenant_id, rule_id, version, definition, actor, created_at)
select b.tenant_id, b.rule_id, 1, jsonb_build_object(
  'name', 'Base rate', 'trigger', 'purchase',
  'effect', jsonb_build_object('type', 'points_per_amount', 'points', b.base_points, 'per', b.base_per_minor)), 'migration', b.created_at
from base b join inserted i using (tenant_id, rule_id);

with actions as (
  select p.tenant_id, p.program_id, a.key as action, a.value as points, p.created_at, laurel_uuid_v7() as rule_id
  from programs p, jsonb_each(p.custom_action_points) a where (a.value)::bigint > 0
), inserted as (
  insert into rules (tenant_id, rule_id, program_id, trigger, enabled, version, created_at, updated_at)
  select tenant_id, rule_id, program_id, action, true, 1, created_at, created_at from actions
  returning tenant_id, rule_id
)
insert into rule_versions (tenant_id, rule_id, version, definition, actor, created_at)
select a.tenant_id, a.rule_id, 1, jsonb_build_object(
  'name', a.action || ' points', 'trigger', a.action,
  'effect', jsonb_build_object('type', 'fixed_points', 'points', a.points)), 'migration', a.created_at
from actions a join inserted i using (tenant_id, rule_id);

alter table programs drop column base_points, drop column base_per_minor, drop column custom_action_points;
