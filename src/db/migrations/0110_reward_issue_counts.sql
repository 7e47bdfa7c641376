-- How many instances of a reward with no stock limit are issued: counted in 16 rows a reward
-- rather than on the reward's own row, so that members issued the same free coffee at once do not
-- queue behind one row lock until their events commit. A reward's issued count is its row's
-- `issued` plus these rows' sum; a reward with a stock limit counts on its row, under its lock,
-- where the limit needs it.
create table reward_issue_counts (
  tenant_id  uuid not null,
  reward_id  uuid not null,
  shard      smallint not null check (shard between 0 and 15),
  n          bigint not null,
  primary key (tenant_id, reward_id, shard),
  foreign key (tenant_id, reward_id) references rewards (tenant_id, reward_id)
);
