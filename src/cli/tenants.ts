// `laurel tenants …` and `laurel keys …`: what an operator with database access does for tenants
// and their API keys, including finding a tenant whose printed key was lost.
import { DomainError } from '../core/errors.js';
import { createApiKey, listApiKeys, revokeApiKey, validateScopes } from '../services/api-keys.js';
import type { Laurel } from '../services/context.js';
import { getTenant, listTenants, openTenant } from '../services/tenants.js';
import { idOption, required, UsageError, type Values } from './usage.js';

export const TENANT_COMMANDS = ['list', 'create'];
export const KEY_COMMANDS = ['create', 'list', 'revoke'];

/** A failure the operator can act on (exit 1), said in the CLI's words rather than the service's. */
export class Failure extends Error {}

/** The tenant of --tenant, which must exist. */
export async function existingTenant(laurel: Laurel, tenantId: string): Promise<void> {
  try {
    await getTenant(laurel, tenantId);
  } catch (e) {
    if (e instanceof DomainError && e.code === 'not_found') throw new Failure(`no tenant ${tenantId} (laurel tenants list shows them)`);
    throw e;
  }
}

export async function tenants(laurel: Laurel, sub: string, values: Values): Promise<number> {
  if (sub === 'list') {
    for (const t of await listTenants(laurel)) {
      console.log(`${t.tenantId}  ${t.name}  ${t.timeZone}  ${t.currency}  created ${t.createdAt.toISOString()}`);
    }
    return 0;
  }
  // The tenant and its first key in one transaction: never a tenant nobody can reach.
  const { tenant, apiKey } = await openTenant(laurel, { name: required(values, 'name'), timeZone: required(values, 'time-zone'), currency: required(values, 'currency') });
  console.log(`tenant ${tenant.tenantId}\nadmin API key ${apiKey.secret}`);
  return 0;
}

export async function keys(laurel: Laurel, sub: string, values: Values): Promise<number> {
  const tenantId = idOption(values, 'tenant', 'a tenant');
  if (sub === 'create') {
    if (tenantId === null) throw new UsageError('--tenant is required (laurel help)');
    const name = required(values, 'name');
    const scopes = validateScopes(required(values, 'scopes').split(','));
    await existingTenant(laurel, tenantId);
    const key = await createApiKey(laurel, tenantId, { name, scopes });
    console.log(`${key.keyId}  ${key.scopes.join(',')}  ${key.secret}`);
    return 0;
  }
  if (sub === 'list') {
    if (tenantId !== null) await existingTenant(laurel, tenantId);
    for (const k of await listApiKeys(laurel, tenantId)) {
      console.log(`${k.keyId}  ${k.tenantId}  ${k.name}  ${k.scopes.join(',')}  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`);
    }
    return 0;
  }
  const keyId = idOption(values, 'key', 'an API key');
  if (keyId === null) throw new UsageError('--key is required (laurel help)');
  try {
    const k = await revokeApiKey(laurel, tenantId, keyId);
    console.log(`${k.keyId} revoked (tenant ${k.tenantId}, ${k.name})`);
    return 0;
  } catch (e) {
    if (e instanceof DomainError && e.code === 'not_found') throw new Failure(`no API key ${keyId}${tenantId ? ` in tenant ${tenantId}` : ''} (laurel keys list shows them)`);
    if (e instanceof DomainError && e.code === 'conflict') throw new Failure(`API key ${keyId} is already revoked`);
    throw e;
  }
}
