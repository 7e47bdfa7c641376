-- Tiers and customer grades (SPEC §5).
--
-- member_activity is what both measure: one row per event that moved a member's qualifying
-- points, spend or visits, written in the event's transaction. A return writes negative figures
-- at its own time, so it is counted by the next review rather than rewriting a window already
-- judged. Windows are sums over it by occurred_at.

create table member_activity (
  tenant_id          uuid not null,
  event_id           uuid not null,
  program_id         uuid not null,
  member_id          uuid not null,
  occurred_at        timestamptz not null,
  qualifying_points  bigint not null,  -- rule awards into the points wallet and the qualifying wallets
  spend              bigint not null,  -- money paid (minor units); a refund is negative
  visits             integer not null, -- 1 for a purchase; -1 for the return that refunds all of it
  primary key (tenant_id, event_id)
);
create index member_activity_member on member_activity (tenant_id, member_id, occurred_at)
  include (qualifying_points, spend, visits);
create trigger member_activity_append_only before update or delete on member_activity
  for each row execute function laurel_forbid_change();

-- Activity already recorded: purchases and returns (with their points by wallet), custom actions.
insert into member_activity (tenant_id, event_id, program_id, member_id, occurred_at, qualifying_points, spend, visits)
select e.tenant_id, e.event_id, e.program_id, e.member_id,
       case when e.type = 'return' then e.created_at else e.occurred_at end,
       coalesce((select sum((x->>'points')::bigint) from jsonb_array_elements(e.explanation) x
                 where x->>'wallet' = 'points' or exists (
                   select 1 from wallets w where w.tenant_id = e.tenant_id and w.program_id = e.program_id
                     and w.code = x->>'wallet' and w.kind = 'qualifying')), 0),
       case when e.type = 'purchase' then coalesce(e.total, 0) when e.type = 'return' then -coalesce(e.refund_amount, 0) else 0 end,
       case when e.type = 'purchase' then 1 else 0 end
from events e;

-- A program's tier ladder, as validated (core/tiers/ladder.ts); one per program.
create table tier_ladders (
  tenant_id    uuid not null,
  program_id   uuid not null,
  definition   jsonb not null,
  actor        text not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);

-- A member's place on the ladder: since when, the grace they are in, and when the review job
-- next looks at them (null: the program has no ladder).
alter table members
  add column tier_since        timestamptz,
  add column tier_grace_until  timestamptz,
  add column tier_review_at    timestamptz;
create index members_tier_review on members (tier_review_at, tenant_id, program_id) where tier_review_at is not null;

create table tier_history (
  tenant_id   uuid not null,
  history_id  uuid not null,
  member_id   uuid not null,
  at          timestamptz not null,
  from_tier   text,
  to_tier     text not null,
  change      text not null check (change in ('placed', 'up', 'kept', 'grace', 'down', 'set')),
  reason      text not null,
  event_id    uuid,   -- the event whose activity lifted the member
  primary key (tenant_id, history_id)
);
create index tier_history_member on tier_history (tenant_id, member_id, at desc, history_id desc);
create trigger tier_history_append_only before update or delete on tier_history
  for each row execute function laurel_forbid_change();

-- A program's grading scheme (core/grades/grading.ts); one per program.
create table grading_schemes (
  tenant_id    uuid not null,
  program_id   uuid not null,
  definition   jsonb not null,
  actor        text not null,
  updated_at   timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);

create table grade_history (
  tenant_id   uuid not null,
  history_id  uuid not null,
  member_id   uuid not null,
  at          timestamptz not null,
  from_grade  text,
  to_grade    text,
  reason      text not null,
  primary key (tenant_id, history_id)
);
create index grade_history_member on grade_history (tenant_id, member_id, at desc, history_id desc);
create trigger grade_history_append_only before update or delete on grade_history
  for each row execute function laurel_forbid_change();
