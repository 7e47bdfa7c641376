-- Households: members pooling points in one shared wallet. The pool is the points wallet of an
-- account member the household owns (external id `household:<id>`), so every pooled point is an
-- ordinary lot under the ordinary lock: concurrent spends by two members queue on that one
-- balance row and can never overdraw it. household_entries says which member each pool entry
-- was for (who brought, earned or spent), beside the journal.

create table households (
  tenant_id          uuid not null,
  household_id       uuid not null,
  program_id         uuid not null,
  name               text not null,
  account_member_id  uuid not null,
  created_at         timestamptz not null,
  primary key (tenant_id, household_id),
  unique (tenant_id, account_member_id),
  foreign key (tenant_id, program_id) references programs,
  foreign key (tenant_id, account_member_id) references members
);

create table household_members (
  tenant_id     uuid not null,
  membership_id uuid not null,
  household_id  uuid not null,
  member_id     uuid not null,
  can_spend     boolean not null,
  joined_at     timestamptz not null,
  left_at       timestamptz,
  primary key (tenant_id, membership_id),
  foreign key (tenant_id, household_id) references households,
  foreign key (tenant_id, member_id) references members
);
-- A member is in one household at a time.
create unique index household_members_current on household_members (tenant_id, member_id) where left_at is null;
create index household_members_household on household_members (tenant_id, household_id) where left_at is null;

create table household_entries (
  tenant_id     uuid not null,
  entry_id      uuid not null,
  household_id  uuid not null,
  member_id     uuid not null,
  action        text not null check (action in ('brought', 'earned', 'spent')),
  primary key (tenant_id, entry_id),
  foreign key (tenant_id, household_id) references households
);
create index household_entries_household on household_entries (tenant_id, household_id, entry_id desc);
