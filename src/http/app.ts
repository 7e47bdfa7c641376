// The Fastify application: one plugin per resource, schemas first (they validate requests,
// serialize responses and become the OpenAPI document), every error as problem+json.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { uuidv7 } from '../core/ids.js';
import { pingDatabase } from '../db/connection.js';
import type { Laurel } from '../services/context.js';
import { registerAudit } from './audit.js';
import { registerAuth } from './auth.js';
import { registerMetrics } from './metrics.js';
import { swaggerOptions } from './openapi.js';
import { jsonBodyParser } from './json-body.js';
import { PROBLEMS, httpProblem, problem, sendProblem, toProblem } from './problems.js';
import { described, ProblemSchema } from './schemas.js';
import { unprocessableInput, validatorCompiler } from './validation.js';
import { routes } from './routes/index.js';

export interface AppOptions {
  logger?: boolean;
  /** requests per minute per API key (or per address without one) */
  rateLimitPerMinute?: number;
  /** the built console and portal (web/dist) to serve at /console and /portal; false: none */
  web?: string | false;
  /**
   * redis://… (default REDIS_URL): the rate limit's counters live there, shared by every process
   * using it. Without, each process counts on its own (N processes allow N times the limit).
   */
  redisUrl?: string | undefined;
  /** the prefix of the counters' keys in Redis */
  rateLimitNamespace?: string;
}

/**
 * A Redis client for the shared rate limit, answering before the app starts: a REDIS_URL that
 * leads nowhere stops the start with a message, rather than letting each process count alone.
 * Once started, a request whose counter Redis cannot reach is served (and logged): the limit
 * protects the service, it must not take it down.
 */
async function rateLimitRedis(url: string, log: FastifyBaseLogger): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  let started = false;
  // (ioredis reports each failed reconnection, a few seconds apart)
  redis.on('error', (err) => {
    if (started) log.warn({ err }, 'Redis unreachable: requests are served without the shared rate limit until it is back');
  });
  try {
    await redis.connect();
    await redis.ping();
    started = true;
  } catch (e) {
    redis.disconnect();
    throw new Error(`REDIS_URL is set but Redis does not answer (${e instanceof Error ? e.message : String(e)}): start Redis, or unset REDIS_URL to limit each process on its own`, { cause: e });
  }
  return redis;
}

/**
 * The methods some route accepts on a concrete path (`/v1/members/0190…/adjustments`), from the
 * routes as they are registered: a path that exists under another method answers 405 with Allow.
 */
function routeMethods(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url.split('/').map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*'
      : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    routes.push({ pattern: new RegExp(`^${source}$`), methods: ([] as string[]).concat(route.method) });
  });
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
}

const WEB_DIST = resolve(import.meta.dirname, '../../web/dist');

export async function buildApp(laurel: Laurel, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : { level: process.env.LOG_LEVEL ?? 'info' },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : uuidv7();
    },
    bodyLimit: 1_048_576,
    forceCloseConnections: 'idle',
    // A request that arrives while the server closes is answered by the onRequest hook below,
    // as problem+json, instead of Fastify's own plain 503.
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false } },
    // Errors the router raises before any route runs (a path segment that is not valid
    // percent-encoding, or longer than maxParamLength) are problems like any other.
    frameworkErrors: (error, request, reply) => sendProblem(request, reply, toProblem(error)),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // JSON only: a text body is refused as 415 instead of reaching validation as a string.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser(app.getDefaultJsonParser('error', 'error')));
  app.addSchema(ProblemSchema);
  // Once the app is closing, answers close their connection: close() then waits for the
  // requests in flight, not for keep-alive clients to hang up (keepAliveTimeout, 72 s).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw httpProblem('unavailable', 'the server is shutting down; retry after the Retry-After header');
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Any site may call the API with a bearer credential (the widget on a shop's page, with a
    // member token). Never with credentials: a console session's cookie stays same-site.
    if (request.headers.origin) reply.header('access-control-allow-origin', '*');
    if (closing) reply.header('connection', 'close');
  });
  const methods = routeMethods(app);
  app.setErrorHandler((error, request, reply) => {
    const p = toProblem(error);
    if (p.status === 503) request.log.warn({ err: error }, 'database unavailable');
    else if (p.status >= 500) request.log.error({ err: error }, 'unexpected error');
    return sendProblem(request, reply, p);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = methods(path);
    // a browser's CORS preflight for a bearer call from another site (the widget on a shop page)
    if (request.method === 'OPTIONS' && allowed.length > 0 && path.startsWith('/v1/')) {
      return reply.status(204).header('access-control-allow-origin', '*').header('access-control-allow-methods', allowed.join(', '))
        .header('access-control-allow-headers', 'authorization, content-type, idempotency-key').header('access-control-max-age', '600').send();
    }
    if (allowed.length === 0) return sendProblem(request, reply, problem('not_found', `no route ${request.method} ${path}`));
    reply.header('allow', allowed.join(', '));
    return sendProblem(request, reply, problem('method_not_allowed', `${path} accepts ${allowed.join(', ')}, not ${request.method}`));
  });

  await app.register(swagger, swaggerOptions());
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get('/openapi.json', { schema: { hide: true }, config: { access: { scopes: 'public' } } }, async () => app.swagger());

  registerAuth(app, laurel);
  // Input the schemas cannot refuse but the server cannot process (NUL, lone surrogates, deep nesting): 400.
  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [['body', request.body], ['querystring', request.query], ['params', request.params]] as const) {
      const fault = unprocessableInput(value);
      if (fault) {
        const field = fault.field || part;
        throw httpProblem('validation', `invalid ${part}: ${field} ${fault.message}`, [{ field, message: fault.message }]);
      }
    }
  });
  registerAudit(app, laurel);
  registerMetrics(app);
  const redisUrl = 'redisUrl' in options ? options.redisUrl : process.env.REDIS_URL || undefined;
  const redis = redisUrl ? await rateLimitRedis(redisUrl, app.log) : undefined;
  if (redis) app.addHook('onClose', async () => void (await redis.quit().catch(() => redis.disconnect())));
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? Number(process.env.LAUREL_RATE_LIMIT_PER_MINUTE ?? 6000),
    timeWindow: '1 minute',
    // (a hash: the counters' keys, in Redis too, never hold a credential)
    keyGenerator: (request) => createHash('sha256').update(request.headers.authorization ?? `ip:${request.ip}`).digest('base64url'),
    ...(redis ? { redis, nameSpace: options.rateLimitNamespace ?? 'laurel-rate-limit-', skipOnError: true } : {}),
  });

  app.get('/healthz', {
    schema: {
      operationId: 'getHealth', summary: 'Liveness and readiness', tags: ['operations'], security: [],
      description: 'Answers 200 when the API accepts requests and the database answers a query; 503 while the database cannot be reached (a restart, a failover). No authentication.',
      response: {
        200: described(Type.Object({ status: Type.Literal('ok'), engine: Type.String({ enum: ['pglite', 'postgres'], examples: ['pglite'] }) }), 'The API and its database are up.'),
        429: Type.Ref('Problem', { description: 'Rate limit exceeded (per address).' }),
        503: Type.Ref('Problem', { description: 'The database cannot be reached for now (problem type /problems/unavailable, with Retry-After).' }),
      },
    },
    config: { access: { scopes: 'public' } },
  }, async () => {
    try {
      await pingDatabase(laurel.db);
    } catch (e) {
      throw httpProblem('unavailable', `the database is unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { status: 'ok' as const, engine: laurel.engine };
  });

  app.get('/problems/:type', { schema: { hide: true }, config: { access: { scopes: 'public' } } }, async (request, reply) => {
    const slug = (request.params as { type: string }).type.replaceAll('-', '_') as keyof typeof PROBLEMS;
    const p = PROBLEMS[slug];
    if (!p) return sendProblem(request, reply, problem('not_found', 'no such problem type'));
    return { type: `/problems/${slug.replaceAll('_', '-')}`, title: p.title, status: p.status, description: p.about };
  });

  await app.register(routes(laurel), { prefix: '/v1' });
  const web = options.web ?? WEB_DIST;
  if (web !== false && existsSync(resolve(web, 'console/index.html'))) await serveWeb(app, web);
  return app;
}

// The console and the portal are single-page apps: any path under them answers its index.html,
// and the browser's router takes it from there. Their assets are immutable (hashed names).
async function serveWeb(app: FastifyInstance, root: string): Promise<void> {
  await app.register(fastifyStatic, { root: resolve(root, 'assets'), prefix: '/assets/', immutable: true, maxAge: '365d' });
  const hidden = { schema: { hide: true }, config: { access: { scopes: 'public' as const } } };
  for (const page of ['console', 'portal']) {
    const send = (_request: unknown, reply: import('fastify').FastifyReply) => reply.header('cache-control', 'no-cache').sendFile(`${page}/index.html`, root);
    app.get(`/${page}`, hidden, send);
    app.get(`/${page}/*`, hidden, send);
  }
  app.get('/widget.js', hidden, (_request, reply) => reply.header('cache-control', 'no-cache').sendFile('widget.js', root));
  app.get('/', hidden, (_request, reply) => reply.redirect('/console'));
}
