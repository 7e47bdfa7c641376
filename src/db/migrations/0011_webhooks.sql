-- Webhooks out (SPEC §9): a tenant's endpoints, and one delivery per outbox message and endpoint.
-- The relay turns outbox messages into deliveries in one set-based statement; the deliverer
-- claims due deliveries with FOR UPDATE SKIP LOCKED and a short lease, sends them signed
-- (Standard Webhooks), and records each attempt's outcome. The deliveries are the delivery log.

create table webhook_endpoints (
  tenant_id    uuid not null,
  endpoint_id  uuid not null,
  url          text not null,
  description  text,
  -- Standard Webhooks symmetric secret: 'whsec_' + base64 of 24 random bytes. Kept in clear
  -- because every send is signed with it; shown to the tenant once, when the endpoint is made.
  secret       text not null,
  -- the message types it receives; empty: every type
  event_types  text[] not null default '{}',
  enabled      boolean not null default true,
  created_at   timestamptz not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, endpoint_id)
);

create table webhook_deliveries (
  tenant_id         uuid not null,
  delivery_id       uuid not null,
  message_id        uuid not null,   -- the outbox message (outbox.message_id); also the webhook-id header
  endpoint_id       uuid not null,
  status            text not null check (status in ('pending', 'delivered', 'failed')),  -- failed: given up
  attempts          integer not null default 0,
  -- pending: when it may be sent next. A claimed delivery's lease: a worker that stops mid-send
  -- leaves it due again once the lease runs out. Null once delivered or given up.
  next_attempt_at   timestamptz,
  last_attempt_at   timestamptz,
  last_status_code  integer,          -- the endpoint's HTTP status; null when none came back
  last_error        text,             -- why the last attempt failed (network error, timeout, status)
  delivered_at      timestamptz,
  created_at        timestamptz not null,
  primary key (tenant_id, delivery_id),
  unique (tenant_id, message_id, endpoint_id)
);
-- what the deliverer polls: pending deliveries by due time, across tenants
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
-- an endpoint's delivery log, newest first
create index webhook_deliveries_endpoint on webhook_deliveries (tenant_id, endpoint_id, delivery_id);

comment on column outbox.delivered_at is
  'when the webhook relay fanned the message out into webhook_deliveries (one per matching enabled endpoint, possibly none); not when an endpoint received it: that is webhook_deliveries.delivered_at';
