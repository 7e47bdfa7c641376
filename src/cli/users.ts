// `laurel users …`: console users of a tenant, for the operator (the first owner of a tenant made
// with `laurel tenants create`, or a lost password).
import { randomBytes } from 'node:crypto';
import type { Laurel } from '../services/context.js';
import { createUser, listUsers } from '../services/users.js';
import { existingTenant } from './tenants.js';
import { idOption, required, UsageError, type Values } from './usage.js';

export const USER_COMMANDS = ['create', 'list'];

export const randomPassword = () => randomBytes(12).toString('base64url');

export async function users(laurel: Laurel, sub: string, values: Values): Promise<number> {
  const tenantId = idOption(values, 'tenant', 'a tenant');
  if (tenantId === null) throw new UsageError('--tenant is required (laurel help)');
  await existingTenant(laurel, tenantId);
  if (sub === 'list') {
    for (const u of await listUsers(laurel, tenantId)) console.log(`${u.userId}  ${u.email}  ${u.role}${u.disabled ? '  disabled' : ''}`);
    return 0;
  }
  const given = typeof values.password === 'string' ? values.password : null;
  const password = given ?? randomPassword();
  const user = await createUser(laurel, tenantId, { email: required(values, 'email'), name: required(values, 'name'), role: required(values, 'role'), password });
  console.log(`${user.userId}  ${user.email}  ${user.role}${given ? '' : `  password ${password}`}`);
  return 0;
}
