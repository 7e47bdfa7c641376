// The typed client of the public REST API (the generated types of clients/typescript, the same the published client uses). Writes carry the
// session's CSRF token; POSTs an Idempotency-Key, so a retried click never pays twice.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../../../clients/typescript/schema';

let csrfToken = '';
let bearer = '';
export const setCsrfToken = (token: string) => { csrfToken = token; };
/** The portal and the widget authenticate with a member token instead of a cookie. */
export const setBearer = (token: string) => { bearer = token; };

export function randomKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const auth: Middleware = {
  onRequest({ request }) {
    if (bearer) request.headers.set('Authorization', `Bearer ${bearer}`);
    if (request.method !== 'GET' && csrfToken) request.headers.set('X-CSRF-Token', csrfToken);
    if (request.method === 'POST' && !request.headers.has('Idempotency-Key')) request.headers.set('Idempotency-Key', randomKey());
    return request;
  },
};

export function makeClient(baseUrl = window.location.origin) {
  const client = createClient<paths>({ baseUrl, credentials: 'same-origin' });
  client.use(auth);
  return client;
}

export const api = makeClient();

export interface Problem {
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

/** The data of a call, or an ApiError with the problem+json the API answered. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) {
    const p = (error ?? {}) as Partial<Problem>;
    throw new ApiError({ status: response.status, detail: p.detail ?? response.statusText, errors: p.errors });
  }
  return data as T;
}
