// A typed client of the Laurel API: openapi-fetch over the types generated from the OpenAPI
// document (schema.d.ts, `npm run openapi:client`). Paths, parameters, bodies and answers are
// checked by the compiler; errors come back typed as problems.
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type LaurelClient = Client<paths>;
export type Problem = components['schemas']['Problem'];

export interface LaurelClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** where Laurel listens, e.g. `https://loyalty.example.com` */
  baseUrl: string;
  /** an API key (`lk_…`) or a member token */
  apiKey: string;
}

export function createLaurelClient({ baseUrl, apiKey, headers, ...options }: LaurelClientOptions): LaurelClient {
  return createClient<paths>({ ...options, baseUrl, headers: { ...headers, authorization: `Bearer ${apiKey}` } });
}
