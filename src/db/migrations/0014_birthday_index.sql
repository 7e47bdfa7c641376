-- laurel: no-transaction (built concurrently: an upgrade of a large program keeps taking writes)
-- The birthdays job finds, per tenant, the active members born on a given month and day (as
-- month × 100 + day): one probe of this index per tenant, not a scan of every member.
create index concurrently if not exists members_birthday on members (tenant_id, (extract(month from birthday)::int * 100 + extract(day from birthday)::int)) where birthday is not null and status = 'active';
