// Who is calling: an API key of a tenant (with scopes), or a member with a portal token.
// Every route declares who may call it; a member token only ever reaches its own member.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { authenticateApiKey, type Scope } from '../services/api-keys.js';
import type { Laurel } from '../services/context.js';
import { httpProblem } from './problems.js';

export type Principal =
  | { kind: 'key'; tenantId: string; keyId: string; scopes: Scope[] }
  | { kind: 'member'; tenantId: string; memberId: string };

/** Route config: which scopes may call (any of), and whether a member token may, for its own member. */
export interface Access {
  scopes: Scope[] | 'public';
  member?: boolean;
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

async function identify(laurel: Laurel, request: FastifyRequest): Promise<Principal | null> {
  const header = request.headers.authorization;
  if (!header) return null;
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
  return { kind: 'key', tenantId: key.tenantId, keyId: key.keyId, scopes: key.scopes };
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
  if (p.kind !== 'key' || !p.scopes.includes('admin')) throw httpProblem('forbidden', `only an admin key may set ${field}`);
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
  return p.kind === 'key' ? `key:${p.keyId}` : `member:${p.memberId}`;
}

export const READ: Access = { scopes: ['admin', 'pos', 'read'] };
export const READ_OR_MEMBER: Access = { scopes: ['admin', 'pos', 'read'], member: true };
export const POS: Access = { scopes: ['admin', 'pos'] };
export const ADMIN: Access = { scopes: ['admin'] };
