// The OpenAPI document as the tools that read it need it: a stable operationId on every operation
// (client generators name their methods after it), each response described and illustrated by a
// real answer of its operation that fits its schema, errors as problem+json, and the metadata a
// linter asks for. The tour that captured the answers runs again here, so an operation or a
// status it no longer reaches, or an answer that no longer fits, fails the suite.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { runTour } from '../scripts/openapi-tour.js';
import { loadExamples } from '../src/http/openapi.js';
import { openTestApp } from './support/http.js';
import { resolveRefs } from './support/schema-arbitrary.js';

interface Media { schema?: unknown; example?: unknown }
interface Response { description?: string; content?: Record<string, Media> }
interface Operation { operationId?: string; responses: Record<string, Response> }
interface Document {
  info: { version: string; license?: { name: string; url?: string }; contact?: { name?: string } };
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

const { laurel, app } = await openTestApp();
afterAll(async () => {
  await app.close();
  await laurel.close();
});
const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, ...op })));

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const schemaOf = (media: Media) => resolveRefs(media.schema ?? {}, doc.components.schemas) as object;

/** Every documented response with content: operation, status, media type and its schema. */
const responses = operations.flatMap((op) => Object.entries(op.responses).flatMap(([status, r]) =>
  Object.entries(r.content ?? {}).map(([type, media]) => ({ op, status: Number(status), type, media }))));

describe('the OpenAPI document', () => {
  it('names every operation with a unique camelCase operationId', () => {
    expect(operations.length).toBeGreaterThanOrEqual(80);
    const seen = new Map<string, string>();
    for (const op of operations) {
      expect(op.operationId, `${op.label} has no operationId`).toMatch(/^[a-z][a-zA-Z0-9]*$/);
      expect(seen.get(op.operationId!), `${op.label} and ${seen.get(op.operationId!)} share ${op.operationId}`).toBeUndefined();
      seen.set(op.operationId!, op.label);
    }
  });

  it('describes every success and shows a real answer of its operation', () => {
    for (const op of operations) {
      const successes = Object.entries(op.responses).filter(([s]) => s.startsWith('2'));
      expect(successes.length, `${op.operationId} documents no success`).toBeGreaterThan(0);
      for (const [status, r] of successes) {
        expect(r.description, `${op.operationId} ${status}`).toBeTruthy();
        expect(r.description, `${op.operationId} ${status}`).not.toBe('Default Response');
        for (const media of Object.values(r.content ?? {})) expect(media.example, `${op.operationId} ${status} has no example`).toBeDefined();
      }
    }
  });

  it('documents every error as problem+json with a real problem of its status and type', () => {
    for (const op of operations) {
      const errors = Object.entries(op.responses).filter(([s]) => Number(s) >= 400);
      expect(errors.length, `${op.operationId} documents no error`).toBeGreaterThan(0);
      for (const [status, r] of errors) {
        expect(Object.keys(r.content ?? {}), `${op.operationId} ${status}`).toEqual(['application/problem+json']);
        const example = r.content!['application/problem+json']!.example as { type?: string; status?: number } | undefined;
        expect(example, `${op.operationId} ${status} has no example`).toBeDefined();
        expect(example!.type, `${op.operationId} ${status}`).toMatch(/^\/problems\/[a-z-]+$/);
        expect(example!.status, `${op.operationId} ${status}`).toBe(Number(status));
      }
    }
  });

  it('every example fits the schema of its response', () => {
    expect(responses.length).toBeGreaterThan(400);
    for (const { op, status, type, media } of responses) {
      const validate = ajv.compile(schemaOf(media));
      expect(validate(media.example), `${op.operationId} ${status} ${type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  it('says who publishes it, under which licence, at which version, served from where', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; license: string };
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.info.license).toEqual({ name: pkg.license, url: 'https://www.apache.org/licenses/LICENSE-2.0' });
    expect(doc.info.contact?.name).toBeTruthy();
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });
});

describe('the tour of the demo that captured the examples', () => {
  it('still reaches every documented status of every operation, with answers that fit their schemas', async () => {
    const { examples: fresh, missing } = await runTour();
    expect(missing, 'statuses the tour (scripts/openapi-tour.ts) does not reach').toEqual([]);
    const committed = loadExamples();
    const statuses = (e: Record<string, Record<string, unknown>>) => Object.entries(e).flatMap(([id, s]) => Object.keys(s).map((x) => `${id} ${x}`)).sort();
    expect(statuses(committed), 'src/http/examples is out of date: run npm run openapi:examples').toEqual(statuses(fresh));
    for (const { op, status, media } of responses) {
      const validate = ajv.compile(schemaOf(media));
      const answer = fresh[op.operationId!]![String(status)];
      expect(validate(answer), `${op.operationId} ${status} now answers ${JSON.stringify(answer)}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  }, 300_000);
});
