// Every error leaves as RFC 9457 problem+json with a stable `type`, and for bad input the
// fields at fault. Domain errors map by code; framework errors (bad JSON, wrong content type,
// schema violations) map here too, so nothing a client sends can become a 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorCode } from '../core/errors.js';
import { isDatabaseUnavailable } from '../db/connection.js';

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

/** The catalogue of problem types: `type` is `/problems/<slug>`, documented at that URL. */
export const PROBLEMS = {
  validation: { status: 400, title: 'Invalid request', about: 'A field is missing, of the wrong type or out of range; `errors` names each one.' },
  malformed_json: { status: 400, title: 'Malformed JSON', about: 'The body is not valid JSON.' },
  unauthorized: { status: 401, title: 'Unauthorized', about: 'No valid API key or member token was presented (Authorization: Bearer <key>).' },
  forbidden: { status: 403, title: 'Forbidden', about: "The key's scopes (admin, pos, read) or the member token do not allow this operation." },
  not_found: { status: 404, title: 'Not found', about: 'The resource does not exist in this tenant.' },
  method_not_allowed: { status: 405, title: 'Method not allowed', about: 'The resource does not accept this method.' },
  conflict: { status: 409, title: 'Conflict', about: 'The change conflicts with the current state: a taken identifier, a resolved hold, an entry already reversed.' },
  idempotency_conflict: { status: 409, title: 'Idempotency key reused', about: 'The Idempotency-Key was used before with a different request.' },
  payload_too_large: { status: 413, title: 'Payload too large', about: 'The body exceeds the size limit.' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', about: 'Send application/json.' },
  insufficient_points: { status: 422, title: 'Insufficient points', about: 'The wallet does not have enough available points.' },
  rate_limited: { status: 429, title: 'Too many requests', about: 'The key exceeded its rate limit; retry after the Retry-After header.' },
  internal: { status: 500, title: 'Internal error', about: 'An unexpected error; it was logged with the request id.' },
  unavailable: { status: 503, title: 'Service unavailable', about: 'The database cannot be reached for now (a restart, a failover) or the server is shutting down. Retry the same request with the same Idempotency-Key after the Retry-After header: a write that did reach the database before the outage is then replayed, not applied twice.' },
} as const;
export type ProblemSlug = keyof typeof PROBLEMS;

export function problem(slug: ProblemSlug, detail: string, errors?: FieldError[]): Problem {
  const p = PROBLEMS[slug];
  return { type: `/problems/${slug.replaceAll('_', '-')}`, title: p.title, status: p.status, detail, ...(errors?.length ? { errors } : {}) };
}

export class HttpProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export const httpProblem = (slug: ProblemSlug, detail: string, errors?: FieldError[]) => new HttpProblem(problem(slug, detail, errors));

const DOMAIN: Record<ErrorCode, ProblemSlug> = {
  validation: 'validation',
  not_found: 'not_found',
  conflict: 'conflict',
  insufficient_points: 'insufficient_points',
  idempotency_conflict: 'idempotency_conflict',
};

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: { missingProperty?: string; additionalProperty?: string };
}

/** Ajv's errors as fields: `/lines/0/qty` becomes `lines[0].qty`. */
function fieldErrors(errors: AjvError[], part: string): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errors) {
    const path = e.instancePath.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('').replace(/^\./, '');
    const leaf = e.params.missingProperty ?? e.params.additionalProperty;
    const field = [path, leaf].filter(Boolean).join('.') || part;
    const message = e.keyword === 'additionalProperties' ? 'is not a known field'
      : e.keyword === 'required' ? 'is required' : e.message ?? 'is invalid';
    if (seen.has(field + message)) continue;
    seen.add(field + message);
    out.push({ field, message });
  }
  return out;
}

export function toProblem(error: unknown): Problem {
  if (error instanceof HttpProblem) return error.problem;
  if (error instanceof DomainError) {
    return problem(DOMAIN[error.code], error.message, error.field ? [{ field: error.field, message: error.message }] : undefined);
  }
  const e = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (e.validation) {
    const part = e.validationContext ?? 'body';
    const fields = fieldErrors(e.validation, part);
    return problem('validation', `invalid ${part}: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, fields);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('malformed_json', e.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('payload_too_large', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('unsupported_media_type', `${e.message}: send the body as application/json (Content-Type: application/json)`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('unsupported_media_type', e.message);
  }
  if (isDatabaseUnavailable(error)) return problem('unavailable', 'the database is unreachable for now; retry after the Retry-After header');
  if (e instanceof SyntaxError && e.statusCode === 400) return problem('malformed_json', e.message);
  if (e.statusCode === 429) return problem('rate_limited', e.message);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return problem('validation', e.message);
  return problem('internal', 'an unexpected error occurred');
}

/** Seconds a client is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

export function sendProblem(request: FastifyRequest, reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  // (set here too: errors the router raises before any hook runs skip onSend's)
  reply.header('x-request-id', request.id);
  return reply.status(p.status).type('application/problem+json')
    .send({ ...p, instance: request.url, requestId: request.id });
}
