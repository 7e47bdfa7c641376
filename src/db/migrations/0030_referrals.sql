-- Referrals (SPEC §7): a program's referral settings, each member's stable code, the referrals
-- themselves (one per referee: attribution is immutable) and the hashed fraud signals
-- (device ids, payment fingerprints) members' events carried.
create table referral_settings (
  tenant_id   uuid not null,
  program_id  uuid not null,
  enabled     boolean not null,
  settings    jsonb not null,
  updated_at  timestamptz not null,
  updated_by  text not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);

create table referral_codes (
  tenant_id   uuid not null,
  member_id   uuid not null,
  program_id  uuid not null,
  code        text not null,
  created_at  timestamptz not null,
  primary key (tenant_id, member_id),
  foreign key (tenant_id, member_id) references members
);
-- A code finds its member within the tenant: codes are unique per tenant.
create unique index referral_codes_code on referral_codes (tenant_id, code);
create index referral_codes_program on referral_codes (tenant_id, program_id, created_at);

create table referrals (
  tenant_id               uuid not null,
  referral_id             uuid not null,
  program_id              uuid not null,
  referrer_id             uuid not null,
  referee_id              uuid not null,
  code                    text not null,
  state                   text not null check (state in ('pending', 'qualified', 'rewarded', 'rejected', 'reversed')),
  reason                  text,
  -- what the refusal found, for people ("referrer and referee share a device")
  detail                  text,
  joined_at               timestamptz not null,
  -- the end of the "within N days of joining" window; null: no limit
  expires_at              timestamptz,
  qualified_at            timestamptz,
  qualifying_external_id  text,
  -- when the hold ends: the qualifying order's return window
  reward_at               timestamptz,
  rewarded_at             timestamptz,
  rejected_at             timestamptz,
  reversed_at             timestamptz,
  referrer_points         bigint not null default 0,
  referee_points          bigint not null default 0,
  referrer_entry_id       uuid,
  referee_entry_id        uuid,
  referrer_instance_id    uuid,
  referee_instance_id     uuid,
  primary key (tenant_id, referral_id),
  foreign key (tenant_id, referrer_id) references members,
  foreign key (tenant_id, referee_id) references members,
  check ((state = 'rejected') = (reason is not null))
);
-- Attribution is immutable: one referral per referee, ever.
create unique index referrals_referee on referrals (tenant_id, referee_id);
create index referrals_referrer on referrals (tenant_id, referrer_id, qualified_at);
create index referrals_program on referrals (tenant_id, program_id, referral_id);
create index referrals_qualifying on referrals (tenant_id, program_id, qualifying_external_id) where qualifying_external_id is not null;
create index referrals_reward_due on referrals (reward_at) where state = 'qualified';
create index referrals_expiring on referrals (expires_at) where state = 'pending';

create table referral_signals (
  tenant_id   uuid not null,
  program_id  uuid not null,
  kind        text not null check (kind in ('device', 'payment')),
  -- sha-256 of the value: the raw id is never kept here
  hash        text not null,
  member_id   uuid not null,
  primary key (tenant_id, program_id, kind, hash, member_id)
);
create index referral_signals_member on referral_signals (tenant_id, member_id);

-- A referral's reward instance is given, not bought: it costs 0 points and has no spend entry.
alter table reward_instances drop constraint reward_instances_cost_check;
alter table reward_instances add constraint reward_instances_cost_check check (cost >= 0);
