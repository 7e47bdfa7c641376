-- Paid memberships (SPEC §8): plans, memberships with their lifecycle, every transition, the
-- fees paid (membership revenue with its period, for accounting to recognise over it), and the
-- payment provider's events already taken (idempotency on the provider's event id).

create table membership_plans (
  tenant_id        uuid not null,
  plan_id          uuid not null,
  program_id       uuid not null,
  code             text not null,
  name             text not null,
  fee              bigint not null check (fee >= 0),          -- minor units per period (once for lifetime)
  currency         text not null,
  period           text not null check (period in ('monthly', 'annual', 'lifetime')),
  trial_days       integer not null check (trial_days >= 0),
  grace_days       integer not null check (grace_days >= 0),
  benefits         jsonb not null,                             -- core/memberships/lifecycle.ts Benefits
  stripe_price_id  text,
  created_at       timestamptz not null,
  primary key (tenant_id, plan_id),
  unique (tenant_id, program_id, code),
  unique (tenant_id, program_id, stripe_price_id),
  foreign key (tenant_id, program_id) references programs
);

create table memberships (
  tenant_id            uuid not null,
  membership_id        uuid not null,
  program_id           uuid not null,
  member_id            uuid not null,
  plan_id              uuid not null,
  status               text not null check (status in ('trialing', 'active', 'past_due', 'cancelled', 'expired')),
  since                timestamptz not null,
  period_start         timestamptz,
  period_end           timestamptz,
  trial_ends_at        timestamptz,
  past_due_since       timestamptz,
  cancel_at_period_end boolean not null,
  expires_at           timestamptz,        -- when the benefits stop; null: never
  changed_at           timestamptz not null, -- the newest change applied: an older one is stale
  provider             text not null,      -- stripe, or whatever the payment-event API names
  external_id          text not null,      -- the provider's subscription (or one-off payment)
  customer_id          text,
  created_at           timestamptz not null,
  updated_at           timestamptz not null,
  primary key (tenant_id, membership_id),
  unique (tenant_id, program_id, provider, external_id),
  foreign key (tenant_id, program_id) references programs,
  foreign key (tenant_id, member_id) references members,
  foreign key (tenant_id, plan_id) references membership_plans
);
create index memberships_member on memberships (tenant_id, member_id, since desc);
-- The expiry job's scan: only memberships whose benefits end some day.
create index memberships_due on memberships (expires_at) where status <> 'expired' and expires_at is not null;

create table membership_transitions (
  tenant_id      uuid not null,
  transition_id  uuid not null,
  membership_id  uuid not null,
  from_status    text,
  to_status      text not null,
  cause          text not null,   -- what moved it: stripe:invoice.paid, payment:failed, cancel, expiry job…
  event_id       text,            -- the provider's event, when one did
  at             timestamptz not null,  -- when it happened (the provider's time)
  recorded_at    timestamptz not null,
  primary key (tenant_id, transition_id),
  foreign key (tenant_id, membership_id) references memberships
);
create index membership_transitions_of on membership_transitions (tenant_id, membership_id, transition_id);
create trigger membership_transitions_append_only before update or delete on membership_transitions
  for each row execute function laurel_forbid_change();

-- Membership revenue: a payment (positive) or a refund (negative) for a period. Accounting
-- recognises each over [period_start, period_end); a lifetime fee has no period_end.
create table membership_fees (
  tenant_id      uuid not null,
  fee_id         uuid not null,
  program_id     uuid not null,
  membership_id  uuid not null,
  member_id      uuid not null,
  plan_id        uuid not null,
  amount         bigint not null check (amount <> 0),
  currency       text not null,
  period_start   timestamptz,
  period_end     timestamptz,
  provider       text not null,
  external_id    text not null,   -- the invoice / payment / refund
  event_id       text not null,
  occurred_at    timestamptz not null,
  recorded_at    timestamptz not null,
  primary key (tenant_id, fee_id),
  unique (tenant_id, program_id, provider, event_id),
  foreign key (tenant_id, membership_id) references memberships
);
create index membership_fees_of on membership_fees (tenant_id, membership_id, fee_id);
create trigger membership_fees_append_only before update or delete on membership_fees
  for each row execute function laurel_forbid_change();

-- Each provider event taken once: a second delivery answers what the first did.
create table membership_payment_events (
  tenant_id      uuid not null,
  program_id     uuid not null,
  provider       text not null,
  event_id       text not null,
  type           text not null,
  membership_id  uuid,
  outcome        text not null,   -- applied, stale, ignored
  received_at    timestamptz not null,
  primary key (tenant_id, program_id, provider, event_id)
);

-- A program's Stripe webhook secret (whsec_…): it signs what Stripe sends, so it is kept in clear.
create table stripe_settings (
  tenant_id       uuid not null,
  program_id      uuid not null,
  webhook_secret  text not null,
  updated_at      timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);
create unique index stripe_settings_program on stripe_settings (program_id);
