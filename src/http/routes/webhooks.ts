// Webhook endpoints (admin): where a tenant's messages are sent, which types, the signing secret
// (shown once, on create), the delivery log of each endpoint, and a test message.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_ATTEMPTS } from '../../core/webhooks/delivery.js';
import { MESSAGE_TYPE } from '../../core/webhooks/endpoint.js';
import type { Laurel } from '../../services/context.js';
import {
  createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, sendTestMessage, updateEndpoint,
  type WebhookDelivery, type WebhookEndpoint,
} from '../../services/webhooks.js';
import { replayDelivery } from '../../services/webhook-replay.js';
import { ADMIN, clientKey, tenantOf } from '../auth.js';
import { decodeCursor, page } from '../cursor.js';
import { described, errors, Id, listOf, ListQuery, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Fields = {
  url: Type.String({ minLength: 1, maxLength: 2000, description: 'an http(s) URL without credentials, outside the deployment (no loopback, private or link-local address, no localhost, unless the operator sets LAUREL_WEBHOOKS_ALLOW_PRIVATE=true); Laurel POSTs each message there', examples: ['https://example.com/laurel/webhooks'] }),
  description: Nullable(Type.String({ maxLength: 500, examples: ['CRM sync'] })),
  eventTypes: Type.Array(Type.String({ pattern: MESSAGE_TYPE.source, maxLength: 100 }), {
    maxItems: 50, uniqueItems: true, description: 'the message types it receives (points.expiring, webhook.test…); empty: every type', examples: [['points.expiring']],
  }),
  enabled: Type.Boolean({ description: 'a disabled endpoint receives nothing; its pending deliveries wait until it is enabled again' }),
};

const EndpointSchema = Type.Object({
  object: Type.Literal('webhook_endpoint'),
  endpointId: Id('the endpoint'),
  url: Type.String(),
  description: Nullable(Type.String()),
  eventTypes: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  createdAt: Timestamp('when it was created'),
  updatedAt: Timestamp('when it last changed'),
});

const DeliverySchema = Type.Object({
  object: Type.Literal('webhook_delivery'),
  deliveryId: Id('the delivery'),
  messageId: Id('the message: the webhook-id header, the same on every attempt (receivers dedupe on it)'),
  endpointId: Id('the endpoint'),
  type: Type.String({ examples: ['points.expiring'] }),
  status: Type.String({ enum: ['pending', 'delivered', 'failed'], description: `failed: given up after ${MAX_ATTEMPTS} attempts` }),
  attempts: Type.Integer({ description: 'attempts made so far' }),
  nextAttemptAt: Nullable(Timestamp('pending: when it is sent next')),
  lastAttemptAt: Nullable(Timestamp('when it was last sent')),
  lastStatusCode: Nullable(Type.Integer({ description: "the endpoint's HTTP status at the last attempt; null when none came back" })),
  lastError: Nullable(Type.String({ description: 'why the last attempt failed' })),
  deliveredAt: Nullable(Timestamp('when the endpoint answered 2xx')),
  createdAt: Timestamp('when the message was relayed to the endpoint'),
});

const Params = Type.Object({ endpointId: Id('the endpoint') });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const presentEndpoint = (e: WebhookEndpoint) => ({
  object: 'webhook_endpoint' as const, endpointId: e.endpointId, url: e.url, description: e.description, eventTypes: e.eventTypes,
  enabled: e.enabled, createdAt: e.createdAt.toISOString(), updatedAt: e.updatedAt.toISOString(),
});
const presentDelivery = (d: WebhookDelivery) => ({
  object: 'webhook_delivery' as const, deliveryId: d.deliveryId, messageId: d.messageId, endpointId: d.endpointId, type: d.type,
  status: d.status, attempts: d.attempts, nextAttemptAt: iso(d.nextAttemptAt), lastAttemptAt: iso(d.lastAttemptAt),
  lastStatusCode: d.lastStatusCode, lastError: d.lastError, deliveredAt: iso(d.deliveredAt), createdAt: d.createdAt.toISOString(),
});

export const webhookRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/webhook-endpoints', {
    schema: {
      operationId: 'createWebhookEndpoint', summary: 'Create a webhook endpoint', tags: ['webhooks'],
      description: 'Messages (points.expiring, …) are POSTed to the URL, signed as Standard Webhooks specifies. The signing `secret` (whsec_…) is in this response only: store it now.',
      headers: OptionalIdempotencyHeader,
      body: Type.Object({ url: Fields.url, description: Type.Optional(Fields.description), eventTypes: Type.Optional(Fields.eventTypes), enabled: Type.Optional(Fields.enabled) }, {
        additionalProperties: false, examples: [{ url: 'https://example.com/laurel/webhooks', eventTypes: ['points.expiring'] }],
      }),
      response: { 201: described(Type.Intersect([EndpointSchema, Type.Object({ secret: Type.String({ description: 'the signing secret, shown only now' }) })]), 'The new endpoint, with its signing secret (shown only now).'), ...errors(403) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => {
    const endpoint = await createEndpoint(laurel, tenantOf(request), request.body, clientKey(request));
    return reply.status(201).send({ ...presentEndpoint(endpoint), secret: endpoint.secret });
  });

  app.get('/webhook-endpoints', {
    schema: {
      operationId: 'listWebhookEndpoints', summary: 'List webhook endpoints', tags: ['webhooks'], description: 'Every endpoint of the tenant. Secrets are never shown again.',
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(EndpointSchema) }), "The tenant's endpoints."), ...errors(403) },
    },
    config: { access: ADMIN },
  }, async (request) => ({ object: 'list' as const, data: (await listEndpoints(laurel, tenantOf(request))).map(presentEndpoint) }));

  app.get('/webhook-endpoints/:endpointId', {
    schema: { operationId: 'getWebhookEndpoint', summary: 'Get a webhook endpoint', tags: ['webhooks'], description: 'Its URL, the message types it takes and whether it is on; never its secret.', params: Params, response: { 200: described(EndpointSchema, 'The endpoint.'), ...errors(403, 404) } },
    config: { access: ADMIN },
  }, async (request) => presentEndpoint(await getEndpoint(laurel, tenantOf(request), request.params.endpointId)));

  app.patch('/webhook-endpoints/:endpointId', {
    schema: {
      operationId: 'updateWebhookEndpoint', summary: 'Update a webhook endpoint', tags: ['webhooks'], description: 'Only the fields given change. Deliveries already queued go to the new URL.',
      params: Params,
      body: Type.Object({ url: Type.Optional(Fields.url), description: Type.Optional(Fields.description), eventTypes: Type.Optional(Fields.eventTypes), enabled: Type.Optional(Fields.enabled) }, {
        additionalProperties: false, minProperties: 1,
      }),
      response: { 200: described(EndpointSchema, 'The endpoint as updated.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentEndpoint(await updateEndpoint(laurel, tenantOf(request), request.params.endpointId, request.body)));

  app.delete('/webhook-endpoints/:endpointId', {
    schema: {
      operationId: 'deleteWebhookEndpoint', summary: 'Delete a webhook endpoint', tags: ['webhooks'], description: 'With its delivery log; what it had pending is not sent.',
      params: Params,
      response: { 200: described(Type.Object({ object: Type.Literal('webhook_endpoint'), endpointId: Id('the endpoint'), deleted: Type.Literal(true) }), 'The endpoint was deleted.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => {
    await deleteEndpoint(laurel, tenantOf(request), request.params.endpointId);
    return { object: 'webhook_endpoint' as const, endpointId: request.params.endpointId.toLowerCase(), deleted: true as const };
  });

  app.get('/webhook-endpoints/:endpointId/deliveries', {
    schema: {
      operationId: 'listWebhookDeliveries', summary: "An endpoint's delivery log", tags: ['webhooks'],
      description: `Each message relayed to the endpoint, newest first: its status, attempts, the last HTTP status or error. Failed attempts are retried 30 s, 1 min, 2 min… (doubling, at most 6 h) later; after ${MAX_ATTEMPTS} attempts the delivery is given up (failed).`,
      params: Params,
      querystring: Type.Object({ status: Type.Optional(Type.String({ enum: ['pending', 'delivered', 'failed'] })), ...ListQuery }, { additionalProperties: false }),
      response: { 200: listOf(DeliverySchema, 'a page of deliveries'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 20;
    const rows = await listDeliveries(laurel, tenantOf(request), request.params.endpointId, {
      limit, before: decodeCursor(q.cursor), status: q.status as WebhookDelivery['status'] | undefined,
    });
    const p = page(rows, limit, (d) => d.deliveryId);
    return { ...p, data: p.data.map(presentDelivery) };
  });

  app.post('/webhook-endpoints/:endpointId/test', {
    schema: {
      operationId: 'testWebhookEndpoint', summary: 'Send a test message', tags: ['webhooks'],
      description: 'Queues a `webhook.test` message through the outbox to this endpoint alone (whatever its eventTypes); the next run of the `webhooks` job sends it. Its delivery shows in the log.',
      headers: OptionalIdempotencyHeader, params: Params,
      response: {
        202: Type.Object({ object: Type.Literal('webhook_message'), messageId: Id('the message (webhook-id)'), deliveryId: Id('its delivery'), type: Type.Literal('webhook.test') }, { description: 'The test message, queued for this endpoint.' }),
        ...errors(403, 404, 409),
      },
    },
    config: { access: ADMIN },
  }, async (request, reply) => {
    const m = await sendTestMessage(laurel, tenantOf(request), request.params.endpointId, clientKey(request));
    return reply.status(202).send({ object: 'webhook_message' as const, messageId: m.messageId, deliveryId: m.deliveryId, type: 'webhook.test' as const });
  });

  app.post('/webhook-endpoints/:endpointId/deliveries/:deliveryId/replay', {
    schema: {
      operationId: 'replayWebhookDelivery', summary: 'Replay a delivery', tags: ['webhooks'],
      description: 'Queues a delivered or failed delivery again, due now, with a fresh round of attempts; the next run of the `webhooks` job sends it, with the same webhook-id (a receiver that has it already dedupes). A delivery still pending is queued already: it is answered as it is, with `requeued: false`, so replaying twice sends once.',
      headers: OptionalIdempotencyHeader,
      params: Type.Object({ endpointId: Id('the endpoint'), deliveryId: Id('the delivery') }),
      response: {
        200: described(Type.Intersect([DeliverySchema, Type.Object({ requeued: Type.Boolean({ description: 'false: it was pending already, nothing changed' }) })]), 'The delivery, queued.'),
        ...errors(403, 404),
      },
    },
    config: { access: ADMIN },
  }, async (request) => {
    const d = await replayDelivery(laurel, tenantOf(request), request.params.endpointId, request.params.deliveryId, clientKey(request));
    return { ...presentDelivery(d), requeued: d.requeued };
  });
};
