-- Employee recognition: a program's recognition settings (which make it a recognition program),
-- the allowance credited to each member per period (one row per member and period: the job's
-- idempotency), and the gifts members give each other. Every point these move is a journal
-- entry: the allowance an earn into the giving wallet, a gift a spend of it plus an earn into the
-- receiver's points wallet, a lapse an expiry of the allowance's lot.

create table recognition_programs (
  tenant_id            uuid not null,
  program_id           uuid not null,
  giving_wallet        text not null,
  receiving_wallet     text not null,
  allowance            bigint not null check (allowance between 1 and 1000000000),
  period               text not null check (period in ('week', 'month', 'quarter')),
  carry_over           boolean not null,
  max_gift             bigint not null check (max_gift between 1 and 1000000000),
  approval_threshold   bigint check (approval_threshold between 1 and 1000000000),
  value_tags           jsonb not null check (jsonb_typeof(value_tags) = 'array'),
  updated_at           timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);

create table recognition_allowances (
  tenant_id     uuid not null,
  program_id    uuid not null,
  member_id     uuid not null,
  period_start  timestamptz not null,
  period_end    timestamptz not null,
  entry_id      uuid not null,
  amount        bigint not null check (amount > 0),
  created_at    timestamptz not null,
  primary key (tenant_id, program_id, member_id, period_start)
);

create table recognition_gifts (
  tenant_id        uuid not null,
  gift_id          uuid not null,
  program_id       uuid not null,
  giver_id         uuid not null,
  receiver_id      uuid not null check (receiver_id <> giver_id),
  amount           bigint not null check (amount > 0),
  message          text not null,
  value_tag        text not null,
  status           text not null check (status in ('pending', 'approved', 'declined')),
  spend_entry_id   uuid not null,      -- the giver's allowance spent (at once, also while pending)
  credit_entry_id  uuid,               -- the receiver's points, once approved
  return_entry_id  uuid,               -- a declined gift's allowance given back
  decided_by       text,
  decided_at       timestamptz,
  note             text,
  created_at       timestamptz not null,
  primary key (tenant_id, gift_id),
  check ((status = 'approved') = (credit_entry_id is not null)),
  check ((status = 'declined') = (return_entry_id is not null))
);
create index recognition_gifts_feed on recognition_gifts (tenant_id, program_id, gift_id desc);
create index recognition_gifts_pending on recognition_gifts (tenant_id, program_id, gift_id) where status = 'pending';
