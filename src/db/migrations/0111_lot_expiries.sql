-- What an expiry took from each lot: one row per expire entry (a wallet's lots expiring together),
-- lots and amounts side by side, instead of one lot movement per lot. The settle job expires
-- millions of lots; a movement each (a row and three index entries) cost as much as everything
-- else the expire statement does. A lot's remaining is the sum of its movements less what its
-- expiries took, and `laurel verify` checks it for every lot. Expiries recorded before this
-- migration stay lot movements: both count.
create table lot_expiries (
  tenant_id  uuid not null,
  entry_id   uuid not null,
  wallet_id  uuid not null,
  lot_ids    uuid[] not null,
  amounts    bigint[] not null,
  created_at timestamptz not null,
  primary key (tenant_id, entry_id),
  check (cardinality(lot_ids) > 0 and cardinality(lot_ids) = cardinality(amounts))
);
create trigger lot_expiries_append_only before update or delete on lot_expiries
  for each row execute function laurel_forbid_change();
