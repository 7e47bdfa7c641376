-- Scheduled work (SPEC §12). A schedule row per job is both its cron and its lock: a worker
-- claims a due job with FOR UPDATE SKIP LOCKED, moves its next run on, and takes a lease, so
-- any number of workers run each job once per due time. Every run is recorded. The jobs
-- themselves are set-based and idempotent, so a run cut short is finished by the next one.
-- Jobs run across tenants: these two tables are the deployment's, not a tenant's.

create table job_schedules (
  job           text primary key,
  cron          text not null,
  time_zone     text not null,
  enabled       boolean not null default true,
  next_run_at   timestamptz not null,
  failures      integer not null default 0,   -- consecutive failed runs: the backoff grows with them
  leased_until  timestamptz                    -- a run in progress; a crashed worker's lease runs out
);

create table job_runs (
  run_id       uuid primary key,
  job          text not null,
  trigger      text not null check (trigger in ('schedule', 'manual')),
  status       text not null check (status in ('running', 'succeeded', 'failed', 'abandoned')),
  worker       text not null,
  started_at   timestamptz not null,
  finished_at  timestamptz,
  stats        jsonb,
  error        text
);
create index job_runs_job on job_runs (job, started_at desc);

-- Messages for the outside world (webhooks, reminders), written in the transaction that decides
-- them; dedupe_key makes "once per lot" a constraint rather than a hope.
create table outbox (
  tenant_id     uuid not null,
  message_id    uuid not null,
  type          text not null,
  dedupe_key    text not null,
  payload       jsonb not null,
  created_at    timestamptz not null,
  delivered_at  timestamptz,
  primary key (tenant_id, message_id),
  unique (tenant_id, dedupe_key)
);
create index outbox_undelivered on outbox (created_at) where delivered_at is null;

-- Days before a lot expires that its member is reminded (null: no reminders).
alter table programs add column expiry_reminder_days integer check (expiry_reminder_days between 1 and 365);
