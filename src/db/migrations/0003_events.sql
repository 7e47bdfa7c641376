-- Events (a purchase, a return, a custom action) and the base earning settings of a program,
-- until earning rules arrive. An event is recorded once per (program, external id); its ledger
-- effect is an earn or a reversal made under an idempotency key derived from that external id
-- (ledger_key), so a retry after a crash completes the effect without ever doing it twice.

alter table programs
  add column base_points bigint not null default 1 check (base_points between 0 and 1000000),
  add column base_per_minor bigint not null default 100 check (base_per_minor between 1 and 1000000000),
  add column custom_action_points jsonb not null default '{}' check (jsonb_typeof(custom_action_points) = 'object');

create table events (
  tenant_id          uuid not null,
  event_id           uuid not null,
  program_id         uuid not null,
  member_id          uuid not null,
  external_id        text not null,
  type               text not null check (type ~ '^[a-z][a-z0-9_]{0,63}$'),
  occurred_at        timestamptz not null,
  channel            text,
  location           text,
  currency           char(3),
  total              bigint check (total >= 0),             -- purchase: money paid (minor units), what earns
  paid_with_points   bigint check (paid_with_points >= 0),  -- purchase: the part paid with points or store credit
  refund_amount      bigint check (refund_amount >= 0),     -- return: money refunded
  order_ref          text,
  purchase_event_id  uuid,                                  -- return: the purchase it refunds
  base_points        bigint,                                -- purchase: the rate it earned at
  base_per_minor     bigint,
  payload            jsonb not null,                        -- lines, attributes
  points             bigint not null,                       -- earned (> 0) or taken back (< 0)
  ledger_key         text,                                  -- idempotency key of the earn or reversal
  entry_id           uuid,                                  -- that journal entry, once written
  created_at         timestamptz not null,
  primary key (tenant_id, event_id),
  unique (tenant_id, program_id, external_id),
  foreign key (tenant_id, program_id) references programs,
  foreign key (tenant_id, member_id) references members,
  foreign key (tenant_id, purchase_event_id) references events,
  check ((type = 'return') = (purchase_event_id is not null)),
  check ((points = 0) = (ledger_key is null))
);
create index events_member on events (tenant_id, member_id, event_id);
create index events_returns on events (tenant_id, purchase_event_id) where purchase_event_id is not null;
