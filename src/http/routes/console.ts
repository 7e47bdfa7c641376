// The console's own resources: sign-in sessions, console users and the audit log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { listAudit, type AuditRecord } from '../../services/audit.js';
import type { Laurel } from '../../services/context.js';
import {
  createUser, listUsers, LOCKOUT_ATTEMPTS, ROLES, SESSION_HOURS, sessionOf, signIn, signOut, updateUser, type Session, type User,
} from '../../services/users.js';
import { cookie, SESSION_COOKIE, tenantOf, type Access } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { httpProblem } from '../problems.js';
import { errors, Id, ListQuery, listOf, Nullable, Timestamp } from '../schemas.js';

const Role = Type.String({ enum: [...ROLES], description: 'owner: everything; marketer: programs, rules, campaigns, rewards, tiers, grades; support: members (look up, adjust, suspend, erase, rewards); finance and viewer: read only' });

const UserSchema = Type.Object({
  object: Type.Literal('console_user'),
  userId: Id('the user'),
  email: Type.String({ examples: ['owner@example.com'] }),
  name: Type.String({ examples: ['Olivia Owner'] }),
  role: Role,
  disabled: Type.Boolean({ description: 'a disabled user cannot sign in; its sessions ended when it was disabled' }),
  lockedUntil: Nullable(Timestamp(`locked after ${LOCKOUT_ATTEMPTS} failed sign-ins in a row, until then`)),
  createdAt: Timestamp('when'),
});

const SessionSchema = Type.Object({
  object: Type.Literal('session'),
  tenantId: Id('the tenant the user belongs to'),
  user: UserSchema,
  csrfToken: Type.String({ description: 'send it back as the X-CSRF-Token header on every write made with this session' }),
  expiresAt: Timestamp('when the session ends'),
}, { description: 'the signed-in console user' });

const AuditSchema = Type.Object({
  object: Type.Literal('audit_record'),
  auditId: Id('the record'),
  actor: Type.String({ description: 'user:<userId> or key:<keyId>', examples: ['user:01a20c82-4d1f-7939-b601-6e85e79978fe'] }),
  actorName: Type.String({ description: "the user's e-mail or the key's name", examples: ['owner@example.com'] }),
  method: Type.String({ examples: ['POST'] }),
  route: Type.String({ examples: ['/v1/members/:memberId/adjustments'] }),
  path: Type.String({ examples: ['/v1/members/01a20c82-4d1f-7939-b601-6e85e79978fe/adjustments'] }),
  status: Type.Integer({ examples: [201] }),
  request: Type.Unknown({ description: 'the body sent, secrets redacted' }),
  before: Type.Unknown({ description: 'the resource before a PUT or PATCH, as its GET showed it; null otherwise' }),
  after: Type.Unknown({ description: 'the answer' }),
  createdAt: Timestamp('when'),
});

const presentUser = (u: User) => ({
  object: 'console_user' as const, userId: u.userId, email: u.email, name: u.name, role: u.role, disabled: u.disabled,
  lockedUntil: u.lockedUntil?.toISOString() ?? null, createdAt: u.createdAt.toISOString(),
});
const presentSession = (s: Session) => ({ object: 'session' as const, tenantId: s.tenantId, user: presentUser(s.user), csrfToken: s.csrfToken, expiresAt: s.expiresAt.toISOString() });
const presentAudit = (a: AuditRecord) => ({
  object: 'audit_record' as const, auditId: a.auditId, actor: a.actor, actorName: a.actorName, method: a.method, route: a.route, path: a.path,
  status: a.status, request: a.request, before: a.before, after: a.after, createdAt: a.createdAt.toISOString(),
});

function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAge: number): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure}`);
}

const NoQuery = Type.Object({}, { additionalProperties: false });

const OWNER: Access = { scopes: ['admin'], roles: ['owner'] };
const AUDIT: Access = { scopes: ['admin'], roles: ['owner', 'finance'] };

export const consoleRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/session', {
    schema: {
      summary: 'Sign in to the console', tags: ['console'], operationId: 'signIn', security: [],
      description: `E-mail and password of a console user. Sets the httpOnly, SameSite=Strict session cookie and answers the CSRF token that every write with the session must send as \`X-CSRF-Token\`. After ${LOCKOUT_ATTEMPTS} wrong passwords in a row the account is locked for a while (429), even for the right password.`,
      body: Type.Object({ email: Type.String({ minLength: 1, maxLength: 200 }), password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: { 201: SessionSchema, ...errors(), 401: Type.Ref('Problem', { description: 'Wrong e-mail or password.' }), 429: Type.Ref('Problem', { description: 'Locked after repeated failures; the detail says until when.' }) },
    },
    config: { access: { scopes: 'public' } },
  }, async (request, reply) => {
    const outcome = await signIn(laurel, request.body.email, request.body.password);
    if (!outcome.ok) {
      if (outcome.reason === 'locked') {
        throw httpProblem('rate_limited', `too many failed sign-ins: the account is locked until ${outcome.lockedUntil!.toISOString()}`);
      }
      throw httpProblem('unauthorized', 'wrong e-mail or password');
    }
    setSessionCookie(request, reply, outcome.token, SESSION_HOURS * 3600);
    return reply.status(201).send(presentSession(outcome.session));
  });

  app.get('/session', {
    schema: {
      summary: 'The signed-in console user', tags: ['console'], operationId: 'getSession', security: [],
      description: 'The session of the cookie sent: who is signed in, with which role, and the CSRF token for writes.',
      querystring: NoQuery,
      response: { 200: SessionSchema, ...errors(), 401: Type.Ref('Problem', { description: 'No session, or it has ended.' }) },
    },
    config: { access: { scopes: 'public' } },
  }, async (request) => {
    const token = cookie(request, SESSION_COOKIE);
    const session = token ? await sessionOf(laurel, token) : null;
    if (!session) throw httpProblem('unauthorized', 'not signed in');
    return presentSession(session);
  });

  app.delete('/session', {
    schema: {
      summary: 'Sign out', tags: ['console'], operationId: 'signOut', security: [],
      description: 'Ends the session of the cookie sent and clears the cookie.',
      querystring: NoQuery,
      response: { 200: Type.Object({ object: Type.Literal('session'), signedOut: Type.Literal(true, { examples: [true] }) }, { description: 'Signed out.' }), ...errors(), 401: Type.Ref('Problem', { description: 'No session, or it had already ended.' }) },
    },
    config: { access: { scopes: 'public' } },
  }, async (request, reply) => {
    const token = cookie(request, SESSION_COOKIE);
    const session = token ? await sessionOf(laurel, token) : null;
    setSessionCookie(request, reply, '', 0);
    if (!session) throw httpProblem('unauthorized', 'not signed in');
    await signOut(laurel, token!);
    return reply.send({ object: 'session' as const, signedOut: true as const });
  });

  app.get('/users', {
    schema: {
      summary: 'List console users', tags: ['console'], operationId: 'listUsers',
      description: 'Everyone who can sign in to the console of this tenant, with their role. Owners and admin keys only.',
      response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(UserSchema) }, { description: 'the users' }), ...errors(403) },
    },
    config: { access: OWNER },
  }, async (request) => ({ object: 'list' as const, data: (await listUsers(laurel, tenantOf(request))).map(presentUser) }));

  app.post('/users', {
    schema: {
      summary: 'Create a console user', tags: ['console'], operationId: 'createUser',
      description: 'A person who signs in with this e-mail and password (10 characters or more) and acts with the role. Owners and admin keys only.',
      body: Type.Object({
        email: Type.String({ minLength: 3, maxLength: 200, examples: ['maria@example.com'] }),
        name: Type.String({ minLength: 1, maxLength: 200, examples: ['Maria Marketer'] }),
        role: Role,
        password: Type.String({ minLength: 10, maxLength: 200 }),
      }, { additionalProperties: false }),
      response: { 201: { ...UserSchema, description: 'the user' }, ...errors(403, 409) },
    },
    config: { access: OWNER },
  }, async (request, reply) => reply.status(201).send(presentUser(await createUser(laurel, tenantOf(request), request.body))));

  app.patch('/users/:userId', {
    schema: {
      summary: 'Change a console user', tags: ['console'], operationId: 'updateUser',
      description: "Change the role or name, set a new password, or disable the user (its sessions end at once). The last owner keeps the owner role. Owners and admin keys only.",
      params: Type.Object({ userId: Id('the user') }),
      body: Type.Object({
        role: Type.Optional(Role),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        disabled: Type.Optional(Type.Boolean()),
        password: Type.Optional(Type.String({ minLength: 10, maxLength: 200 })),
      }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: { ...UserSchema, description: 'the user as it is now' }, ...errors(403, 404, 409) },
    },
    config: { access: OWNER },
  }, async (request) => presentUser(await updateUser(laurel, tenantOf(request), request.params.userId, request.body)));

  app.get('/audit-log', {
    schema: {
      summary: 'The audit log', tags: ['console'], operationId: 'listAuditLog',
      description: 'Every write made by a console user or an admin key, newest first: who, what (method, route, path, body), the resource before (PUT, PATCH) and the answer after. Owners, finance and admin keys.',
      querystring: Type.Object({
        actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'user:<id>, key:<id>, or the e-mail or key name' })),
        path: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'part of the path: a member id, `adjustments`' })),
        method: Type.Optional(Type.String({ enum: ['POST', 'PUT', 'PATCH', 'DELETE'] })),
        from: Type.Optional(Type.String({ format: 'date-time', description: 'at or after' })),
        to: Type.Optional(Type.String({ format: 'date-time', description: 'before' })),
        ...ListQuery,
      }, { additionalProperties: false }),
      response: { 200: listOf(AuditSchema, 'a page of audit records, newest first'), ...errors(403) },
    },
    config: { access: AUDIT },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 50;
    const rows = await listAudit(laurel, tenantOf(request), {
      actor: q.actor, path: q.path, method: q.method, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined,
      before: decodeCursor(q.cursor), limit,
    });
    const p = page(rows, limit, (a) => a.auditId);
    return { ...p, data: p.data.map(presentAudit) };
  });
};
