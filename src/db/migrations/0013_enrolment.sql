-- laurel: no-transaction (the index is built concurrently: an upgrade of a large program keeps taking writes)
-- A universal program enrols an unknown member on their first event. With enroll_by_email false it
-- does not when the event names them by e-mail alone: a mistyped address would make a stranger a
-- member. They are enrolled explicitly (POST /v1/members) or by an event that gives an externalId.
alter table programs add column if not exists enroll_by_email boolean not null default true;

-- The externalId of the event that enrolled the member, when an event did (null: enrolled by a request).
alter table members add column if not exists enrolled_by_event text;

-- When the member's welcome (their signup event) is due to be sent again, until it is recorded:
-- the welcomes job retries one that failed after its member was created. Null: nothing due.
alter table members add column if not exists welcome_due_at timestamptz;
create index concurrently if not exists members_welcome_due on members (welcome_due_at) where welcome_due_at is not null;
