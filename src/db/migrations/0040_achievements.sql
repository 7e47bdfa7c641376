-- Achievements (SPEC §8): definitions versioned like rules, running tallies the event path keeps
-- (no history re-scan on an event), what each event added (a return takes it back), unlocks, and
-- the backfill requests an admin starts.

create table achievements (
  tenant_id       uuid not null,
  achievement_id  uuid not null,
  program_id      uuid not null,
  code            text not null,
  enabled         boolean not null,
  version         integer not null check (version >= 1),
  created_at      timestamptz not null,
  updated_at      timestamptz not null,
  primary key (tenant_id, achievement_id),
  unique (tenant_id, program_id, code),
  foreign key (tenant_id, program_id) references programs
);
create index achievements_active on achievements (tenant_id, program_id) where enabled;

create table achievement_versions (
  tenant_id       uuid not null,
  achievement_id  uuid not null,
  version         integer not null,
  definition      jsonb not null,
  actor           text not null,
  created_at      timestamptz not null,
  primary key (tenant_id, achievement_id, version),
  foreign key (tenant_id, achievement_id) references achievements
);
create trigger achievement_versions_append_only before update or delete on achievement_versions
  for each row execute function laurel_forbid_change();

-- The running figures: per member and period (a streak's day/week/month, a repeatable counter's
-- reset period, else 0) and key (a sku or category of a distinct counter, else ''). A milestone
-- keeps the level it last saw in period 0.
create table achievement_tallies (
  tenant_id       uuid not null,
  achievement_id  uuid not null,
  member_id       uuid not null,
  period          integer not null,
  key             text not null,
  value           bigint not null,
  primary key (tenant_id, achievement_id, member_id, period, key)
);

-- What an event added to the tallies (a return: what it took back of its purchase's, negative).
create table achievement_contributions (
  tenant_id          uuid not null,
  event_id           uuid not null,
  achievement_id     uuid not null,
  period             integer not null,
  key                text not null,
  member_id          uuid not null,
  purchase_event_id  uuid not null,      -- the purchase or action whose contribution this is (itself, or the one a return takes from)
  value              bigint not null check (value <> 0),
  primary key (tenant_id, event_id, achievement_id, period, key)
);
create index achievement_contributions_purchase on achievement_contributions (tenant_id, purchase_event_id);

-- One unlock of an achievement by a member (a milestone: one telling). `cycle` numbers a
-- repeatable achievement's unlocks within its period; a revoked unlock frees its cycle.
create table achievement_unlocks (
  tenant_id       uuid not null,
  unlock_id       uuid not null,
  achievement_id  uuid not null,
  version         integer not null,
  program_id      uuid not null,
  member_id       uuid not null,
  period          integer not null,
  cycle           integer not null,
  threshold       bigint,              -- milestone: the balance told
  event_id        uuid,                -- the event that unlocked it; null: the backfill found it in history
  unlocked_at     timestamptz not null,
  points          bigint,              -- reward paid in points, and its entry
  entry_id        uuid,
  instance_id     uuid,                -- reward instance issued
  revoked_at      timestamptz,
  revoked_by      uuid,                -- the return that revoked it
  primary key (tenant_id, unlock_id),
  foreign key (tenant_id, achievement_id, version) references achievement_versions
);
create unique index achievement_unlocks_live on achievement_unlocks (tenant_id, achievement_id, member_id, period, cycle) where revoked_at is null;
create index achievement_unlocks_member on achievement_unlocks (tenant_id, member_id, achievement_id);
create index achievement_unlocks_report on achievement_unlocks (tenant_id, program_id, achievement_id, unlocked_at);

-- A recompute an admin asked for: the job takes members a chunk at a time after `cursor`.
create table achievement_backfills (
  tenant_id       uuid not null,
  backfill_id     uuid not null,
  achievement_id  uuid not null,
  program_id      uuid not null,
  status          text not null check (status in ('pending', 'done')),
  cursor          uuid,
  members_done    bigint not null default 0,
  unlocks_found   bigint not null default 0,
  actor           text not null,
  created_at      timestamptz not null,
  finished_at     timestamptz,
  primary key (tenant_id, backfill_id),
  foreign key (tenant_id, achievement_id) references achievements
);
create index achievement_backfills_pending on achievement_backfills (created_at) where status = 'pending';

-- An achievement's reward instance is issued free: it costs no points.
alter table reward_instances drop constraint if exists reward_instances_cost_check;
alter table reward_instances add constraint reward_instances_cost_check check (cost >= 0);
