-- API keys (stored as a SHA-256 of the key, shown once) and the per-tenant secret that
-- signs member tokens.

create table api_keys (
  tenant_id     uuid not null references tenants,
  key_id        uuid not null,
  name          text not null,
  scopes        text[] not null check (scopes <@ array['admin', 'pos', 'read']::text[] and cardinality(scopes) > 0),
  secret_hash   text not null,
  created_at    timestamptz not null,
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  primary key (tenant_id, key_id)
);
-- A presented key is hashed and found by its hash, before its tenant is known.
create unique index api_keys_secret_hash on api_keys (secret_hash);

alter table tenants add column member_token_secret text;
update tenants set member_token_secret = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
alter table tenants alter column member_token_secret set not null;
