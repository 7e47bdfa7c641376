-- laurel: no-transaction (built concurrently: an upgrade of a large ledger keeps taking writes)
-- A spend reads the member's spendable lots in consumption order (soonest-expiring, then oldest)
-- and stops once they cover the amount (loadLots). This index hands them over in that order, so
-- the read stops after a few rows whatever the member's history. lots_member_live stays: the due
-- check's "a live lot past its date" reads one entry of it, and without it the planner prefers
-- lots_member (narrower than this one) and filters every lot of the member.
create index concurrently if not exists lots_member_spendable on lots (tenant_id, member_id, wallet_id, expires_at, earned_at, lot_id)
  where remaining > 0 and not pending;
