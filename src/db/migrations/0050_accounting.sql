-- Loyalty accounting (IFRS 15 / ASC 606): a program's accounting settings, its expected
-- redemption rates by period, the append-only accounting journal (allocations of purchases to
-- the points they earn, their reversals by returns, paid membership fees) and closed periods.
-- Money is integer minor units in the program's currency; rates are basis points (1/10,000).

create table accounting_settings (
  tenant_id              uuid not null,
  program_id             uuid not null,
  currency               char(3) not null,
  point_value_points     bigint not null check (point_value_points between 1 and 1000000000),
  point_value_minor      bigint not null check (point_value_minor between 1 and 1000000000),
  rate_method            text not null check (rate_method in ('manual', 'estimated')),
  min_history_months     integer not null check (min_history_months between 1 and 120),
  lifetime_fee_months    integer not null check (lifetime_fee_months between 1 and 1200),
  gl_accounts            jsonb not null check (jsonb_typeof(gl_accounts) = 'object'),
  updated_at             timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);

-- The expected redemption rate from the start of a period on (until the next row's).
create table accounting_rates (
  tenant_id       uuid not null,
  program_id      uuid not null,
  effective_from  timestamptz not null,
  period          text not null,
  rate_bps        integer not null check (rate_bps between 1 and 10000),
  method          text not null check (method in ('manual', 'estimated')),
  inputs          jsonb,
  set_at          timestamptz not null,
  set_by          text not null,
  primary key (tenant_id, program_id, effective_from)
);

create table accounting_entries (
  tenant_id          uuid not null,
  entry_id           uuid not null,
  program_id         uuid not null,
  kind               text not null check (kind in ('allocation', 'allocation_reversal', 'fee')),
  member_id          uuid,
  event_id           uuid,            -- the purchase or the return that wrote it
  purchase_event_id  uuid,            -- the purchase an allocation or its reversal belongs to
  ledger_entry_id    uuid,            -- the earn or the reversal in the points ledger
  points             bigint not null, -- points issued (+) or taken back (-) with this money
  amount             bigint not null, -- contract liability (minor units): + deferred, - reversed
  price              bigint,          -- allocation: what the customer paid
  ssp_micro          bigint,          -- allocation: the points' share before rounding, in millionths of a minor unit
  rate_bps           integer,         -- allocation: the expected redemption rate it used
  carry_micro        bigint,          -- allocation: the member's rounding carry after it
  fee_ref            text,            -- fee: the caller's id of the payment
  service_start      timestamptz,     -- fee: the service period it pays for
  service_end        timestamptz,
  posted_at          timestamptz not null,
  primary key (tenant_id, entry_id)
);
create index accounting_entries_program on accounting_entries (tenant_id, program_id, posted_at);
create index accounting_entries_member on accounting_entries (tenant_id, member_id, entry_id) where kind = 'allocation';
create index accounting_entries_purchase on accounting_entries (tenant_id, purchase_event_id) where purchase_event_id is not null;
create unique index accounting_entries_fee on accounting_entries (tenant_id, program_id, fee_ref) where kind = 'fee';
create trigger accounting_entries_append_only before update or delete on accounting_entries
  for each row execute function laurel_forbid_change();

-- A closed month: the cumulative state at its end, frozen. Reports of closed periods read it.
create table accounting_closes (
  tenant_id    uuid not null,
  program_id   uuid not null,
  month        text not null,        -- YYYY-MM in the tenant's zone
  start_at     timestamptz not null,
  end_at       timestamptz not null,
  state        jsonb not null,       -- the cumulative figures at end_at and the rate used
  closed_at    timestamptz not null,
  closed_by    text not null,
  primary key (tenant_id, program_id, month)
);
create trigger accounting_closes_append_only before update or delete on accounting_closes
  for each row execute function laurel_forbid_change();
