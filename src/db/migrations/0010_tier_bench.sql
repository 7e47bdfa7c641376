-- The review job's keyset (claimDueReviews in src/db/tiers.ts): a program's due members in
-- (tier_review_at, member_id) order, a chunk at a time. 0008's index leads with tier_review_at and
-- has no member_id, so each chunk read every due member of the program and sorted them to keep
-- the first 5,000: O(chunks × due members), 24 ms a chunk for 100,000 due members (bench/README.md,
-- "Tier reviews at scale"). This one serves the keyset as an index range in key order, and the
-- program-scoped "anyone due?" test of programsDueForReview as well, so it replaces 0008's rather
-- than adding a third index for every write of a member's review date to maintain.
drop index members_tier_review;
create index members_tier_due on members (tenant_id, program_id, tier_review_at, member_id) where tier_review_at is not null;
