// Who is calling: an API key of a tenant (with scopes), a member with a portal token, or a
// console user signed in with a session cookie (with a role). Every route declares who may call
// it; a member token only ever reaches its own member; a console user only what the role allows.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { authenticateApiKey, type Scope } from '../services/api-keys.js';
import type { Laurel } from '../services/context.js';
import { sessionOf, type Role } from '../services/users.js';
import { httpProblem } from './problems.js';

export type Principal =
  | { kind: 'key'; tenantId: string; keyId: string; name: string; scopes: Scope[] }
  | { kind: 'member'; tenantId: string; memberId: string }
  | { kind: 'user'; tenantId: string; userId: string; email: string; role: Role };

/**
 * Route config: which scopes may call (any of), whether a member token may (for its own member),
 * and which console roles may, when not the default (roleAllows).
 */
export interface Access {
  scopes: Scope[] | 'public';
  member?: boolean;
  roles?: Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

const TOKEN_ISSUER = 'laurel';
const TOKEN_AUDIENCE = 'laurel:member';

async function tenantSecret(laurel: Laurel, tenantId: string): Promise<Uint8Array | null> {
  const row = await laurel.db.selectFrom('tenants').select('member_token_secret').where('tenant_id', '=', tenantId).executeTakeFirst();
  return row ? new TextEncoder().encode(row.member_token_secret) : null;
}

/** A short-lived token a member portal uses to read that member's own data. */
export async function signMemberToken(laurel: Laurel, tenantId: string, memberId: string, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
  const secret = (await tenantSecret(laurel, tenantId))!;
  const now = laurel.clock.now();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  const token = await new SignJWT({ tid: tenantId })
    .setProtectedHeader({ alg: 'HS256' }).setSubject(memberId).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(Math.floor(now.getTime() / 1000)).setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(secret);
  return { token, expiresAt };
}

async function verifyMemberToken(laurel: Laurel, token: string): Promise<Principal | null> {
  const [, payload] = token.split('.');
  let tenantId: unknown;
  try {
    tenantId = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).tid;
  } catch {
    return null;
  }
  if (typeof tenantId !== 'string' || !/^[0-9a-f-]{36}$/.test(tenantId)) return null;
  const secret = await tenantSecret(laurel, tenantId);
  if (!secret) return null;
  try {
    const { payload: claims } = await jwtVerify(token, secret, {
      issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, algorithms: ['HS256'], currentDate: laurel.clock.now(),
    });
    return typeof claims.sub === 'string' ? { kind: 'member', tenantId, memberId: claims.sub } : null;
  } catch {
    return null;
  }
}

export const SESSION_COOKIE = 'laurel_session';
export const CSRF_COOKIE = 'laurel_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return undefined;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

// What each role may change, by the route's path: marketers run the program (rules, campaigns,
// rewards, tiers, grades), support serves members (adjust, suspend, erase, redeem, validate codes).
// Finance and viewers change nothing; owners everything. POSTs that write nothing (quotes) are
// open to every role.
const WRITES: Record<Role, (route: string) => boolean> = {
  owner: () => true,
  marketer: (route) => /^\/v1\/(programs|rules|campaigns|rewards|achievements)(\/|$)/.test(route),
  support: (route) => /^\/v1\/(members|holds|journal-entries|transfers|reward-instances|events)(\/|$)/.test(route),
  finance: () => false,
  viewer: () => false,
};
export const READ_ONLY_POSTS = new Set(['/v1/quotes', '/v1/checkout/points-quote', '/v1/rules/check-condition']);

/** Whether a console role may call a route: reads open to anyone a read key may, writes by area. */
export function roleAllows(role: Role, method: string, route: string, access: Access): boolean {
  if (access.roles) return access.roles.includes(role);
  if (role === 'owner') return true;
  if (access.scopes === 'public') return true;
  if (READ_ONLY_POSTS.has(route)) return true;
  if (READ_METHODS.has(method)) return access.scopes.includes('read');
  return WRITES[role](route);
}

async function identify(laurel: Laurel, request: FastifyRequest): Promise<Principal | null> {
  const header = request.headers.authorization;
  if (!header) return identifySession(laurel, request);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw httpProblem('unauthorized', 'use Authorization: Bearer <API key or member token>');
  const credential = match[1]!;
  if (credential.split('.').length === 3) {
    const member = await verifyMemberToken(laurel, credential);
    if (member) return member;
    throw httpProblem('unauthorized', 'the member token is invalid or expired');
  }
  const key = await authenticateApiKey(laurel, credential);
  if (!key) throw httpProblem('unauthorized', 'the API key is unknown or revoked');
  return { kind: 'key', tenantId: key.tenantId, keyId: key.keyId, name: key.name, scopes: key.scopes };
}

// A console session: the cookie proves who; on a write, the X-CSRF-Token header must repeat the
// session's CSRF token, which another site's page can neither read nor send (double submit).
async function identifySession(laurel: Laurel, request: FastifyRequest): Promise<Principal | null> {
  const token = cookie(request, SESSION_COOKIE);
  if (!token) return null;
  const session = await sessionOf(laurel, token);
  if (!session) throw httpProblem('unauthorized', 'the console session has expired: sign in again');
  if (!READ_METHODS.has(request.method)) {
    const presented = request.headers[CSRF_HEADER];
    const a = Buffer.from(typeof presented === 'string' ? presented : '');
    const b = Buffer.from(session.csrfToken);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw httpProblem('forbidden', 'a console write needs the X-CSRF-Token header of the session');
  }
  return { kind: 'user', tenantId: session.tenantId, userId: session.user.userId, email: session.user.email, role: session.user.role };
}

export function registerAuth(app: FastifyInstance, laurel: Laurel): void {
  app.decorateRequest('principal', null);
  // onRequest: a caller without access learns nothing, not even whether its body was valid.
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (!access || access.scopes === 'public') return;
    const principal = await identify(laurel, request);
    if (!principal) throw httpProblem('unauthorized', 'this operation needs Authorization: Bearer <API key>');
    request.principal = principal;
    if (principal.kind === 'member') {
      const own = (request.params as { memberId?: string } | undefined)?.memberId;
      if (!access.member || own === undefined || own.toLowerCase() !== principal.memberId) {
        throw httpProblem('forbidden', 'a member token can only read its own member');
      }
      return;
    }
    if (principal.kind === 'user') {
      if (!roleAllows(principal.role, request.method, request.routeOptions.url ?? '', access)) {
        throw httpProblem('forbidden', `the ${principal.role} role may not ${request.method === 'GET' ? 'read' : 'change'} this`);
      }
      return;
    }
    // Routes opened by role (users, the audit log, the books) keep their keys' scopes; the admin-only ones say so plainly.
    if (access.roles && access.scopes.length === 1 && !principal.scopes.includes('admin')) throw httpProblem('forbidden', 'this operation needs an admin key');
    if (!principal.scopes.some((s) => (access.scopes as Scope[]).includes(s))) {
      throw httpProblem('forbidden', `this operation needs one of the scopes: ${access.scopes.join(', ')}`);
    }
  });
}

/** The tenant of the authenticated caller; routes with access rules always have one. */
export function tenantOf(request: FastifyRequest): string {
  return request.principal!.tenantId;
}

/**
 * The caller's Idempotency-Key, in a namespace of its own: keys Laurel derives itself (an
 * event's `event:…` keys) can never collide with one a client chose.
 */
export function clientKey(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' ? `client:${key}` : undefined;
}

/** Refuses a field only an admin key may set (a member's tier, say) to any other caller. */
export function adminOnlyField(request: FastifyRequest, field: string): void {
  const p = request.principal!;
  const admin = p.kind === 'key' ? p.scopes.includes('admin') : p.kind === 'user' && p.role === 'owner';
  if (!admin) throw httpProblem('forbidden', `only an admin key or an owner may set ${field}`);
}

/** Whether the caller presents the deployment's operator key (LAUREL_OPERATOR_KEY): tenants, jobs. */
export function isOperator(request: FastifyRequest): boolean {
  const operatorKey = process.env.LAUREL_OPERATOR_KEY;
  const presented = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (!operatorKey || !presented) return false;
  const a = Buffer.from(operatorKey);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A label for the journal: which key (or member) did it. */
export function actorOf(request: FastifyRequest): string {
  const p = request.principal!;
  return p.kind === 'key' ? `key:${p.keyId}` : p.kind === 'user' ? `user:${p.userId}` : `member:${p.memberId}`;
}

export const READ: Access = { scopes: ['admin', 'pos', 'read'] };
export const READ_OR_MEMBER: Access = { scopes: ['admin', 'pos', 'read'], member: true };
export const POS: Access = { scopes: ['admin', 'pos'] };
export const ADMIN: Access = { scopes: ['admin'] };
