// JSON Schema → fast-check: values a schema accepts, generated from the schema alone, so a test
// can derive requests from an OpenAPI document. Covers what API schemas use: objects with
// required and optional properties, integers and numbers with bounds, strings with lengths,
// formats (uuid, date-time, date) and simple patterns, enums, const, arrays, unions (anyOf,
// oneOf, type lists, nullable), allOf of objects, `not` of a const or enum, and free-form JSON.
import fc from 'fast-check';

export type JsonSchema = boolean | SchemaObject;
export interface SchemaObject {
  [keyword: string]: unknown;
}

export interface SchemaArbitraryOptions {
  /** the schema a `$ref` names; needed when the schema has refs that were not inlined */
  resolveRef?: (ref: string) => JsonSchema;
  /** a custom arbitrary for a subschema (e.g. real ids for uuid fields); `path` is the property names leading to it */
  override?: (schema: SchemaObject, path: readonly string[]) => fc.Arbitrary<unknown> | undefined;
  /** longest generated array when the schema sets no maxItems (default 4) */
  maxItems?: number;
  /** deepest free-form JSON (`{}` schemas, additionalProperties) (default 3) */
  maxDepth?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `schema` with every local `$ref` (`#/components/schemas/X`, `#/definitions/X`, or a bare name) inlined. */
export function resolveRefs(schema: unknown, schemas: Record<string, unknown>, seen: readonly string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, schemas, seen));
  if (!isObject(schema)) return schema;
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace(/^#\/(components\/schemas|definitions|\$defs)\//, '');
    if (seen.includes(name)) throw new Error(`recursive $ref ${schema.$ref} is not supported`);
    const target = schemas[name];
    if (target === undefined) throw new Error(`unresolved $ref ${schema.$ref}`);
    const { $ref: _ref, ...rest } = schema;
    return { ...(resolveRefs(target, schemas, [...seen, name]) as SchemaObject), ...(resolveRefs(rest, schemas, seen) as SchemaObject) };
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolveRefs(v, schemas, seen)]));
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const daysIn = (year: number, month: number) =>
  [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;

/** Calendar dates as RFC 3339 `full-date`: mostly recent ones, sometimes any year 0000–9999. */
export const dateArbitrary: fc.Arbitrary<string> = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1950, max: 2040 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9999 }) }),
  fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }),
).map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(Math.min(d, daysIn(y, m)), 2)}`);

/**
 * RFC 3339 `date-time`s, in every form the format allows: `T` or `t` or a space, fractions,
 * `Z`, `z` or an offset, and the leap second 23:59:60 — mostly close to 2026.
 */
export const dateTimeArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.date({ min: new Date('2025-06-01T00:00:00Z'), max: new Date('2027-06-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  {
    weight: 3,
    arbitrary: fc.record({
      date: dateArbitrary,
      sep: fc.constantFrom('T', 't', ' '),
      h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }),
      frac: fc.option(fc.stringMatching(/^\.\d{1,9}$/), { nil: '' }),
      zone: fc.oneof(fc.constantFrom('Z', 'z', '+00:00', '-00:00'), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`)),
    }).map((p) => `${p.date}${p.sep}${pad(p.h, 2)}:${pad(p.mi, 2)}:${pad(p.s, 2)}${p.frac}${p.zone}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('2026-06-30T23:59:60Z', '2016-12-31T23:59:60.5Z', '2026-12-31T23:59:60z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z') },
);

/** UUIDs as the `uuid` format accepts them: any version, either case, with or without `urn:uuid:`. */
export const uuidArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid().map((u) => `urn:uuid:${u}`) },
);

/** A variant of an example that keeps its shape: each digit another digit, each letter another letter of that case. */
function exampleVariant(example: string): fc.Arbitrary<string> {
  const parts = [...example].map((ch) => /\d/.test(ch) ? fc.integer({ min: 0, max: 9 }).map(String)
    : /[a-z]/.test(ch) ? fc.integer({ min: 97, max: 122 }).map((c) => String.fromCharCode(c))
      : /[A-Z]/.test(ch) ? fc.integer({ min: 65, max: 90 }).map((c) => String.fromCharCode(c))
        : fc.constant(ch));
  return fc.tuple(...parts).map((cs) => cs.join(''));
}

const codePoints = (s: string) => [...s].length;

function stringArbitrary(schema: SchemaObject): fc.Arbitrary<string> {
  const min = num(schema.minLength) ?? 0;
  const max = num(schema.maxLength);
  const fits = (s: string) => codePoints(s) >= min && (max === undefined || codePoints(s) <= max);
  const examples = (Array.isArray(schema.examples) ? schema.examples : []).filter((e): e is string => typeof e === 'string' && fits(e));
  switch (schema.format) {
    case 'uuid': return uuidArbitrary.filter(fits);
    case 'date-time': return dateTimeArbitrary.filter(fits);
    case 'date': return dateArbitrary.filter(fits);
  }
  if (typeof schema.pattern === 'string') {
    const matching = fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
    return examples.length ? fc.oneof({ weight: 2, arbitrary: matching }, { weight: 1, arbitrary: fc.constantFrom(...examples) }) : matching;
  }
  const limit = Math.min(max ?? min + 40, min + 40);
  const sized = (unit: 'binary' | 'binary-ascii' | fc.Arbitrary<string>) => fc.string({ unit, minLength: min, maxLength: limit });
  const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.');
  const choices: fc.WeightedArbitrary<string>[] = [
    { weight: 6, arbitrary: sized(alnum) },
    { weight: 1, arbitrary: sized('binary-ascii') }, // control characters, NUL included
    { weight: 1, arbitrary: sized('binary') }, // any code point: astral, private use, NUL
    { weight: 1, arbitrary: fc.constantFrom(' ', '\u0000', '\ud800', 'é', '𝄞', '\u202e', "'; drop table members; --", '%00', '{}', 'null').map((s) => s.repeat(Math.max(1, min))).filter(fits) },
  ];
  if (max !== undefined && max > min) choices.push({ weight: 1, arbitrary: fc.constant('x'.repeat(max)) });
  if (examples.length) {
    choices.push({ weight: 3, arbitrary: fc.constantFrom(...examples) });
    choices.push({ weight: 4, arbitrary: fc.oneof(...examples.map(exampleVariant)).filter(fits) });
  }
  return fc.oneof(...choices);
}

function integerArbitrary(schema: SchemaObject): fc.Arbitrary<number> {
  let min = num(schema.minimum) ?? Number.MIN_SAFE_INTEGER;
  let max = num(schema.maximum) ?? Number.MAX_SAFE_INTEGER;
  if (num(schema.exclusiveMinimum) !== undefined) min = Math.floor(schema.exclusiveMinimum as number) + 1;
  if (num(schema.exclusiveMaximum) !== undefined) max = Math.ceil(schema.exclusiveMaximum as number) - 1;
  min = Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER);
  max = Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER);
  if (min > max) throw new Error(`no integer in [${min}, ${max}]`);
  // Small values reach the interesting paths (a member has hundreds of points, not 10^12).
  const lo = Math.max(min, -100);
  const hi = Math.min(max, 1000);
  const choices: fc.WeightedArbitrary<number>[] = [
    { weight: 1, arbitrary: fc.integer({ min, max }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
  ];
  if (lo <= hi) choices.push({ weight: 8, arbitrary: fc.integer({ min: lo, max: hi }) });
  return fc.oneof(...choices);
}

function numberArbitrary(schema: SchemaObject): fc.Arbitrary<number> {
  const min = num(schema.minimum) ?? num(schema.exclusiveMinimum) ?? -1e15;
  const max = num(schema.maximum) ?? num(schema.exclusiveMaximum) ?? 1e15;
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: schema.exclusiveMinimum !== undefined, maxExcluded: schema.exclusiveMaximum !== undefined })
    .map((n) => (Object.is(n, -0) ? 0 : n));
}

/** Merges `allOf` object schemas into one (properties and required lists united). */
function mergeAllOf(parts: SchemaObject[]): SchemaObject {
  const merged: SchemaObject = { type: 'object', properties: {}, required: [] };
  for (const p of parts) {
    Object.assign(merged.properties as object, p.properties ?? {});
    (merged.required as string[]).push(...((p.required as string[] | undefined) ?? []));
    if (p.additionalProperties === false) merged.additionalProperties = false;
  }
  return merged;
}

type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

/** An arbitrary of values that `schema` accepts. */
export function schemaArbitrary(schema: JsonSchema, options: SchemaArbitraryOptions = {}, path: readonly string[] = []): fc.Arbitrary<unknown> {
  const maxDepth = options.maxDepth ?? 3;
  const anyJson = fc.jsonValue({ maxDepth, stringUnit: 'binary' });
  if (schema === true) return anyJson;
  if (schema === false) throw new Error(`schema false accepts nothing (at ${path.join('.') || 'root'})`);
  const custom = options.override?.(schema, path);
  if (custom) return custom;
  const recur = (s: unknown, p: readonly string[] = path) => schemaArbitrary(s as JsonSchema, options, p);

  if (typeof schema.$ref === 'string') {
    if (!options.resolveRef) throw new Error(`$ref ${schema.$ref} needs resolveRef`);
    const { $ref, ...rest } = schema;
    return recur({ ...(options.resolveRef($ref) as SchemaObject), ...rest });
  }
  if (schema.not !== undefined) {
    const { not, ...rest } = schema;
    const n = not as SchemaObject;
    const excluded = 'const' in n ? [n.const] : Array.isArray(n.enum) ? n.enum : null;
    if (!excluded) throw new Error(`only "not" of a const or an enum is supported (at ${path.join('.') || 'root'})`);
    const keys = excluded.map((v) => JSON.stringify(v));
    return recur(rest).filter((v) => !keys.includes(JSON.stringify(v)));
  }
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...rest } = schema;
    return recur(mergeAllOf([rest, ...(allOf as SchemaObject[]).map((s) => (typeof s.$ref === 'string' && options.resolveRef ? options.resolveRef(s.$ref) as SchemaObject : s))]));
  }
  for (const union of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[union])) {
      const { [union]: branches, ...rest } = schema;
      return fc.oneof(...(branches as SchemaObject[]).map((b) => recur({ ...rest, ...(isObject(b) ? b : {}) })));
    }
  }
  if (schema.nullable === true) {
    const { nullable: _nullable, ...rest } = schema;
    return fc.oneof({ weight: 4, arbitrary: recur(rest) }, { weight: 1, arbitrary: fc.constant(null) });
  }
  if (Array.isArray(schema.type)) {
    return fc.oneof(...(schema.type as string[]).map((t) => recur({ ...schema, type: t })));
  }
  const type = (schema.type as SchemaType | undefined)
    ?? (schema.properties || schema.required || schema.additionalProperties !== undefined || schema.patternProperties ? 'object' : undefined);

  switch (type) {
    case 'null': return fc.constant(null);
    case 'boolean': return fc.boolean();
    case 'integer': return integerArbitrary(schema);
    case 'number': return numberArbitrary(schema);
    case 'string': return stringArbitrary(schema);
    case 'array': {
      const items = recur(schema.items ?? true, [...path, '[]']);
      const minLength = num(schema.minItems) ?? 0;
      const maxLength = Math.max(minLength, Math.min(num(schema.maxItems) ?? Infinity, options.maxItems ?? 4));
      return schema.uniqueItems === true
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = ((schema.required as string[] | undefined) ?? []).filter((k) => k in properties);
      const model = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, recur(s, [...path, k])]));
      // Objects with few optional properties pass semantic checks ("x is only for a y") far more
      // often than random combinations: each optional one is there half the time, a fifth of the
      // time, or never.
      const ABSENT = Symbol('absent');
      const withOptional = (weight: number) => fc.record(Object.fromEntries(Object.entries(model).map(([k, arb]) =>
        [k, required.includes(k) ? arb : weight === 0 ? fc.constant(ABSENT) : fc.oneof({ weight: 5 - weight, arbitrary: fc.constant(ABSENT) }, { weight, arbitrary: arb })])))
        .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ABSENT)));
      const fixed: fc.Arbitrary<Record<string, unknown>> = required.length < Object.keys(properties).length
        ? fc.oneof(
          { weight: 3, arbitrary: fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>> },
          { weight: 2, arbitrary: withOptional(1) },
          { weight: 1, arbitrary: withOptional(0) },
        )
        : fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>;
      const extraSchema = schema.additionalProperties ?? (isObject(schema.patternProperties) ? Object.values(schema.patternProperties)[0] : undefined);
      let arb: fc.Arbitrary<Record<string, unknown>> = fixed;
      if (extraSchema !== undefined && extraSchema !== false) {
        const extra = fc.dictionary(
          fc.string({ unit: 'binary', minLength: 0, maxLength: 12 }).filter((k) => !(k in properties) && k !== '__proto__'),
          isObject(extraSchema) && Object.keys(extraSchema).length > 0 ? recur(extraSchema, [...path, '*']) : anyJson,
          { maxKeys: 4 },
        );
        arb = fc.tuple(fixed, extra).map(([f, e]) => ({ ...e, ...f }));
      }
      const minProperties = num(schema.minProperties) ?? 0;
      const maxProperties = num(schema.maxProperties) ?? Infinity;
      return minProperties > 0 || maxProperties < Infinity
        ? arb.filter((o) => Object.keys(o).length >= minProperties && Object.keys(o).length <= maxProperties)
        : arb;
    }
    default: return anyJson;
  }
}

/** Whether `schema` (refs inlined) is `type: object` or a union of objects. */
export function isObjectSchema(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  if (schema.type === 'object' || schema.properties) return true;
  const branches = (schema.anyOf ?? schema.oneOf ?? schema.allOf) as unknown[] | undefined;
  return Array.isArray(branches) && branches.every(isObjectSchema);
}

/** The schema of property `name`, looking through unions and allOf. */
export function propertySchema(schema: unknown, name: string): SchemaObject | undefined {
  if (!isObject(schema)) return undefined;
  const props = schema.properties as Record<string, SchemaObject> | undefined;
  if (props?.[name]) return props[name];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const b of (schema[key] as unknown[] | undefined) ?? []) {
      const found = propertySchema(b, name);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Values close to a documented example, which passes the semantic rules no schema states:
 * each leaf is the example's most of the time, or a value of its schema; `override` (real ids)
 * always applies.
 */
export function exampleArbitrary(example: unknown, schema: JsonSchema, options: SchemaArbitraryOptions = {}, path: readonly string[] = []): fc.Arbitrary<unknown> {
  const s = isObject(schema) ? schema : {};
  const custom = options.override?.(s, path);
  if (custom) return custom;
  if (Array.isArray(example)) {
    const items = (s.items ?? true) as JsonSchema;
    return fc.tuple(...example.map((item) => exampleArbitrary(item, items, options, [...path, '[]'])));
  }
  if (isObject(example)) {
    const entries = Object.entries(example).map(([k, v]) => [k, exampleArbitrary(v, propertySchema(s, k) ?? true, options, [...path, k])] as const);
    return fc.tuple(...entries.map(([, arb]) => arb)).map((values) => Object.fromEntries(entries.map(([k], i) => [k, values[i]])));
  }
  if (schema === true || Object.keys(s).length === 0) return fc.constant(example);
  return fc.oneof({ weight: 6, arbitrary: fc.constant(example) }, { weight: 1, arbitrary: schemaArbitrary(schema, options, path) });
}
