// Writes the audit log: after every successful write (not the POSTs that only compute: quotes, checks) by a console user or an admin key, one row
// with who, the route, the body sent, the resource before (PUT and PATCH: read through the
// route's own GET, so it is what the API shows) and the answer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recordAudit } from '../services/audit.js';
import type { Laurel } from '../services/context.js';
import { actorOf, READ_ONLY_POSTS } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    auditBefore?: unknown;
  }
}

const audited = (request: FastifyRequest): boolean => {
  const p = request.principal;
  if (!p || request.method === 'GET' || request.method === 'HEAD' || READ_ONLY_POSTS.has(request.routeOptions.url ?? '')) return false;
  return p.kind === 'user' || (p.kind === 'key' && p.scopes.includes('admin'));
};

export function registerAudit(app: FastifyInstance, laurel: Laurel): void {
  app.addHook('preHandler', async (request) => {
    if (!audited(request) || (request.method !== 'PUT' && request.method !== 'PATCH')) return;
    const route = request.routeOptions.url;
    if (!route || !app.hasRoute({ method: 'GET', url: route })) return;
    const answer = await app.inject({
      method: 'GET', url: request.url.split('?')[0]!,
      headers: { ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}), ...(request.headers.cookie ? { cookie: request.headers.cookie } : {}) },
    });
    if (answer.statusCode === 200) request.auditBefore = answer.json();
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (!audited(request) || reply.statusCode >= 400) return payload;
    const p = request.principal!;
    let after: unknown = null;
    if (typeof payload === 'string') {
      try {
        after = JSON.parse(payload);
      } catch {
        after = null;
      }
    }
    await recordAudit(laurel, p.tenantId, {
      actor: actorOf(request), actorName: p.kind === 'user' ? p.email : p.kind === 'key' ? p.name : '',
      method: request.method, route: request.routeOptions.url ?? '', path: request.url.split('?')[0]!, status: reply.statusCode,
      request: request.body ?? null, before: request.auditBefore ?? null, after,
    });
    return payload;
  });
}
