// Prometheus metrics: request counts and latencies per route, and ledger operations by outcome.
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** names the ledger operation a route performs, for laurel_ledger_operations_total */
    operation?: string;
  }
}

export function registerMetrics(app: FastifyInstance): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'laurel_' });
  const requests = new Counter({ name: 'laurel_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'laurel_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
  });
  const ledger = new Counter({ name: 'laurel_ledger_operations_total', help: 'Ledger operations', labelNames: ['operation', 'outcome'], registers: [registry] });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    const operation = request.routeOptions.config.operation;
    if (operation) ledger.inc({ operation, outcome: reply.statusCode < 400 ? 'ok' : reply.statusCode < 500 ? 'refused' : 'error' });
  });

  app.get('/metrics', { schema: { hide: true }, config: { access: { scopes: 'public' } } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
