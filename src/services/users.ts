// Console users: people who sign in with e-mail and password and act with a role. Passwords are
// kept as scrypt hashes (node:crypto); a session is a random token whose SHA-256 is stored, sent
// as an httpOnly cookie, with a CSRF token the console echoes in a header on every write.
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { Role } from '../db/schema.js';
import type { Laurel } from './context.js';
import { requireId, requireText } from './validate.js';

export const ROLES = ['owner', 'marketer', 'support', 'finance', 'viewer'] as const satisfies readonly Role[];
export type { Role };

/** Failed sign-ins in a row before the account is locked, and for how long. */
export const LOCKOUT_ATTEMPTS = 5;
export const LOCKOUT_MINUTES = 15;
export const SESSION_HOURS = 12;

export interface User {
  userId: string;
  tenantId: string;
  email: string;
  name: string;
  role: Role;
  disabled: boolean;
  lockedUntil: Date | null;
  createdAt: Date;
}

export interface Session {
  tenantId: string;
  user: User;
  csrfToken: string;
  expiresAt: Date;
}

// N=2^15 takes ~50 ms and 32 MiB: slow enough to make guessing costly, fast enough for a sign-in.
const SCRYPT = { N: 32768, r: 8, p: 1, keylen: 32 };

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (e, key) => (e ? reject(e) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keylen } = SCRYPT;
  const key = await scryptAsync(password, salt, keylen, { N, r, p, maxmem: 128 * N * r * 2 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const N = Number(n);
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: Number(r), p: Number(p), maxmem: 128 * N * Number(r) * 2 });
  return timingSafeEqual(key, expected);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type UserRow = { user_id: string; tenant_id: string; email: string; name: string; role: Role; disabled_at: Date | null; locked_until: Date | null; created_at: Date };
const userOf = (r: UserRow): User => ({
  userId: r.user_id, tenantId: r.tenant_id, email: r.email, name: r.name, role: r.role, disabled: r.disabled_at !== null, lockedUntil: r.locked_until, createdAt: r.created_at,
});

function requireEmail(value: unknown): string {
  const email = requireText(value, 'email', 200).trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw invalid('email', 'email must be an e-mail address');
  return email;
}

function requireRole(value: unknown): Role {
  if (!ROLES.includes(value as Role)) throw invalid('role', `role must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

function requirePassword(value: unknown): string {
  if (typeof value !== 'string' || value.length < 10 || value.length > 200) throw invalid('password', 'password must be 10 to 200 characters');
  return value;
}

export async function createUser(laurel: Laurel, tenantId: string, input: { email: unknown; name: unknown; role: unknown; password: unknown }): Promise<User> {
  const email = requireEmail(input.email);
  const name = requireText(input.name, 'name', 200);
  const role = requireRole(input.role);
  const password = requirePassword(input.password);
  const taken = await laurel.db.selectFrom('console_users').select('user_id').where('email', '=', email).executeTakeFirst();
  if (taken) throw new DomainError('conflict', 'a console user with this e-mail exists', 'email');
  const row = await laurel.db.insertInto('console_users').values({
    tenant_id: tenantId, user_id: uuidv7(), email, name, role, password_hash: await hashPassword(password), created_at: laurel.clock.now(),
  }).returningAll().executeTakeFirstOrThrow();
  return userOf(row);
}

export async function listUsers(laurel: Laurel, tenantId: string): Promise<User[]> {
  const rows = await laurel.db.selectFrom('console_users').selectAll().where('tenant_id', '=', tenantId).orderBy('user_id').execute();
  return rows.map(userOf);
}

export async function getUser(laurel: Laurel, tenantId: string, userId: string): Promise<User> {
  const row = await laurel.db.selectFrom('console_users').selectAll()
    .where('tenant_id', '=', tenantId).where('user_id', '=', requireId(userId, 'userId', 'user')).executeTakeFirst();
  if (!row) throw notFound('console user', 'userId');
  return userOf(row);
}

/** Changes a user's role or name, disables or re-enables it; a disabled user's sessions end. */
export async function updateUser(laurel: Laurel, tenantId: string, userId: string, input: { role?: unknown; name?: unknown; disabled?: unknown; password?: unknown }): Promise<User> {
  const user = await getUser(laurel, tenantId, userId);
  const set: { role?: Role; name?: string; disabled_at?: Date | null; password_hash?: string; failed_attempts?: number; locked_until?: null } = {};
  if (input.role !== undefined) set.role = requireRole(input.role);
  if (input.name !== undefined) set.name = requireText(input.name, 'name', 200);
  if (input.disabled !== undefined) set.disabled_at = input.disabled ? laurel.clock.now() : null;
  if (input.password !== undefined) Object.assign(set, { password_hash: await hashPassword(requirePassword(input.password)), failed_attempts: 0, locked_until: null });
  if (user.role === 'owner' && (set.role && set.role !== 'owner' || set.disabled_at)) {
    const owners = await laurel.db.selectFrom('console_users').select(laurel.db.fn.countAll<string>().as('n'))
      .where('tenant_id', '=', tenantId).where('role', '=', 'owner').where('disabled_at', 'is', null).executeTakeFirstOrThrow();
    if (Number(owners.n) <= 1) throw new DomainError('conflict', 'the last owner keeps the owner role', 'role');
  }
  if (Object.keys(set).length === 0) return user;
  const row = await laurel.db.updateTable('console_users').set(set).where('tenant_id', '=', tenantId).where('user_id', '=', user.userId).returningAll().executeTakeFirstOrThrow();
  if (set.disabled_at || set.password_hash) await laurel.db.deleteFrom('console_sessions').where('tenant_id', '=', tenantId).where('user_id', '=', user.userId).execute();
  return userOf(row);
}

export type SignIn = { ok: true; session: Session; token: string } | { ok: false; reason: 'invalid' | 'locked'; lockedUntil?: Date };

/**
 * Checks e-mail and password. A wrong password counts a failure; the LOCKOUT_ATTEMPTS-th in a
 * row locks the account for LOCKOUT_MINUTES, and while locked even the right password is refused.
 * An unknown e-mail costs the same scrypt as a known one, so timing does not tell them apart.
 */
export async function signIn(laurel: Laurel, emailInput: unknown, password: unknown): Promise<SignIn> {
  const email = typeof emailInput === 'string' ? emailInput.trim().toLowerCase() : '';
  const row = await laurel.db.selectFrom('console_users').selectAll().where('email', '=', email).executeTakeFirst();
  const now = laurel.clock.now();
  const matches = await checkPassword(typeof password === 'string' ? password : '', row?.password_hash ?? DUMMY_HASH);
  if (!row || row.disabled_at) return { ok: false, reason: 'invalid' };
  if (row.locked_until && row.locked_until > now) return { ok: false, reason: 'locked', lockedUntil: row.locked_until };
  if (!matches) {
    const failures = (row.locked_until ? 0 : row.failed_attempts) + 1;
    const lockedUntil = failures >= LOCKOUT_ATTEMPTS ? new Date(now.getTime() + LOCKOUT_MINUTES * 60_000) : null;
    await laurel.db.updateTable('console_users').set({ failed_attempts: lockedUntil ? 0 : failures, locked_until: lockedUntil })
      .where('tenant_id', '=', row.tenant_id).where('user_id', '=', row.user_id).execute();
    return lockedUntil ? { ok: false, reason: 'locked', lockedUntil } : { ok: false, reason: 'invalid' };
  }
  await laurel.db.updateTable('console_users').set({ failed_attempts: 0, locked_until: null })
    .where('tenant_id', '=', row.tenant_id).where('user_id', '=', row.user_id).execute();
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3_600_000);
  await laurel.db.insertInto('console_sessions').values({
    token_hash: sha256(token), tenant_id: row.tenant_id, user_id: row.user_id, csrf_token: csrfToken, created_at: now, expires_at: expiresAt,
  }).execute();
  return { ok: true, token, session: { tenantId: row.tenant_id, user: userOf({ ...row, locked_until: null }), csrfToken, expiresAt } };
}

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** The live session a cookie's token names, or null: unknown, expired, or its user disabled. */
export async function sessionOf(laurel: Laurel, token: string): Promise<Session | null> {
  if (token.length < 20 || token.length > 100) return null;
  const row = await laurel.db.selectFrom('console_sessions as s')
    .innerJoin('console_users as u', (j) => j.onRef('u.tenant_id', '=', 's.tenant_id').onRef('u.user_id', '=', 's.user_id'))
    .select(['s.csrf_token', 's.expires_at', 'u.user_id', 'u.tenant_id', 'u.email', 'u.name', 'u.role', 'u.disabled_at', 'u.locked_until', 'u.created_at'])
    .where('s.token_hash', '=', sha256(token)).executeTakeFirst();
  if (!row || row.expires_at <= laurel.clock.now() || row.disabled_at) return null;
  return { tenantId: row.tenant_id, user: userOf(row), csrfToken: row.csrf_token, expiresAt: row.expires_at };
}

export async function signOut(laurel: Laurel, token: string): Promise<void> {
  await laurel.db.deleteFrom('console_sessions').where('token_hash', '=', sha256(token)).execute();
}

/** Whether the tenant has any console user yet (serve creates the first owner when not). */
export async function hasUsers(laurel: Laurel, tenantId: string): Promise<boolean> {
  return !!(await laurel.db.selectFrom('console_users').select('user_id').where('tenant_id', '=', tenantId).limit(1).executeTakeFirst());
}
