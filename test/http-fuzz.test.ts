// Fuzzing the HTTP API from its own OpenAPI document. Every operation the app documents at run
// time is called with requests generated from its parameter and body schemas — valid ones that
// reach the ledger with real ids of a seeded tenant, and invalid ones: mutated bodies, malformed
// JSON, wrong content types, bad ids and query values, missing or forged credentials, another
// tenant's key, read keys on writes, missing idempotency keys. Whatever is sent, the API must
// answer with a 2xx that matches the documented response schema or a 4xx problem+json — never
// a 5xx — and the ledger must still verify afterwards.
//
// LAUREL_FUZZ_RUNS (default 100): rounds; each round sends one request (two for a replay) to
// every operation, in a random order. LAUREL_FUZZ_SEED replays a run.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMemberToken } from '../src/http/auth.js';
import { createApiKey, revokeApiKey } from '../src/services/api-keys.js';
import { call, newTenant, openTestApp, type TestTenant } from './support/http.js';
import { expectVerified, onPostgres } from './support/laurel.js';
import {
  exampleArbitrary, isObjectSchema, resolveRefs, schemaArbitrary, uuidArbitrary, type SchemaObject,
} from './support/schema-arbitrary.js';

const RUNS = Number(process.env.LAUREL_FUZZ_RUNS ?? 100);
const SEED = process.env.LAUREL_FUZZ_SEED === undefined ? undefined : Number(process.env.LAUREL_FUZZ_SEED);
/** a regular expression: requests to matching operations are printed with their answers */
const TRACE = process.env.LAUREL_FUZZ_TRACE ? new RegExp(process.env.LAUREL_FUZZ_TRACE) : null;
const OPERATOR_KEY = 'operator-key-for-the-fuzzer-0123456789';
process.env.LAUREL_OPERATOR_KEY = OPERATOR_KEY;

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// The same validation the API promises: bodies strictly (no coercion), parameters coerced from text.
const strictAjv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false }));
const coercingAjv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: 'array' }));

const { laurel, app } = await openTestApp();
const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApi;

// ---------------------------------------------------------------------------------------------
// The operations, from the document

interface OpenApi {
  paths: Record<string, Record<string, RawOperation>>;
  components?: { schemas?: Record<string, unknown> };
  security?: unknown[];
}
interface RawParameter { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: unknown }
interface RawOperation {
  summary?: string;
  description?: string;
  parameters?: RawParameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown; example?: unknown; examples?: Record<string, { value?: unknown }> }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}
interface Parameter { name: string; required: boolean; schema: SchemaObject }
interface Operation {
  id: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  pathParams: Parameter[];
  query: Parameter[];
  headers: Parameter[];
  body?: { schema: SchemaObject; required: boolean; examples: unknown[] };
  /** documented response schemas by status (undefined: documented without a body schema) */
  responses: Map<number, SchemaObject | undefined>;
  secured: boolean;
  /** needs the deployment's operator key rather than a tenant's key */
  operatorOnly: boolean;
  /** a write a member token may make for its own member (its description says so: "A member token may redeem…") */
  memberWrite: boolean;
}

const schemas = doc.components?.schemas ?? {};
const resolve = (s: unknown) => resolveRefs(s ?? {}, schemas) as SchemaObject;

function operationsOf(d: OpenApi): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(d.paths)) {
    const shared = (item as { parameters?: RawParameter[] }).parameters ?? [];
    for (const [method, raw] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      const params = [...shared, ...(raw.parameters ?? [])].map((p) => ({ ...p, schema: resolve(p.schema) }));
      const pick = (where: RawParameter['in']) => params.filter((p) => p.in === where)
        .map((p) => ({ name: p.name, required: where === 'path' || p.required === true, schema: p.schema }));
      const media = raw.requestBody?.content?.['application/json'];
      const json = media?.schema;
      const examples = [...(media?.example !== undefined ? [media.example] : []), ...Object.values(media?.examples ?? {}).map((e) => e.value).filter((v) => v !== undefined)];
      const responses = new Map<number, SchemaObject | undefined>();
      for (const [status, r] of Object.entries(raw.responses ?? {})) {
        const s = r.content?.['application/json']?.schema;
        responses.set(Number(status), s === undefined ? undefined : resolve(s));
      }
      out.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase() as Operation['method'],
        path,
        pathParams: pick('path'),
        query: pick('query'),
        headers: pick('header'),
        body: json === undefined ? undefined : { schema: resolve(json), required: raw.requestBody?.required === true, examples },
        responses,
        secured: (raw.security ?? d.security ?? []).length > 0,
        operatorOnly: /operator/i.test(`${raw.summary ?? ''} ${raw.description ?? ''}`),
        memberWrite: method !== 'get' && /member token may \w+ for its own member/i.test(raw.description ?? ''),
      });
    }
  }
  return out;
}

const operations = operationsOf(doc);

// ---------------------------------------------------------------------------------------------
// State: two seeded tenants, ids the fuzzer learns as it goes

let a: TestTenant;
let b: TestTenant;
let revokedKey: string;
/** ids by kind ("member", "hold", "entry", "program", "key", "cursor", …), per tenant */
const pools: Record<'A' | 'B', Map<string, string[]>> = { A: new Map(), B: new Map() };
/** the keys the fuzzer calls with: never offered to DELETE /v1/api-keys/{keyId} */
const protectedKeyIds = new Set<string>();
/** every id known to belong to tenant A: must never appear in an answer to tenant B */
const idsOfA = new Set<string>();
const sent = { total: 0, byOperation: new Map<string, Map<number, number>>(), byStatus: new Map<number, number>() };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ALIASES: Record<string, string> = { counterparty: 'member' };
/** `memberId`, `fromMemberId`, `toMemberId` → "member"; `reversesEntryId` → "entry" */
const kindOf = (name: string): string | undefined => {
  const m = /([A-Z]?[a-z]+)Id$/.exec(name);
  if (!m) return undefined;
  const word = m[1]!.toLowerCase();
  return ALIASES[word] ?? word;
};

function remember(tenant: 'A' | 'B', kind: string, id: string): void {
  if (kind === 'key' && protectedKeyIds.has(id)) return;
  if (kind === 'tenant') return;
  const pool = pools[tenant].get(kind) ?? [];
  if (!pool.includes(id)) pool.push(id);
  pools[tenant].set(kind, pool);
  if (tenant === 'A' && UUID.test(id)) idsOfA.add(id);
}

/** Learns the ids (and cursors) an answer mentions. */
function harvest(tenant: 'A' | 'B', value: unknown, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) harvest(tenant, v, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') {
      const kind = kindOf(k);
      if (kind && UUID.test(v)) remember(tenant, kind, v.toLowerCase());
      if (k === 'nextCursor') remember(tenant, 'cursor', v);
      if (k === 'wallet') remember(tenant, 'walletCode', v);
    } else {
      harvest(tenant, v, depth + 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Requests as data: what fast-check generates, resolved against the pools when sent

type Credential = 'adminA' | 'posA' | 'readA' | 'adminB' | 'memberA' | 'operator' | 'none' | 'revoked' | { raw: string };
/** `real`: the n-th known id of its kind (of the newest few when `recent`: a hold just placed is still active) */
type IdChoice = { real: number; recent: boolean; form: 'lower' | 'upper' | 'urn' } | { random: string } | { bad: string; raw?: boolean };
type Idem = { kind: 'fresh' } | { kind: 'shared'; n: number } | { kind: 'missing' } | { kind: 'raw'; value: string };
type BodyMutation =
  | { kind: 'root'; value: unknown }
  | { kind: 'drop'; index: number }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'set'; index: number; value: unknown }
  | { kind: 'deep'; index: number; depth: number; open: '[' | '{"a":' }
  | { kind: 'omit' };
type RawBody = { text: string; contentType?: string } | { huge: true };

interface Spec {
  label: string;
  cred: Credential;
  /** whose ids the placeholders resolve to */
  ids: 'A' | 'B';
  path: Record<string, IdChoice>;
  query: Record<string, unknown>;
  rawQuery?: string;
  idem: Idem;
  body?: unknown;
  mutation?: BodyMutation;
  rawBody?: RawBody;
  replay?: boolean;
  /** seconds the clock moves before the request (holds expire, points mature) */
  advance: number;
}

const REF = '\u0001ref:';
/** as the fallback of a placeholder: leave the field out when no real value is known */
const NONE = '\u0003';
/** A placeholder for "a real id of this kind", resolved when the request is sent. */
const refArbitrary = (kind: string) => fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.nat(1000), fc.boolean(), uuidArbitrary).map(([n, recent, fallback]) => `${REF}${kind}:${n}:${recent ? 1 : 0}:${fallback}`) },
  { weight: 1, arbitrary: uuidArbitrary },
);

/** The n-th id of a pool, or of its newest three. */
function pick(pool: string[], n: number, recent: boolean): string {
  return recent ? pool[pool.length - 1 - (n % Math.min(3, pool.length))]! : pool[n % pool.length]!;
}

const override = (schema: SchemaObject, path: readonly string[]): fc.Arbitrary<unknown> | undefined => {
  const name = path[path.length - 1] ?? '';
  if (schema.type === 'string' && schema.format === 'uuid') {
    const kind = kindOf(name);
    if (kind) return refArbitrary(kind);
  }
  if (name === 'wallet' && schema.type === 'string') {
    return fc.oneof({ weight: 5, arbitrary: fc.nat(1000).map((n) => `${REF}walletCode:${n}:0:points`) }, { weight: 1, arbitrary: schemaArbitrary({ ...schema, examples: [] }) });
  }
  if (name === 'cursor' && schema.type === 'string') {
    // a cursor the API gave out (none yet: no cursor), sometimes garbage
    return fc.oneof(
      { weight: 4, arbitrary: fc.nat(1000).map((n) => `${REF}cursor:${n}:1:${NONE}`) },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('garbage', '', 'eyJhZnRlciI6MX0'), fc.string({ maxLength: 20 })) },
    );
  }
  return undefined;
};
const valueOf = (schema: SchemaObject, name?: string) => schemaArbitrary(schema, { override, maxDepth: 3 }, name ? [name] : []);

function resolveRefValues(value: unknown, tenant: 'A' | 'B'): unknown {
  if (typeof value === 'string' && value.startsWith(REF)) {
    const [kind, n, recent, ...fallback] = value.slice(REF.length).split(':');
    const pool = pools[tenant].get(kind!) ?? [];
    const fb = fallback.join(':');
    return pool.length ? pick(pool, Number(n), recent === '1') : fb === NONE ? undefined : fb;
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefValues(v, tenant));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefValues(v, tenant)]).filter(([, v]) => v !== undefined));
  }
  return value;
}

/** Wrong values of every kind, for a field or a whole body. */
const WEIRD: unknown[] = [
  '12', 12, 1.5, -1, 0, 1e20, 2 ** 53 + 2, 1e308, -1e308, 1e-7, true, false, null, {}, [], [1], { $gt: '' }, '',
  'x'.repeat(10_000), '\u0000', '2026-01-01T00:00:00Z', '01a20c82-4d1f-7939-b601-6e85e79978fe', { nested: { deeper: [null] } },
];
const weird = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WEIRD) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });

const BAD_IDS = [
  'not-an-id', '0', '-1', 'null', 'undefined', ' ', '\u0000', 'ﬀ', "' or 1=1 --", 'a'.repeat(300),
  '01a20c824d1f7939b6016e85e79978fe', '{01a20c82-4d1f-7939-b601-6e85e79978fe}', '01a20c82-4d1f-7939-b601-6e85e79978fe0',
  '01a20c82-4d1f-7939-b601-6e85e79978f', '01a20c82-4d1f-7939-b601-6e85e79978fg', '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
];
const RAW_BAD_IDS = ['%ZZ', '%', '%2F', '..', '.', '%2e%2e', '%00'];
const badId: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...BAD_IDS).map((bad) => ({ bad })) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_BAD_IDS).map((bad) => ({ bad, raw: true })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((bad) => ({ bad })) },
  { weight: 2, arbitrary: uuidArbitrary.map((random) => ({ random })) },
);
const goodId: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ real: fc.nat(1000), recent: fc.boolean(), form: fc.constant('lower' as const) }) },
  { weight: 1, arbitrary: fc.record({ real: fc.nat(1000), recent: fc.boolean(), form: fc.constantFrom('upper' as const, 'urn' as const) }) },
  { weight: 1, arbitrary: uuidArbitrary.map((random) => ({ random })) },
);

/** Query values a parameter's schema refuses (the oracle below decides, these are candidates). */
function badQueryValues(schema: SchemaObject): fc.Arbitrary<unknown> {
  const out: unknown[] = ['', 'x'.repeat(300), ['a', 'b'], '\u0000', '%ZZ'];
  if (schema.type === 'integer' || schema.type === 'number') {
    out.push('abc', '1.5', '-1', '0', '1e3', '0x10', 'NaN', 'Infinity', '99999999999999999999', ' 5');
    if (typeof schema.minimum === 'number') out.push(String(schema.minimum - 1));
    if (typeof schema.maximum === 'number') out.push(String(schema.maximum + 1));
  }
  if (schema.format === 'uuid') out.push('x', '123', 'urn:uuid:x');
  if (schema.format === 'date-time') out.push('yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01', '1700000000', '2026-01-01T24:00:00Z');
  if (Array.isArray(schema.enum) || (schema.items as SchemaObject | undefined)?.enum) out.push('bogus', 'EARN', ['earn', 'bogus']);
  return fc.oneof(fc.constantFrom(...out), fc.string({ unit: 'binary', maxLength: 20 }));
}

const RAW_QUERIES = [
  'unknown=1', 'limit=1&limit=2', '__proto__[x]=1', 'constructor=1', 'a[b]=c', '%ZZ=1', 'limit', '=', '&&&', 'limit=%00',
  'kind=earn&kind=bogus', 'programId=', 'wallet=' + 'w'.repeat(40),
];
const MALFORMED_JSON = [
  '{', '}', '[', '{"a":}', 'nul', 'tru', "{'a':1}", '{"a":1,}', '{"a":1}x', '\uFEFF{}', '', '   ', 'NaN', 'Infinity',
  'undefined', '{"a": 01}', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"admin": true}}}', '"unterminated',
];

const isWrite = (op: Operation) => op.method !== 'GET';
const needsIdem = (op: Operation) => op.headers.some((h) => h.name.toLowerCase() === 'idempotency-key' && h.required);
const hasBodyMethod = (op: Operation) => op.method === 'POST' || op.method === 'PATCH' || op.method === 'PUT';

function specArbitrary(op: Operation): fc.Arbitrary<Spec> {
  const goodCred: fc.Arbitrary<Credential> = op.operatorOnly
    ? fc.constantFrom<Credential>('operator', 'operator', 'operator', 'adminA')
    : fc.oneof(
      { weight: 10, arbitrary: fc.constant<Credential>('adminA') },
      { weight: 3, arbitrary: fc.constant<Credential>('posA') },
      { weight: isWrite(op) ? 0 : 2, arbitrary: fc.constant<Credential>('readA') },
      { weight: 1, arbitrary: fc.constant<Credential>('memberA') },
    );
  const path = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, goodId]))) as fc.Arbitrary<Record<string, IdChoice>>;
  const queryArb = op.query.length === 0 ? fc.constant({}) : valueOf({
    type: 'object',
    properties: Object.fromEntries(op.query.map((p) => [p.name, p.schema])),
    required: op.query.filter((p) => p.required).map((p) => p.name),
  }) as fc.Arbitrary<Record<string, unknown>>;
  // from the schema, or near a documented example (which knows the rules a schema cannot say)
  const body = !op.body ? fc.constant(undefined) : op.body.examples.length === 0 ? valueOf(op.body.schema) : fc.oneof(
    { weight: 2, arbitrary: valueOf(op.body.schema) },
    { weight: 1, arbitrary: fc.oneof(...op.body.examples.map((e) => exampleArbitrary(e, op.body!.schema, { override }))) },
  );
  // now and then time passes: holds expire, pending points mature, points expire
  const advance = fc.oneof(
    { weight: 60, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3_600 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 * 86_400 }) },
  );
  const base = fc.record({ cred: goodCred, path, query: queryArb, body, advance, idem: fc.constant<Idem>({ kind: 'fresh' }), ids: fc.constant<'A' | 'B'>('A') });
  const asAdmin = op.operatorOnly ? 'operator' : 'adminA';

  const variants: fc.WeightedArbitrary<Spec>[] = [
    { weight: 10, arbitrary: base.map((s) => ({ ...s, label: 'valid' })) },
    { weight: 1, arbitrary: fc.tuple(base, fc.constantFrom<Credential>('none', 'revoked', 'operator', 'adminB', 'readA', 'posA', 'memberA'), fc.nat(3))
      .map(([s, cred, n]) => ({ ...s, cred, idem: { kind: 'shared', n } as Idem, label: 'shared idempotency key' })) },
    {
      weight: 3,
      arbitrary: fc.tuple(base, fc.oneof(
        fc.constantFrom<Credential>('none', 'revoked'),
        fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token abc', 'bearer lk_nope_not_a_key_at_all', `Bearer ${'x'.repeat(5000)}`,
          'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJ0aWQiOiIxIn0.', 'Bearer \u00ff\u00fe', 'Bearer lk_short', 'Bearer  two  spaces')
          .map((raw) => ({ raw })),
        fc.constant<Credential>({ raw: 'forged-member-token' }),
      )).map(([s, cred]) => ({ ...s, cred, label: 'no valid credential' })),
    },
    { weight: 2, arbitrary: fc.tuple(base, fc.boolean()).map(([s, own]) => ({ ...s, cred: 'adminB' as Credential, ids: own ? 'B' as const : 'A' as const, label: own ? "another tenant's own ids" : "another tenant's key" })) },
    { weight: 1, arbitrary: base.map((s) => ({ ...s, cred: 'memberA' as Credential, label: 'member token' })) },
  ];
  if (op.secured && isWrite(op)) variants.push({ weight: 2, arbitrary: base.map((s) => ({ ...s, cred: 'readA' as Credential, label: 'read key on a write' })) });
  if (op.pathParams.length) {
    variants.push({
      weight: 3,
      arbitrary: fc.tuple(base, fc.constantFrom(...op.pathParams.map((p) => p.name)), badId)
        .map(([s, name, id]) => ({ ...s, cred: asAdmin as Credential, path: { ...s.path, [name]: id }, label: 'bad path id' })),
    });
  }
  if (op.query.length) {
    variants.push({
      weight: 3,
      arbitrary: fc.tuple(base, fc.oneof(...op.query.map((p) => badQueryValues(p.schema).map((v) => [p.name, v] as const))))
        .map(([s, [name, v]]) => ({ ...s, cred: asAdmin as Credential, query: { ...s.query, [name]: v }, label: 'bad query value' })),
    });
  }
  variants.push({ weight: 1, arbitrary: fc.tuple(base, fc.constantFrom(...RAW_QUERIES)).map(([s, rawQuery]) => ({ ...s, cred: asAdmin as Credential, rawQuery, label: 'odd query string' })) });
  if (needsIdem(op)) {
    variants.push({
      weight: 3,
      arbitrary: fc.tuple(base, fc.oneof(
        fc.constant<Idem>({ kind: 'missing' }),
        fc.constantFrom('', 'k'.repeat(256)).map((value): Idem => ({ kind: 'raw', value })),
      )).map(([s, idem]) => ({ ...s, cred: asAdmin as Credential, idem, label: 'bad idempotency key' })),
    });
    variants.push({ weight: 3, arbitrary: base.map((s) => ({ ...s, replay: true, label: 'replay' })) });
  }
  if (op.body) {
    const mutation: fc.Arbitrary<BodyMutation> = fc.oneof(
      fc.record({ kind: fc.constant('root' as const), value: weird }),
      fc.record({ kind: fc.constant('drop' as const), index: fc.nat(20) }),
      fc.record({ kind: fc.constant('extra' as const), key: fc.oneof(fc.constantFrom('isAdmin', 'tenantId', '$where', 'constructor', ''), fc.string({ maxLength: 10 })), value: weird }),
      fc.record({ kind: fc.constant('set' as const), index: fc.nat(20), value: weird }),
      fc.record({ kind: fc.constant('deep' as const), index: fc.nat(20), depth: fc.constantFrom(50, 2_000, 20_000), open: fc.constantFrom('[' as const, '{"a":' as const) }),
      fc.constant<BodyMutation>({ kind: 'omit' }),
    );
    variants.push({ weight: 6, arbitrary: fc.tuple(base, mutation).map(([s, m]) => ({ ...s, cred: asAdmin as Credential, mutation: m, label: `body: ${m.kind}` })) });
  }
  if (hasBodyMethod(op)) {
    const raw: fc.Arbitrary<RawBody> = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...MALFORMED_JSON).map((text) => ({ text, contentType: 'application/json' })) },
      {
        weight: 2,
        arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream')
          .map((contentType) => ({ text: '{"amount": 5}', contentType })),
      },
      { weight: 1, arbitrary: fc.constant({ text: '{"amount": 5}' }) },
      { weight: 1, arbitrary: fc.constant<RawBody>({ huge: true }) },
    );
    variants.push({ weight: 3, arbitrary: fc.tuple(base, raw).map(([s, rawBody]) => ({ ...s, cred: asAdmin as Credential, rawBody, label: 'raw body' })) });
  }
  return fc.oneof(...variants);
}

// ---------------------------------------------------------------------------------------------
// Sending, and what every answer must be

interface Built {
  inject: InjectOptions;
  /** the body as the server will see it, when it is JSON */
  json?: { value: unknown } | 'malformed' | 'unsupported' | 'too-large' | 'none';
  pathValues: Record<string, string>;
  queryValues: Record<string, string | string[]>;
  idemValue?: string;
  describe: string;
}

let fresh = 0;
async function credentialHeader(cred: Credential): Promise<string | undefined> {
  if (typeof cred === 'object') {
    if (cred.raw !== 'forged-member-token') return cred.raw;
    // a member token for tenant A with a signature of another secret
    const real = (await signMemberToken(laurel, b.tenantId, pools.B.get('member')![0]!, 3600)).token;
    const [h, , s] = real.split('.');
    const p = Buffer.from(JSON.stringify({ tid: a.tenantId, sub: pools.A.get('member')![0], aud: 'laurel:member', iss: 'laurel' })).toString('base64url');
    return `Bearer ${h}.${p}.${s}`;
  }
  switch (cred) {
    case 'adminA': return `Bearer ${a.keys.admin}`;
    case 'posA': return `Bearer ${a.keys.pos}`;
    case 'readA': return `Bearer ${a.keys.read}`;
    case 'adminB': return `Bearer ${b.keys.admin}`;
    case 'operator': return `Bearer ${OPERATOR_KEY}`;
    case 'revoked': return `Bearer ${revokedKey}`;
    case 'none': return undefined;
    case 'memberA': return `Bearer ${(await signMemberToken(laurel, a.tenantId, tokenMember(), 3600)).token}`;
  }
}
/** the member whose token 'memberA' presents */
const tokenMember = () => pools.A.get('member')![0]!;

function idValue(choice: IdChoice, kind: string | undefined, tenant: 'A' | 'B'): { value: string; raw: boolean } {
  if ('random' in choice) return { value: choice.random, raw: false };
  if ('bad' in choice) return { value: choice.bad, raw: choice.raw === true };
  const pool = (kind && pools[tenant].get(kind)) || [];
  const id = pool.length ? pick(pool, choice.real, choice.recent) : '01a20c82-4d1f-7939-b601-6e85e79978fe';
  return { value: choice.form === 'upper' ? id.toUpperCase() : choice.form === 'urn' ? `urn:uuid:${id}` : id, raw: false };
}

function nest(depth: number, open: '[' | '{"a":'): string {
  return open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth);
}

async function build(op: Operation, spec: Spec): Promise<Built> {
  const headers: Record<string, string> = {};
  const auth = await credentialHeader(spec.cred);
  if (auth !== undefined) headers.authorization = auth;

  const pathValues: Record<string, string> = {};
  let url = op.path;
  for (const p of op.pathParams) {
    const { value, raw } = idValue(spec.path[p.name]!, kindOf(p.name), spec.ids);
    pathValues[p.name] = value;
    url = url.replace(`{${p.name}}`, raw ? value : encodeURIComponent(value));
  }
  const query = resolveRefValues(spec.query, spec.ids) as Record<string, unknown>;
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) search.append(k, typeof item === 'string' ? item : JSON.stringify(item));
  }
  const queryValues: Record<string, string | string[]> = {};
  for (const k of new Set(search.keys())) {
    const all = search.getAll(k);
    queryValues[k] = all.length === 1 ? all[0]! : all;
  }
  const qs = [search.toString(), spec.rawQuery].filter(Boolean).join('&');
  if (qs) url += `?${qs}`;

  let idemValue: string | undefined;
  if (needsIdem(op)) {
    const idem = spec.idem;
    idemValue = idem.kind === 'fresh' ? `fuzz-${process.pid}-${++fresh}` : idem.kind === 'shared' ? `fuzz-shared-${idem.n}` : idem.kind === 'raw' ? idem.value : undefined;
    if (idemValue !== undefined) headers['idempotency-key'] = idemValue;
  }

  let payload: string | undefined;
  let json: Built['json'] = 'none';
  let body = spec.body === undefined ? undefined : resolveRefValues(spec.body, spec.ids);
  let deep: string | undefined;
  const m = spec.mutation;
  if (m) {
    const obj = body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
    const keys = [...new Set([...Object.keys(obj), ...Object.keys((op.body?.schema.properties as object | undefined) ?? {})])];
    const keyAt = (i: number) => keys.length ? keys[i % keys.length]! : 'x';
    switch (m.kind) {
      case 'root': body = m.value; break;
      case 'drop': {
        const required = (op.body?.schema.required as string[] | undefined) ?? Object.keys(obj);
        if (required.length) delete obj[required[m.index % required.length]!];
        body = obj;
        break;
      }
      case 'extra': body = { ...obj, [m.key]: m.value }; break;
      case 'set': body = { ...obj, [keyAt(m.index)]: m.value }; break;
      case 'deep': body = { ...obj, [keyAt(m.index)]: '\u0002deep' }; deep = nest(m.depth, m.open); break;
      case 'omit': body = undefined; break;
    }
  }
  if (spec.rawBody) {
    const r = spec.rawBody;
    if ('huge' in r) {
      payload = JSON.stringify({ padding: 'x'.repeat(1_100_000) });
      headers['content-type'] = 'application/json';
      json = 'too-large';
    } else {
      payload = r.text;
      if (r.contentType) headers['content-type'] = r.contentType;
      if (r.contentType === 'application/json') {
        let parsed: { value: unknown } | undefined;
        try {
          // a byte order mark is allowed (RFC 8259 §8.1); no body at all is the empty object
          parsed = { value: /^[ \t\r\n]*$/.test(r.text) ? {} : JSON.parse(r.text.replace(/^\uFEFF/, '')) };
        } catch {
          parsed = undefined;
        }
        json = parsed && !/__proto__|constructor/.test(r.text) ? parsed : 'malformed';
      } else {
        json = 'unsupported';
      }
    }
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (deep) payload = payload.replace('"\\u0002deep"', deep);
    headers['content-type'] = 'application/json';
    json = { value: deep ? JSON.parse(payload) : body };
  }
  const describe = [
    `${op.id} [${spec.label}] cred=${typeof spec.cred === 'object' ? JSON.stringify(spec.cred.raw.slice(0, 60)) : spec.cred} ids=${spec.ids}`,
    `${op.method} ${url.slice(0, 400)}`,
    `headers: ${JSON.stringify({ ...headers, authorization: headers.authorization?.slice(0, 40) })}`,
    payload === undefined ? 'no body' : `body: ${payload.slice(0, 600)}${payload.length > 600 ? `… (${payload.length} chars)` : ''}`,
  ].join('\n');
  return { inject: { method: op.method, url, headers, ...(payload !== undefined ? { payload } : {}) }, json, pathValues, queryValues, idemValue, describe };
}

const validators = new Map<string, ValidateFunction>();
function compiled(ajv: Ajv, key: string, schema: SchemaObject): ValidateFunction {
  let v = validators.get(key);
  if (!v) validators.set(key, v = ajv.compile(schema));
  return v;
}

/** Whether the request breaks its documented schemas (the oracle for "must be a 400"). */
function invalidParts(op: Operation, built: Built): string[] {
  const bad: string[] = [];
  for (const p of op.pathParams) {
    if (!compiled(coercingAjv, `${op.id} path ${p.name}`, { type: 'object', properties: { v: p.schema }, required: ['v'] })({ v: built.pathValues[p.name] })) bad.push(`path ${p.name}`);
  }
  const querySchema = { type: 'object', properties: Object.fromEntries(op.query.map((p) => [p.name, p.schema])), required: op.query.filter((p) => p.required).map((p) => p.name) };
  if (!compiled(coercingAjv, `${op.id} query`, querySchema)(structuredClone(built.queryValues))) bad.push('query');
  for (const h of op.headers) {
    const value = h.name.toLowerCase() === 'idempotency-key' ? built.idemValue : undefined;
    if (value === undefined ? h.required : !compiled(coercingAjv, `${op.id} header ${h.name}`, h.schema)(value)) bad.push(`header ${h.name}`);
  }
  if (op.body) {
    if (built.json === 'none') {
      if (op.body.required) bad.push('body missing');
    } else if (typeof built.json === 'object' && !compiled(strictAjv, `${op.id} body`, op.body.schema)(built.json.value)) {
      bad.push('body');
    }
  }
  return bad;
}

function expectProblem(r: LightMyRequestResponse, context: string): void {
  expect(r.headers['content-type'], context).toMatch(/^application\/problem\+json/);
  const body = r.json();
  expect(body, context).toMatchObject({
    type: expect.stringMatching(/^\/problems\/[a-z-]+$/), title: expect.any(String), status: r.statusCode, detail: expect.any(String),
  });
  expect(compiled(strictAjv, 'Problem', resolve({ $ref: '#/components/schemas/Problem' }))(body), `${context}\nnot a Problem`).toBe(true);
}

/** What every answer must be, whatever was asked. */
function expectWellFormed(op: Operation, r: LightMyRequestResponse, context: string): void {
  expect(r.statusCode, context).toBeLessThan(500);
  expect(r.statusCode, context).toBeGreaterThanOrEqual(200);
  expect(r.statusCode < 300 || r.statusCode >= 400, context).toBe(true);
  if (r.statusCode >= 400) return expectProblem(r, context);
  expect(op.responses.has(r.statusCode), `${context}\n${r.statusCode} is not a documented status of ${op.id}`).toBe(true);
  expect(r.headers['content-type'], context).toMatch(/^application\/json/);
  const body = r.json();
  const schema = op.responses.get(r.statusCode);
  if (schema) {
    const validate = compiled(strictAjv, `${op.id} response ${r.statusCode}`, schema);
    expect(validate(body), `${context}\nresponse does not match its schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    const object = (schema.properties as Record<string, SchemaObject> | undefined)?.object;
    const documented = object?.const ?? (Array.isArray(object?.enum) && object.enum.length === 1 ? object.enum[0] : undefined);
    if (documented !== undefined) expect(body.object, context).toBe(documented);
  }
}

const isAuthorized = (op: Operation, cred: Credential) => (op.operatorOnly ? cred === 'operator' : cred === 'adminA');

/** The stricter promises that hold for this kind of request. */
function expectFor(op: Operation, spec: Spec, built: Built, r: LightMyRequestResponse, context: string): void {
  const status = r.statusCode;
  const idsInPath = op.pathParams.length > 0;
  const noCredential = spec.cred === 'none' || spec.cred === 'revoked' || typeof spec.cred === 'object';
  if (op.secured && noCredential) {
    if (op.operatorOnly) expect([400, 403, 413, 415], context).toContain(status);
    else expect(status, context).toBe(401);
    return;
  }
  if (op.secured && !op.operatorOnly && spec.cred === 'operator') {
    expect(status, context).toBe(401);
    return;
  }
  if (op.secured && spec.cred === 'readA' && isWrite(op)) {
    if (op.operatorOnly) expect([400, 403, 413, 415], context).toContain(status);
    else expect(status, context).toBe(403);
    return;
  }
  if (op.secured && spec.cred === 'memberA' && !op.operatorOnly) {
    const own = built.pathValues.memberId?.toLowerCase() === tokenMember();
    if ((isWrite(op) && !op.memberWrite) || !own) expect(status, context).toBe(403);
    return;
  }
  if (op.secured && !op.operatorOnly && spec.cred === 'adminB') {
    if (spec.ids === 'A' && idsInPath && op.pathParams.every((p) => 'real' in spec.path[p.name]!)) expect([400, 404], context).toContain(status);
    if (status < 300) {
      const leaked = [...idsOfA].filter((id) => r.body.toLowerCase().includes(id));
      expect(leaked, `${context}\ntenant B was shown ids of tenant A`).toEqual([]);
    }
    return;
  }
  if (spec.idem.kind === 'shared') return;
  if (!isAuthorized(op, spec.cred)) {
    if (op.secured && !op.operatorOnly) expect(status, context).not.toBe(401);
    return;
  }
  // An authorized caller: input problems are 400 (413, 415), a missing resource 404.
  if (built.json === 'too-large') return void expect(status, context).toBe(413);
  if (built.json === 'unsupported') return void expect(status, context).toBe(415);
  if (built.json === 'malformed') return void expect(status, context).toBe(400);
  const invalid = invalidParts(op, built);
  if (invalid.length && !spec.rawQuery) {
    // a bad path segment may also leave no route to match (404), or match another route's path
    // under other methods (`/members/./suspend` is `/members/suspend`: 405)
    const expected = invalid.some((part) => part.startsWith('path')) ? [400, 404, 405] : [400];
    expect(expected, `${context}\ninvalid: ${invalid.join(', ')}`).toContain(status);
    return;
  }
  if (invalid.length === 0 && !spec.rawQuery) {
    // the console's session answers 401 to wrong credentials in the body, or to no session cookie, whatever key is sent
    const refusals = op.path === '/v1/session' ? [403, 413, 415] : [401, 403, 413, 415];
    expect(refusals, `${context}\nthe request is valid and authorized`).not.toContain(status);
    if (op.pathParams.some((p) => 'random' in spec.path[p.name]!)) expect([400, 404], context).toContain(status);
  }
}

async function send(op: Operation, spec: Spec): Promise<void> {
  if (spec.advance) laurel.clock.advance(spec.advance * 1000);
  const built = await build(op, spec);
  const r = await app.inject(built.inject);
  count(op, r);
  const context = `${built.describe}\n→ ${r.statusCode} ${r.body.slice(0, 1500)}`;
  if (TRACE?.test(op.id)) console.log(`${context.slice(0, 3000)}\n`);
  expectWellFormed(op, r, context);
  expectFor(op, spec, built, r, context);
  if (r.statusCode < 300) {
    const tenant = spec.cred === 'adminB' ? 'B' : ['adminA', 'posA', 'readA', 'memberA'].includes(spec.cred as string) ? 'A' : null;
    if (tenant) harvest(tenant, r.json());
  }
  if (spec.replay) {
    const again = await app.inject(built.inject);
    count(op, again);
    const replayContext = `${context}\nreplayed → ${again.statusCode} ${again.body.slice(0, 1500)}`;
    expectWellFormed(op, again, replayContext);
    expect(again.statusCode, `${replayContext}\na retry with the same idempotency key must answer the same`).toBe(r.statusCode);
    if (r.statusCode < 300) expect(again.json(), replayContext).toEqual(r.json());
  }
}

function count(op: Operation, r: LightMyRequestResponse): void {
  sent.total++;
  const statuses = sent.byOperation.get(op.id) ?? new Map<number, number>();
  statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
  sent.byOperation.set(op.id, statuses);
  sent.byStatus.set(r.statusCode, (sent.byStatus.get(r.statusCode) ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  a = await newTenant(laurel);
  b = await newTenant(laurel);
  for (const t of [a, b]) {
    const keys = (await call(app, { method: 'GET', url: '/v1/api-keys', key: t.keys.admin })).json().data as { keyId: string }[];
    for (const k of keys) {
      protectedKeyIds.add(k.keyId);
      if (t === a) idsOfA.add(k.keyId);
    }
  }
  const revoked = await createApiKey(laurel, a.tenantId, { name: 'revoked', scopes: ['admin'] });
  await revokeApiKey(laurel, a.tenantId, revoked.keyId);
  revokedKey = revoked.secret;
  // Enough members that erasures and suspensions leave many to spend, hold and transfer.
  for (const [tenant, t, members] of [['A', a, 24], ['B', b, 3]] as const) {
    remember(tenant, 'program', t.program.programId);
    for (let i = 0; i < members; i++) {
      // the first has the e-mail address of the documented examples, so they find a member
      const email = i === 0 ? 'ada@example.com' : `member-${i}@example.com`;
      const m = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: `fuzz-${tenant}-${i}`, cardCode: `CARD-${tenant}-${i}`, email } });
      expect(m.statusCode, m.body).toBe(201);
      harvest(tenant, m.json());
      const credit = await call(app, { method: 'POST', url: `/v1/members/${m.json().memberId}/adjustments`, key: t.keys.admin, body: { amount: 5_000, reason: 'fuzz seed' } });
      expect(credit.statusCode, credit.body).toBe(201);
      harvest(tenant, credit.json());
    }
    const member = pools[tenant].get('member')![0]!;
    const hold = await call(app, { method: 'POST', url: `/v1/members/${member}/holds`, key: t.keys.pos, body: { amount: 100, ttlSeconds: 7 * 86_400 } });
    expect(hold.statusCode, hold.body).toBe(201);
    harvest(tenant, hold.json());
    for (let i = 0; i < 2; i++) {
      const victim = await call(app, { method: 'POST', url: '/v1/api-keys', key: t.keys.admin, body: { name: `victim ${i}`, scopes: ['read'] } });
      harvest(tenant, victim.json());
    }
  }
  idsOfA.add(a.tenantId);
  idsOfA.add(revoked.keyId);
});

afterAll(async () => {
  const tally = (m: Map<number, number>) => [...m].sort(([x], [y]) => x - y).map(([s, n]) => `${s}×${n}`).join(' ');
  const total = (m: Map<number, number>) => [...m.values()].reduce((x, y) => x + y, 0);
  const byOp = operations.map((op) => {
    const m = sent.byOperation.get(op.id) ?? new Map<number, number>();
    return `  ${String(total(m)).padStart(5)}  ${op.id.padEnd(48)} ${tally(m)}`;
  }).join('\n');
  const byStatus = tally(sent.byStatus);
  console.log(`http fuzz (${onPostgres ? 'postgresql' : 'pglite'}): ${sent.total} requests over ${operations.length} operations, ${RUNS} rounds\nstatuses: ${byStatus}\n${byOp}`);
  await app.close();
  await laurel.close();
});

describe('HTTP fuzzing from the OpenAPI document', () => {
  it('derives operations from the document', () => {
    expect(operations.length).toBeGreaterThanOrEqual(20);
    for (const op of operations) {
      expect([...op.responses.keys()].some((s) => s >= 200 && s < 300), `${op.id} documents no 2xx`).toBe(true);
      if (op.body) expect(isObjectSchema(op.body.schema), `${op.id}: a JSON body is an object`).toBe(true);
    }
  });

  // About 50 s alone on one of our machines, 75–100 s on a slow day (7 Dec 2026, where a CI run
  // beside other work passed 300 s): its own timeout leaves room for a CI machine busy with other test files.
  it('answers every generated request with a documented 2xx or a 4xx problem, never a 5xx', async () => {
    const order = fc.shuffledSubarray(operations.map((_, i) => i), { minLength: operations.length, maxLength: operations.length });
    const round = fc.tuple(order, fc.tuple(...operations.map(specArbitrary)));
    // No shrinking: every request changes the database, so a smaller case would not replay the
    // same state. The failing request itself is in the error; the seed replays the whole run.
    const details = await fc.check(fc.asyncProperty(round, async ([indexes, specs]) => {
      for (const i of indexes) await send(operations[i]!, specs[i]!);
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    if (details.failed) {
      const error = details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
      error.message += `\n(round ${details.numRuns}; replay with LAUREL_FUZZ_SEED=${details.seed})`;
      throw error;
    }
    for (const op of operations) expect(sent.byOperation.has(op.id), `${op.id} was never called`).toBe(true);
  }, 600_000);

  it('leaves a ledger that verifies', async () => {
    await expectVerified(laurel, a.tenantId);
    await expectVerified(laurel, b.tenantId);
    await expectVerified(laurel);
  });
});
