// Request validation. Bodies are checked strictly: no type coercion ("5" is not 5) and no
// unknown fields. Query strings and path parameters arrive as text, so they are coerced.
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

const addFormats = addFormatsModule as unknown as ((ajv: Ajv) => Ajv) & { get: (name: 'date-time') => { validate: (s: string) => boolean } };

// A date-time must be an instant the database can store: RFC 3339 also allows a leap second
// (23:59:60, an Invalid Date in JavaScript) and, with an offset, instants before year 1 or
// after 9999 (0000-01-01T00:00:00+01:00), which PostgreSQL refuses.
const rfc3339 = addFormats.get('date-time');
const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');
const storableDateTime = (s: string) => {
  const t = Date.parse(s);
  return rfc3339.validate(s) && t >= FIRST_INSTANT && t <= LAST_INSTANT;
};
const withFormats = (ajv: Ajv) => addFormats(ajv).addFormat('date-time', { type: 'string', validate: storableDateTime });

const common: Options = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false };
const strict = withFormats(new Ajv({ ...common, coerceTypes: false }));
const coercing = withFormats(new Ajv({ ...common, coerceTypes: 'array' }));

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema) as ReturnType<FastifySchemaCompiler<object>>;

// What no schema says but the server needs: PostgreSQL stores neither NUL characters (in text
// or jsonb) nor unpaired UTF-16 surrogates (in jsonb), and JSON nested thousands of levels deep
// overflows the stack that serializes it. A request carrying either would fail as a 500; it is
// refused here as bad input, for every route and every part of the request.
// eslint-disable-next-line no-control-regex -- NUL is exactly what it looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const TEXT = 'must not contain NUL characters or unpaired surrogates';
const MAX_NESTING = 64;

/** The first field (`attributes.note`, `lines[0]`; `''` for the value itself) the server cannot process, and why; or null. */
export function unprocessableInput(value: unknown): { field: string; message: string } | null {
  // iterative, and stopping at MAX_NESTING: the input may nest deeper than the call stack
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { field: path, message: TEXT };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_NESTING) return { field: path, message: `must not nest deeper than ${MAX_NESTING} levels` };
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}[${i}]`, depth + 1]));
      continue;
    }
    for (const [k, item] of Object.entries(v)) {
      const field = path ? `${path}.${k}` : k;
      if (UNSTORABLE.test(k)) return { field, message: TEXT };
      stack.push([item, field, depth + 1]);
    }
  }
  return null;
}
