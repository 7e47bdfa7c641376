-- The paid periods of a membership whose included rewards (a plan's benefits.includedRewards)
-- were issued: a payment for a period already here issues nothing, whatever the provider resends.
create table membership_reward_periods (
  tenant_id      uuid not null,
  membership_id  uuid not null,
  period_start   timestamptz not null,
  period_end     timestamptz,            -- null: for life
  instance_ids   uuid[] not null,        -- the instances issued (a reward out of stock or disabled issues none)
  event_id       text,                   -- the provider event that paid for it
  issued_at      timestamptz not null,
  primary key (tenant_id, membership_id, period_start),
  foreign key (tenant_id, membership_id) references memberships
);
create trigger membership_reward_periods_append_only before update or delete on membership_reward_periods
  for each row execute function laurel_forbid_change();
