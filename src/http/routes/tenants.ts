// The calling tenant, new tenants (operator only), and API keys.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createApiKey, listApiKeys, revokeApiKey, SCOPES, type ApiKey } from '../../services/api-keys.js';
import type { Laurel } from '../../services/context.js';
import { getTenant, openTenant, type Tenant } from '../../services/tenants.js';
import { ADMIN, clientKey, isOperator, READ, tenantOf } from '../auth.js';
import { httpProblem } from '../problems.js';
import { described, errors, Id, Nullable, operatorErrors, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const TenantSchema = Type.Object({
  object: Type.Literal('tenant'),
  tenantId: Id('the tenant'),
  name: Type.String(),
  timeZone: Type.String({ description: 'IANA time zone of calendar rules (expiry dates, windows)', examples: ['Europe/Paris'] }),
  currency: Type.String({ description: 'ISO 4217', examples: ['EUR'] }),
  createdAt: Timestamp('when'),
});

const ApiKeySchema = Type.Object({
  object: Type.Literal('api_key'),
  keyId: Id('the key'),
  name: Type.String(),
  scopes: Type.Array(Type.String({ enum: [...SCOPES] })),
  createdAt: Timestamp('when'),
  revokedAt: Nullable(Timestamp('when it was revoked')),
});

const KeyWithheld = Type.Boolean({
  description: 'true when this answers a retry of the same Idempotency-Key: the key was in the first answer only, and Laurel keeps only its hash',
});

const Scopes = Type.Array(Type.String({ enum: [...SCOPES] }), { minItems: 1, uniqueItems: true, description: 'admin: everything; pos: members, events, redemptions, holds; read: reads' });

const presentTenant = (t: Tenant) => ({ object: 'tenant' as const, tenantId: t.tenantId, name: t.name, timeZone: t.timeZone, currency: t.currency, createdAt: t.createdAt.toISOString() });
const presentKey = (k: ApiKey) => ({ object: 'api_key' as const, keyId: k.keyId, name: k.name, scopes: k.scopes, createdAt: k.createdAt.toISOString(), revokedAt: k.revokedAt?.toISOString() ?? null });

export const tenantRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/tenants', {
    schema: {
      summary: 'Create a tenant', tags: ['tenants'], operationId: 'createTenant',
      description: 'Operator only: authenticate with the `LAUREL_OPERATOR_KEY` of the deployment. Creates the tenant and its first admin API key in one transaction, and returns both; the key is shown only this once. With an `Idempotency-Key`, a retry creates nothing and answers the same tenant and keyId with `key: null` and `keyWithheld: true` (Laurel keeps only the key\'s hash): if the first answer was lost, revoke that key with another and create a new one, or create another tenant with another Idempotency-Key.',
      headers: OptionalIdempotencyHeader,
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 200, examples: ['Acme Coffee'] }),
        timeZone: Type.String({ minLength: 1, maxLength: 64, examples: ['Europe/Paris'] }),
        currency: Type.String({ pattern: '^[A-Z]{3}$', examples: ['EUR'] }),
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({
          tenant: TenantSchema,
          apiKey: Type.Object({ key: Nullable(Type.String({ description: 'the admin key; store it now. null on a replay: it is shown once' })), keyId: Id('the key'), keyWithheld: KeyWithheld }),
        }, { description: 'The new tenant and its first admin key (or, replayed, the same ones with the key withheld).' }),
        ...operatorErrors(403, 409),
      },
    },
    config: { access: { scopes: 'public' } },
  }, async (request, reply) => {
    if (!isOperator(request)) {
      throw httpProblem('forbidden', 'creating tenants needs the operator key (LAUREL_OPERATOR_KEY) of this deployment');
    }
    const { tenant, apiKey } = await openTenant(laurel, request.body, clientKey(request));
    return reply.status(201).send({ tenant: presentTenant(tenant), apiKey: { key: apiKey.secret, keyId: apiKey.keyId, keyWithheld: apiKey.secret === null } });
  });

  app.get('/tenant', {
    schema: { operationId: 'getTenant', summary: 'The calling tenant', tags: ['tenants'], description: 'The tenant the API key belongs to: its time zone decides calendar rules, its currency the money amounts.', response: { 200: described(TenantSchema, 'The tenant of the calling key.'), ...errors(403) } },
    config: { access: READ },
  }, async (request) => presentTenant(await getTenant(laurel, tenantOf(request))));

  app.post('/api-keys', {
    schema: {
      summary: 'Create an API key', tags: ['api keys'], operationId: 'createApiKey',
      description: 'The full key is in the response `key` and is never shown again: only its hash is stored. With an `Idempotency-Key`, a retry creates no second key: it answers the same key with `key: null` and `keyWithheld: true`. If the first answer was lost, revoke that keyId and create another key.',
      headers: OptionalIdempotencyHeader,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100, examples: ['store 12 till 3'] }), scopes: Scopes }, { additionalProperties: false }),
      response: {
        201: Type.Intersect([ApiKeySchema, Type.Object({
          key: Nullable(Type.String({ description: 'the full key; store it now. null on a replay: it is shown once' })), keyWithheld: KeyWithheld,
        })], { description: 'The new key, with its secret (or, replayed, the same key with the secret withheld).' }),
        ...errors(403, 409),
      },
    },
    config: { access: ADMIN },
  }, async (request, reply) => {
    const key = await createApiKey(laurel, tenantOf(request), request.body as { name: string; scopes: ApiKey['scopes'] }, clientKey(request));
    return reply.status(201).send({ ...presentKey(key), key: key.secret, keyWithheld: key.secret === null });
  });

  app.get('/api-keys', {
    schema: { operationId: 'listApiKeys', summary: 'List API keys', tags: ['api keys'], description: 'Every key of the tenant, revoked ones included. Secrets are never shown again.', response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(ApiKeySchema) }), "The tenant's keys, without secrets."), ...errors(403) } },
    config: { access: ADMIN },
  }, async (request) => ({ object: 'list' as const, data: (await listApiKeys(laurel, tenantOf(request))).map(presentKey) }));

  app.delete('/api-keys/:keyId', {
    schema: {
      operationId: 'revokeApiKey', summary: 'Revoke an API key', tags: ['api keys'], description: 'The key stops working at once; the record stays.',
      params: Type.Object({ keyId: Id('the key') }),
      response: { 200: described(ApiKeySchema, 'The key, now revoked.'), ...errors(403, 404, 409) },
    },
    config: { access: ADMIN },
  }, async (request) => presentKey(await revokeApiKey(laurel, tenantOf(request), request.params.keyId)));
};
