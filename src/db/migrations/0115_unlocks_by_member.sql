-- laurel: no-transaction (indexes built concurrently: achievement_unlocks keeps taking writes)
-- An event reads its member's live unlocks of each achievement it counts for: how many in a
-- period, those above a cycle, the last cycle. With the live unlocks keyed by achievement first
-- and a smaller (tenant, member, achievement) index beside them, PostgreSQL chose the smaller one
-- and read every unlock the member ever had of the achievement from the heap (a stamp card's
-- hundreds). Keyed by member first, the one unique index answers each of these from the index
-- alone, and no other index by member is left for the planner to prefer (a member's list of
-- unlocks reads the live ones, through it too).
create unique index concurrently if not exists achievement_unlocks_member_live on achievement_unlocks (tenant_id, member_id, achievement_id, period, cycle)
  where revoked_at is null;
drop index concurrently if exists achievement_unlocks_live;
drop index concurrently if exists achievement_unlocks_member;
