// The Fastify application: one plugin per resource, schemas first (they validate requests,
// serialize responses and become the OpenAPI document), every error as problem+json.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { uuidv7 } from '../core/ids.js';
import type { Laurel } from '../services/context.js';
import { registerAudit } from './audit.js';
import { registerAuth } from './auth.js';
import { registerMetrics } from './metrics.js';
import { swaggerOptions } from './openapi.js';
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
    ajv: { customOptions: { removeAdditional: false } },
    // Errors the router raises before any route runs (a path segment that is not valid
    // percent-encoding, or longer than maxParamLength) are problems like any other.
    frameworkErrors: (error, request, reply) => sendProblem(request, reply, toProblem(error)),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // JSON only: a text body is refused as 415 instead of reaching validation as a string.
  app.removeContentTypeParser(['text/plain']);
  app.addSchema(ProblemSchema);
  // Once the app is closing, answers close their connection: close() then waits for the
  // requests in flight, not for keep-alive clients to hang up (keepAliveTimeout, 72 s).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Any site may call the API with a bearer credential (the widget on a shop's page, with a
    // member token). Never with credentials: a console session's cookie stays same-site.
    if (request.headers.origin) reply.header('access-control-allow-origin', '*');
    if (closing) reply.header('connection', 'close');
  });
  app.setErrorHandler((error, request, reply) => {
    const p = toProblem(error);
    if (p.status >= 500) request.log.error({ err: error }, 'unexpected error');
    return sendProblem(request, reply, p);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, problem('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)));

  await app.register(swagger, swaggerOptions());
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.options('/v1/*', { schema: { hide: true }, config: { access: { scopes: 'public' } } }, async (_request, reply) => reply.status(204)
    .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
    .header('access-control-allow-headers', 'authorization, content-type, idempotency-key')
    .header('access-control-max-age', '600').send());
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
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? Number(process.env.LAUREL_RATE_LIMIT_PER_MINUTE ?? 6000),
    timeWindow: '1 minute',
    keyGenerator: (request) => request.headers.authorization ?? request.ip,
  });

  app.get('/healthz', {
    schema: {
      operationId: 'getHealth', summary: 'Liveness and readiness', tags: ['operations'], security: [],
      description: 'Answers 200 once the database is migrated and the API accepts requests. No authentication.',
      response: {
        200: described(Type.Object({ status: Type.Literal('ok'), engine: Type.String({ enum: ['pglite', 'postgres'], examples: ['pglite'] }) }), 'The API is up and its database migrated.'),
        429: Type.Ref('Problem', { description: 'Rate limit exceeded (per address).' }),
      },
    },
    config: { access: { scopes: 'public' } },
  }, async () => ({ status: 'ok' as const, engine: laurel.engine }));

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
