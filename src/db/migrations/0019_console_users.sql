-- Console users (people who sign in with e-mail and password), their sessions, and the audit
-- log of every write made in the console or with an admin API key (SPEC §12).

create table console_users (
  tenant_id        uuid not null references tenants,
  user_id          uuid not null,
  email            text not null,
  name             text not null,
  role             text not null check (role in ('owner', 'marketer', 'support', 'finance', 'viewer')),
  -- scrypt: 'scrypt$N$r$p$salt$hash', salt and hash in base64url
  password_hash    text not null,
  failed_attempts  integer not null default 0,
  locked_until     timestamptz,
  disabled_at      timestamptz,
  created_at       timestamptz not null,
  primary key (tenant_id, user_id)
);
-- One e-mail signs in to one tenant: the sign-in form asks for no tenant.
create unique index console_users_email on console_users (email);

-- Only a SHA-256 of the session token is kept (256 random bits, like API keys).
create table console_sessions (
  token_hash   text primary key,
  tenant_id    uuid not null,
  user_id      uuid not null,
  csrf_token   text not null,
  created_at   timestamptz not null,
  expires_at   timestamptz not null,
  foreign key (tenant_id, user_id) references console_users
);
create index console_sessions_user on console_sessions (tenant_id, user_id);

create table audit_log (
  tenant_id    uuid not null,
  audit_id     uuid not null,
  actor        text not null,        -- user:<id> or key:<id>
  actor_name   text not null,        -- the user's e-mail or the key's name, as it was then
  method       text not null,
  route        text not null,        -- the route pattern: /v1/members/:memberId/adjustments
  path         text not null,        -- the path called, ids included
  status       integer not null,
  request      jsonb,                -- the body sent (secrets removed)
  before       jsonb,                -- the resource before a PUT or PATCH
  after        jsonb,                -- the answer
  created_at   timestamptz not null,
  -- audit ids are UUIDv7: their order is time order, newest first is the primary key backwards
  primary key (tenant_id, audit_id)
);
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function laurel_forbid_change();
