-- laurel: no-transaction (built concurrently: an upgrade of a large ledger keeps taking writes)
-- Member-scoped partial indexes for the "is anything due" check that every wallet lock makes
-- (lockWallet). Each EXISTS of that check reads at most one entry of one of these, so its cost
-- no longer grows with the member's history. The global indexes of 0001 (lots_due_to_mature,
-- lots_due_to_expire, holds_due) stay: the settlement jobs scan them across all members.

-- pending lots, by when they mature
create index concurrently if not exists lots_member_pending on lots (tenant_id, member_id, wallet_id, available_at) where pending;
-- live (spendable) lots, by when they expire: "any live lot" and "a live lot past its date"
create index concurrently if not exists lots_member_live on lots (tenant_id, member_id, wallet_id, expires_at) where remaining > 0 and not pending;
-- debts left by claw-backs
create index concurrently if not exists lots_member_debt on lots (tenant_id, member_id, wallet_id) where remaining < 0;
-- active holds, by when they expire
create index concurrently if not exists holds_member_active on holds (tenant_id, member_id, wallet_id, expires_at) where status = 'active';
