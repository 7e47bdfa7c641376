// The OpenAPI document: @fastify/swagger derives the operations from the routes' schemas; this
// module adds what no route schema says — who publishes the API, its version and licence, the
// tags, errors as problem+json — and attaches to each response a real answer of its operation,
// captured by `npm run openapi:examples` (scripts/openapi-tour.ts) into src/http/examples/.
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';

export const API_DESCRIPTION = `Laurel is an API-first loyalty engine: members earn points, spend them, hold them at checkout
and get them back on returns, in a double-entry journal that always balances.

**Authentication**: \`Authorization: Bearer <API key>\`. Keys belong to one tenant and carry scopes:
\`admin\` (everything), \`pos\` (members, events, redemptions, holds), \`read\` (reads). A member portal
uses a member token (\`POST /v1/members/{memberId}/tokens\`) that reads only that member.

**Idempotency**: every POST that moves points requires an \`Idempotency-Key\` header; a retry with the
same key and body returns the first response, the same key with another body is refused (409).

**Errors**: RFC 9457 problem+json, with \`errors[].field\` naming each bad input.

**Pagination**: lists take \`limit\` and \`cursor\` and answer \`{ data, hasMore, nextCursor }\`.

**Compatibility**: within \`/v1\`, operations, fields, \`operationId\`s and problem \`type\`s are never
removed, renamed or given another meaning; new operations, new optional request fields, new response
fields and new values of open enumerations (entry kinds, event types, problem types) may appear, so
clients should ignore fields and values they do not know.`;

/** The tags in the order the reference page shows them. */
const TAGS: { name: string; description: string }[] = [
  { name: 'tenants', description: 'The calling tenant; new tenants (operator key).' },
  { name: 'api keys', description: "The tenant's API keys and their scopes." },
  { name: 'programs', description: 'Programs: wallets, return window, expiry and negative-balance policies.' },
  { name: 'members', description: 'Enrol, find, update, suspend and erase members; member portal tokens.' },
  { name: 'ledger', description: 'Balances, the journal, redemptions, adjustments, transfers and reversals.' },
  { name: 'holds', description: 'Points reserved at checkout, then captured or voided.' },
  { name: 'events', description: 'Purchases, returns and custom actions, and what they earn.' },
  { name: 'rules', description: 'Earning rules, their versions and dry runs; campaigns.' },
  { name: 'tiers', description: 'The tier ladder, and each member\'s tier, progress and history.' },
  { name: 'grades', description: 'Customer grades (RFM or expressions) and their history.' },
  { name: 'rewards', description: 'The catalog, redemption, reward codes at the till, paying with points.' },
  { name: 'referrals', description: 'Referral settings, codes and links, referrals with their states and refusal reasons, the funnel.' },
  { name: 'memberships', description: 'Paid membership plans, members\' memberships and their lifecycle, payment events and the Stripe webhook.' },
  { name: 'analytics', description: 'Program analytics over a period, and incremental ROI against a control group (holdout).' },
  { name: 'recognition', description: 'Employee recognition: giving allowances, gifts between peers, approvals, the feed, leaderboard and giving report.' },
  { name: 'nps', description: 'Survey responses (survey_response events) and the Net Promoter Score by period, channel and segment.' },
  { name: 'households', description: 'Households: members pooling points in one shared wallet, with spending permissions.' },
  { name: 'achievements', description: 'Badges: counters, challenges, streaks, balance milestones and stamp cards; members\' progress, the unlock report, backfills.' },
  { name: 'webhooks', description: 'Endpoints that receive signed messages, and their delivery log.' },
  { name: 'accounting', description: 'IFRS 15 / ASC 606: accounting settings, expected redemption rates, liability roll-forward, journal export, period closes.' },
  { name: 'jobs', description: 'Scheduled jobs and their runs.' },
  { name: 'operations', description: 'Health of a running instance.' },
];

const packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const EXAMPLES_DIR = new URL('./examples/', import.meta.url);

/** Captured answers by operationId, then by status. */
export type Examples = Record<string, Record<string, unknown>>;

export function loadExamples(): Examples {
  const out: Examples = {};
  for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json')).sort()) {
    out[file.slice(0, -'.json'.length)] = JSON.parse(readFileSync(new URL(file, EXAMPLES_DIR), 'utf8')) as Record<string, unknown>;
  }
  return out;
}

interface Media { schema?: unknown; example?: unknown }
interface Operation { operationId?: string; responses?: Record<string, { content?: Record<string, Media> }> }
type Document = Record<string, unknown> & { paths?: Record<string, Record<string, Operation>> };

/** Completes the document @fastify/swagger derived from the routes. */
export function completeDocument(document: Document, examples: Examples): Document {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const content = response.content ?? {};
        // Every error leaves as application/problem+json (problems.ts): say so.
        if (Number(status) >= 400 && content['application/json']) {
          response.content = { 'application/problem+json': content['application/json'] };
        }
        const example = operation.operationId ? examples[operation.operationId]?.[status] : undefined;
        if (example === undefined) continue;
        for (const media of Object.values(response.content ?? {})) media.example = example;
      }
    }
  }
  return {
    ...document,
    info: {
      title: 'Laurel API',
      version: packageVersion,
      description: API_DESCRIPTION,
      contact: { name: 'Laurel maintainers' },
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    servers: [{ url: '/', description: 'the instance serving this document' }],
    tags: TAGS,
  };
}

export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  const examples = loadExamples();
  return {
    openapi: {
      openapi: '3.1.0',
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key, or a member token' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (document) => completeDocument(('openapiObject' in document ? document.openapiObject : {}) as Document, examples) as object,
  };
}
