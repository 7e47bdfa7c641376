-- Rewards catalog and redemption (SPEC §6).

-- Pay with points: `point_value_points` points are worth `point_value_minor` minor units of the
-- tenant's currency (null: the program does not take points as payment). What an unused reward
-- instance does when it expires: its points go back (refund) or not (forfeit).
alter table programs
  add column point_value_points bigint check (point_value_points > 0),
  add column point_value_minor  bigint check (point_value_minor > 0),
  add column expired_rewards    text not null default 'forfeit' check (expired_rewards in ('refund', 'forfeit')),
  add constraint programs_point_value check ((point_value_points is null) = (point_value_minor is null));

-- A reward's definition is JSON, as validated (core/rewards/reward.ts); the row holds what
-- redemptions read under its lock: the stock counter.
create table rewards (
  tenant_id    uuid not null,
  reward_id    uuid not null,
  program_id   uuid not null,
  code         text not null,
  definition   jsonb not null,
  issued       bigint not null default 0 check (issued >= 0),  -- instances not cancelled: what stock counts
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, reward_id),
  unique (tenant_id, program_id, code),
  foreign key (tenant_id, program_id) references programs
);

-- An issued reward. `reserved`: paid by a hold, part of a checkout, until the order captures it;
-- `issued`: paid, waiting to be used; `consumed`: used (once); `cancelled`: its points went back;
-- `expired`: not used in time (its points went back if the program says so).
create table reward_instances (
  tenant_id      uuid not null,
  instance_id    uuid not null,
  program_id     uuid not null,
  reward_id      uuid not null,
  member_id      uuid not null,
  code           text not null,
  status         text not null check (status in ('reserved', 'issued', 'consumed', 'cancelled', 'expired')),
  cost           bigint not null check (cost > 0),
  value          jsonb not null,      -- what it gives, as it was when issued
  partner_code   text,
  channel        text,
  entry_id       uuid,                -- the redeem entry that paid it
  hold_id        uuid,                -- the hold that pays it while reserved
  issued_at      timestamptz not null,
  expires_at     timestamptz,
  resolved_at    timestamptz,         -- consumed, cancelled or expired
  consumed_ref   text,                -- the order it was used on
  primary key (tenant_id, instance_id),
  unique (tenant_id, code)
);
create index reward_instances_member on reward_instances (tenant_id, member_id, reward_id, issued_at);
create index reward_instances_due on reward_instances (expires_at) where status in ('reserved', 'issued');

-- A partner's voucher codes, imported; a redemption takes one that is free.
create table partner_codes (
  tenant_id    uuid not null,
  reward_id    uuid not null,
  code         text not null,
  instance_id  uuid,
  imported_at  timestamptz not null,
  primary key (tenant_id, reward_id, code)
);
create index partner_codes_free on partner_codes (tenant_id, reward_id) where instance_id is null;

-- A purchase paid partly with points: the redeem entry that took them and how many, so that a
-- return gives back its share.
alter table events
  add column points_entry_id uuid,
  add column points_paid     bigint;
