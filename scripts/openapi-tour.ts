// A tour of the whole API on the demo program: every operation is called, in process, until it
// has given each status its document promises, and the first answer of each is kept. The
// successes are the demo's own data; the errors are real problem+json answers (a bad field, no
// key, a key without the scope, an unknown id, a conflict, points short, the rate limit).
// `npm run openapi:examples` writes them to src/http/examples/<operationId>.json, which the
// document attaches to its responses (src/http/openapi.ts); test/openapi.test.ts runs the tour
// again and checks that it still reaches every status and that every answer fits its schema.
import { createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../src/core/clock.js';
import { uuidv7 } from '../src/core/ids.js';
import { openDatabase } from '../src/db/connection.js';
import { buildApp } from '../src/http/app.js';
import type { Examples } from '../src/http/openapi.js';
import { installSchedules, runJobNow } from '../src/jobs/runner.js';
import { createApiKey } from '../src/services/api-keys.js';
import { openLaurel } from '../src/services/context.js';
import { seedDemo } from '../src/services/demo.js';
import { createMember } from '../src/services/members.js';
import { createProgram } from '../src/services/tenants.js';

/** The tour's "now": fixed, so the examples' dates only change when the demo does. */
const NOW = '2026-11-24T09:30:00.000Z';
const OPERATOR_KEY = 'lk_operator_key_of_this_deployment_0001';

interface Operation {
  id: string;
  method: string;
  path: string;
  /** documented statuses */
  statuses: number[];
  idempotent: boolean;
}

interface Req {
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  body?: unknown;
  /** an API key or member token; null: no Authorization header */
  key?: string | null;
  /** the Idempotency-Key (default: a fresh one when the operation takes one) */
  idem?: string;
  /** a console session's cookie */
  cookie?: string;
  /** more headers (a Stripe-Signature) */
  headers?: Record<string, string>;
}

export interface Tour {
  examples: Examples;
  /** `operationId status` pairs the document promises and the tour could not produce */
  missing: string[];
}

function operationsOf(document: { paths: Record<string, Record<string, { operationId?: string; responses?: object; parameters?: { in: string; name: string }[] }>> }): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op.operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      out.set(op.operationId, {
        id: op.operationId, method: method.toUpperCase(), path,
        statuses: Object.keys(op.responses ?? {}).map(Number),
        idempotent: (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key'),
      });
    }
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value with every UUID in it replaced by a fresh one (an id nobody has). */
function unknownIds<T>(value: T): T {
  if (typeof value === 'string') return (UUID.test(value) ? uuidv7() : value) as T;
  if (Array.isArray(value)) return value.map(unknownIds) as T;
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unknownIds(v)])) as T;
  return value;
}

export async function runTour(): Promise<Tour> {
  process.env.LAUREL_OPERATOR_KEY = OPERATOR_KEY;
  const laurel = await openLaurel({ dataDir: 'memory://' }, new ManualClock(NOW));
  const app = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1_000_000 });
  // one request a minute per key: the second request of a key is refused with 429
  const limited = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1 });
  try {
    return await tour(laurel, app, limited);
  } finally {
    await limited.close();
    await app.close();
    await laurel.close();
  }
}

async function tour(laurel: Awaited<ReturnType<typeof openLaurel>>, app: FastifyInstance, limited: FastifyInstance): Promise<Tour> {
  await app.ready();
  const operations = operationsOf(app.swagger() as Parameters<typeof operationsOf>[0]);
  const examples: Examples = {};
  let serial = 0;
  let address = 0;

  const demo = await seedDemo(laurel);
  const t = demo.tenant.tenantId;
  const programId = demo.program.programId;
  const [alice, bob, carol] = demo.members.map((m) => m.memberId) as [string, string, string];
  await installSchedules(laurel);
  await runJobNow(laurel, 'settle');
  const newKey = async (scope: 'admin' | 'pos' | 'read', name: string) => (await createApiKey(laurel, t, { name, scopes: [scope] })).secret;
  const keys = { admin: await newKey('admin', 'back office'), pos: await newKey('pos', 'store 12 till 3'), read: await newKey('read', 'reporting') };

  const op = (id: string): Operation => {
    const o = operations.get(id);
    if (!o) throw new Error(`the document has no operation ${id}`);
    return o;
  };

  function send(o: Operation, req: Req, on: FastifyInstance = app, remoteAddress = `10.0.0.${++address % 250}`): Promise<LightMyRequestResponse> {
    const url = o.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(req.params?.[name] ?? ''));
    const query = new URLSearchParams(Object.entries(req.query ?? {}).map(([k, v]) => [k, String(v)])).toString();
    const headers: Record<string, string> = { ...req.headers };
    if (typeof req.body === 'string') headers['content-type'] = 'application/json';
    if (req.key) headers.authorization = `Bearer ${req.key}`;
    if (req.cookie) headers.cookie = req.cookie;
    if (o.idempotent) headers['idempotency-key'] = req.idem ?? `tour-${++serial}`;
    return on.inject({
      method: o.method as 'GET', url: query ? `${url}?${query}` : url, headers, remoteAddress,
      ...(req.body !== undefined ? { payload: req.body as object | string } : {}),
    });
  }

  const keep = (o: Operation, status: number, body: unknown) => {
    const kept = (examples[o.id] ??= {});
    if (!(String(status) in kept)) kept[String(status)] = body;
  };
  const has = (o: Operation, status: number) => String(status) in (examples[o.id] ?? {});

  /** Changes a request's body so that it is another request (an idempotency key reused with it is a conflict). */
  const otherBody = (body: unknown): unknown => {
    if (!isObject(body)) return { ref: 'another request' };
    if (typeof body.amount === 'number') return { ...body, amount: body.amount + 1 };
    for (const field of ['ref', 'reason', 'name', 'orderRef', 'description']) if (typeof body[field] === 'string') return { ...body, [field]: `${body[field]} (another)` };
    return { ...body, ref: 'another request' };
  };

  /** Requests that should give `status`, most telling first; the first that does is kept. */
  function candidates(o: Operation, req: Req, idem: string | undefined, status: number): Req[] {
    const withBadId = Object.keys(req.params ?? {}).slice(0, 1).map((name) => ({ ...req, params: { ...req.params, [name]: 'not-a-uuid' } }));
    switch (status) {
      case 400: return [
        ...(isObject(req.body) ? [{ ...req, body: { ...req.body, colour: 'blue' } }] : []),
        ...withBadId,
        { ...req, query: { ...req.query, limit: 0 } },
        { ...req, query: { ...req.query, note: '\u0000' } },
      ];
      case 401: return [{ ...req, key: null }, { ...req, key: 'lk_revoked_or_mistyped_key' }];
      case 403: return [
        { ...req, key: keys.read }, ...(o.method === 'GET' ? [{ ...req, key: keys.pos }] : []),
        { ...req, key: tokens.bob }, { ...req, key: tokens.carol },
        ...(o.method === 'GET' || o.id === 'createTenant' ? [{ ...req, key: keys.admin }] : []),
      ];
      case 404: return [
        ...Object.keys(req.params ?? {}).map((name) => ({ ...req, params: { ...req.params, [name]: uuidv7() } })),
        ...(req.body !== undefined ? [{ ...req, body: unknownIds(req.body) }] : []),
        ...(req.query ? [{ ...req, query: unknownIds(req.query) }] : []),
      ];
      case 409: return [
        ...(idem ? [{ ...req, idem, body: otherBody(req.body) }] : []),
        { ...req },
      ];
      case 422: return isObject(req.body) ? [{ ...req, body: { ...req.body, amount: 900_000_000 } }] : [];
      default: return [];
    }
  }

  /**
   * Calls the operation as a client would, keeps its success, then tries it wrong in every way
   * its document promises an error. `errors` gives requests for errors a generic mistake does not
   * produce (or produces less tellingly); they are tried first.
   */
  async function call(id: string, req: Req, errors: Partial<Record<number, Req[]>> = {}): Promise<Record<string, unknown>> {
    const o = op(id);
    const idem = o.idempotent ? (req.idem ?? `tour-${++serial}`) : undefined;
    const r = await send(o, { ...req, ...(idem ? { idem } : {}) });
    if (r.statusCode >= 300 || !o.statuses.includes(r.statusCode)) throw new Error(`${id}: ${r.statusCode} ${r.body}`);
    // a CSV answer is kept as its text
    const body = r.body ? (String(r.headers['content-type']).startsWith('text/csv') ? r.body as unknown as Record<string, unknown> : r.json() as Record<string, unknown>) : {};
    keep(o, r.statusCode, body);
    for (const status of o.statuses.filter((s) => s >= 400 && s !== 429)) {
      for (const candidate of [...(errors[status] ?? []), ...candidates(o, req, idem, status)]) {
        if (has(o, status)) break;
        const e = await send(o, candidate);
        if (e.statusCode === status) keep(o, status, e.json());
      }
    }
    if (o.statuses.includes(429) && !has(o, 429)) {
      // Twice from one caller of its own (a key, or an address): the second is over the limit.
      // The first is a request the operation refuses (400), so that it changes nothing.
      const [invalid] = candidates(o, req, undefined, 400);
      const caller = { ...(invalid ?? req), key: req.key ? (req.key === OPERATOR_KEY ? OPERATOR_KEY : await newKey('admin', `rate limit ${id}`)) : null };
      const from = `10.1.0.${++address % 250}`;
      for (let i = 0; i < 2; i++) {
        const e = await send(o, caller, limited, from);
        if (e.statusCode === 429) keep(o, 429, e.json());
      }
    }
    return body;
  }

  /** A request the operation must refuse with `status` (an error no mistake in the request makes). */
  async function refused(id: string, status: number, req: Req): Promise<void> {
    const o = op(id);
    const r = await send(o, req);
    if (r.statusCode !== status) throw new Error(`${id}: ${r.statusCode} instead of ${status}: ${r.body}`);
    keep(o, status, r.json());
  }

  const tokens = { bob: '', carol: '' };

  // member tokens first: the 403s of other operations use them
  const memberToken = async (memberId: string) => (await call('createMemberToken', { key: keys.pos, params: { memberId }, body: { ttlSeconds: 3600 } })).token as string;
  tokens.bob = await memberToken(bob);
  tokens.carol = await memberToken(carol);


  // operations and tenants
  await call('getHealth', {});
  await call('createTenant', { key: OPERATOR_KEY, body: { name: 'Acme Coffee', timeZone: 'Europe/Paris', currency: 'EUR' } });
  await call('getTenant', { key: keys.read });

  // api keys
  const created = await call('createApiKey', { key: keys.admin, body: { name: 'store 14 till 1', scopes: ['pos'] } });
  await call('listApiKeys', { key: keys.admin });
  await call('revokeApiKey', { key: keys.admin, params: { keyId: created.keyId as string } });

  // programs
  const staff = await call('createProgram', {
    key: keys.admin, body: {
      name: 'Staff perks', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'fixed_date', month: 12, day: 31, yearsAfter: 1 }, negativeBalance: 'write_off',
    },
  }, { 409: [] });
  await call('listPrograms', { key: keys.read });
  await call('getProgram', { key: keys.read, params: { programId } });
  await call('updateProgramSettings', { key: keys.admin, params: { programId }, body: { expiryReminderDays: 30 } });

  // members
  const dana = await call('createMember', {
    key: keys.pos, body: { programId, externalId: 'dana', email: 'dana@example.com', cardCode: 'CARD-0004', attributes: { firstName: 'Dana' }, birthday: '1991-03-14' },
  }, {
    400: [{ key: keys.pos, body: { programId: 'coffee-club', email: 'dana@example.com' } }],
    409: [{ key: keys.pos, body: { programId, email: 'alice@example.com' } }],
  });
  const danaId = dana.memberId as string;
  await call('listMembers', { key: keys.read, query: { programId, limit: 2 } });
  await call('lookupMember', { key: keys.read, query: { programId, cardCode: 'CARD-0001' } }, { 404: [{ key: keys.read, query: { programId, cardCode: 'CARD-9999' } }] });
  await call('getMember', { key: keys.read, params: { memberId: alice } });
  await call('updateMember', { key: keys.pos, params: { memberId: danaId }, body: { phone: '+33612345678' } }, {
    409: [{ key: keys.pos, params: { memberId: danaId }, body: { email: 'bob@example.com' } }],
  });
  await call('suspendMember', { key: keys.admin, params: { memberId: danaId } });
  await call('reactivateMember', { key: keys.admin, params: { memberId: danaId } });

  // the ledger
  await call('getBalances', { key: keys.read, params: { memberId: alice } });
  await call('listJournal', { key: keys.read, params: { memberId: alice }, query: { limit: 3 } });
  const redeemed = await call('redeemPoints', { key: keys.pos, params: { memberId: alice }, body: { amount: 100, ref: 'order-2001' } }, {
    400: [{ key: keys.pos, params: { memberId: alice }, body: { amount: 12.5, ref: 'order-2001' } }],
  });
  await call('adjustPoints', { key: keys.admin, params: { memberId: carol }, body: { amount: 25, reason: 'coffee spilt at the till' } }, {
    422: [{ key: keys.admin, params: { memberId: carol }, body: { amount: -900_000, reason: 'wrong grant' } }],
  });
  const held = await call('createHold', { key: keys.pos, params: { memberId: bob }, body: { amount: 50, ttlSeconds: 900, ref: 'checkout-88' } }, {
    400: [{ key: keys.pos, params: { memberId: bob }, body: { amount: 50, ref: 'checkout-88' } }],
  });
  const holdId = (held.hold as { holdId: string }).holdId;
  await call('getHold', { key: keys.read, params: { holdId } });
  await call('captureHold', { key: keys.pos, params: { holdId }, body: { amount: 40, ref: 'order-2002' } });
  const toVoid = await call('createHold', { key: keys.pos, params: { memberId: bob }, body: { amount: 20, ttlSeconds: 900, ref: 'checkout-89' } });
  await call('voidHold', { key: keys.pos, params: { holdId: (toVoid.hold as { holdId: string }).holdId } });
  await call('transferPoints', { key: keys.pos, body: { fromMemberId: alice, toMemberId: carol, amount: 30, reason: 'a gift' } }, {
    400: [{ key: keys.pos, body: { fromMemberId: alice, toMemberId: carol, amount: -30 } }],
  });
  const redeemEntry = (redeemed.entries as { entryId: string }[])[0]!.entryId;
  await call('getJournalEntry', { key: keys.read, params: { entryId: redeemEntry } });
  await call('reverseJournalEntry', { key: keys.admin, params: { entryId: redeemEntry }, body: { reason: 'order 2001 cancelled' } });

  // events
  const purchase = {
    programId, externalId: 'order-2003', type: 'purchase', member: { cardCode: 'CARD-0001' }, channel: 'store', location: 'paris-01', currency: 'EUR',
    lines: [{ sku: 'LATTE-L', category: 'coffee', quantity: 2, unitPrice: 450 }, { sku: 'CROISSANT', category: 'pastry', quantity: 1, unitPrice: 120 }],
  };
  const event = await call('sendEvent', { key: keys.pos, body: purchase }, {
    400: [{ key: keys.pos, body: { ...purchase, lines: [{ sku: 'LATTE-L', category: 'coffee', quantity: 0, unitPrice: 450 }] } }],
    409: [{ key: keys.pos, body: { ...purchase, lines: [{ sku: 'MUG', category: 'merch', quantity: 1, unitPrice: 950 }] } }],
  });
  const eventId = (event.event as { eventId: string }).eventId;
  await call('quoteEvent', { key: keys.pos, body: { programId, member: { cardCode: 'CARD-0002' }, channel: 'store', lines: [{ sku: 'BEANS-1KG', category: 'coffee', quantity: 1, unitPrice: 2000 }] } });
  await call('getEvent', { key: keys.read, params: { eventId } });
  await call('listMemberEvents', { key: keys.read, params: { memberId: alice }, query: { limit: 2 } });

  // rules and campaigns
  const rule = await call('createRule', {
    key: keys.admin, params: { programId },
    body: { name: 'Beans bonus', trigger: 'purchase', condition: 'event.channel == "store"', effect: { type: 'multiplier', factor: 2, categories: ['coffee'] } },
  });
  const ruleId = rule.ruleId as string;
  await call('listRules', { key: keys.read, params: { programId } });
  await call('getRule', { key: keys.read, params: { ruleId } });
  await call('updateRule', {
    key: keys.admin, params: { ruleId },
    body: { name: 'Beans bonus', trigger: 'purchase', condition: 'event.channel == "store"', effect: { type: 'multiplier', factor: 3, categories: ['coffee'] } },
  });
  await call('listRuleVersions', { key: keys.read, params: { ruleId } });
  await call('disableRule', { key: keys.admin, params: { ruleId } });
  await call('enableRule', { key: keys.admin, params: { ruleId } });
  await call('dryRunRule', { key: keys.admin, params: { ruleId }, body: { limit: 5 } });
  const campaign = await call('createCampaign', { key: keys.admin, params: { programId }, body: { name: 'Winter warmers', budget: 50_000, perMember: [{ period: 'month', points: 500 }] } });
  await call('listCampaigns', { key: keys.read, params: { programId } });
  await call('getCampaign', { key: keys.read, params: { campaignId: campaign.campaignId as string } });
  await call('updateCampaign', { key: keys.admin, params: { campaignId: campaign.campaignId as string }, body: { name: 'Winter warmers', budget: 80_000, perMember: [{ period: 'month', points: 500 }] } });

  // jobs
  await call('listJobs', { key: OPERATOR_KEY });
  await call('listJobRuns', { key: OPERATOR_KEY, query: { limit: 2 } });
  await call('listJobSchedules', { key: keys.admin, query: { runs: 2 } });

  // grades
  const grading = {
    kind: 'rfm', windowMonths: 12, quantiles: 3, weights: { recency: 1, frequency: 1, monetary: 2 },
    grades: [{ code: 'a', minScore: '2.5' }, { code: 'b', minScore: '1.5' }, { code: 'c', minScore: '0' }],
  };
  await call('setGrading', { key: keys.admin, params: { programId }, body: grading });
  await call('getGrading', { key: keys.read, params: { programId } });
  await call('recomputeGrades', { key: keys.admin, params: { programId } });
  await call('getGradeReport', { key: keys.read, params: { programId } });
  await call('listGradeHistory', { key: keys.read, params: { memberId: alice } });
  await call('listGradeMovements', { key: keys.read, params: { programId }, query: { limit: 3 } });

  // tiers
  await call('getTierLadder', { key: keys.read, params: { programId } });
  await call('getMemberTier', { key: keys.read, params: { memberId: alice } });
  await call('listTierHistory', { key: keys.read, params: { memberId: alice } });
  await call('listTierMovements', { key: keys.read, params: { programId }, query: { limit: 3 } });

  // rewards
  const rewards = await call('listRewards', { key: keys.read, params: { programId } });
  const rewardId = (code: string) => (rewards.data as { rewardId: string; code: string }[]).find((r) => r.code === code)!.rewardId;
  const reward = {
    code: 'free-muffin', name: 'A free muffin', description: 'Any muffin from the counter.', value: { type: 'free_product', sku: 'MUFFIN' }, cost: 120,
    perMember: [{ period: 'month', times: 2 }], channels: ['store'], expiresAfterDays: 30,
  };
  const muffin = await call('createReward', { key: keys.admin, params: { programId }, body: reward }, { 409: [{ key: keys.admin, params: { programId }, body: reward }] });
  await call('getReward', { key: keys.read, params: { rewardId: rewardId('tasting') } });
  await call('updateReward', { key: keys.admin, params: { rewardId: muffin.rewardId as string }, body: { ...reward, cost: 100 } }, {
    409: [{ key: keys.admin, params: { rewardId: muffin.rewardId as string }, body: { ...reward, code: 'free-coffee' } }],
  });
  const voucher = await call('createReward', {
    key: keys.admin, params: { programId }, body: { code: 'cinema-ticket', name: 'A cinema ticket', value: { type: 'partner_voucher', partner: 'Le Grand Rex' }, cost: 900 },
  });
  await call('importPartnerCodes', { key: keys.admin, params: { rewardId: voucher.rewardId as string }, body: { codes: ['REX-8HD2-KQ', 'REX-2MF9-PL', 'REX-7XA4-WT'] } });
  await call('listMemberRewards', { key: keys.read, params: { memberId: alice }, query: { channel: 'store' } });
  const coffee = await call('redeemReward', { key: keys.pos, params: { memberId: alice, rewardId: rewardId('free-coffee') }, body: { channel: 'store' } }, {
    409: [{ key: keys.pos, params: { memberId: alice, rewardId: rewardId('free-coffee') }, body: { channel: 'store' } }],
    422: [{ key: keys.pos, params: { memberId: carol, rewardId: rewardId('five-off') }, body: {} }],
  });
  const code = (coffee.instance as { code: string }).code;
  await call('listRewardInstances', { key: keys.read, params: { memberId: alice } });
  await call('getRewardInstance', { key: keys.read, params: { instanceId: (coffee.instance as { instanceId: string }).instanceId } });
  await call('validateRewardCode', { key: keys.pos, body: { code } }, { 404: [{ key: keys.pos, body: { code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ' } }] });
  await call('consumeReward', { key: keys.pos, body: { code, orderRef: 'order-2004' } }, {
    404: [{ key: keys.pos, body: { code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ', orderRef: 'order-2005' } }],
  });
  await call('adjustPoints', { key: keys.admin, params: { memberId: bob }, body: { amount: 500, reason: 'birthday gift' } });
  const tree = await call('redeemReward', { key: keys.pos, params: { memberId: bob, rewardId: muffin.rewardId as string }, body: { channel: 'store' } });
  const treeId = (tree.instance as { instanceId: string }).instanceId;
  const consumedId = (coffee.instance as { instanceId: string }).instanceId;
  await call('cancelRewardInstance', { key: keys.pos, params: { instanceId: treeId } }, {
    409: [{ key: keys.pos, params: { instanceId: consumedId } }],
  });
  // a donation is made as it is redeemed
  await call('redeemReward', { key: keys.pos, params: { memberId: bob, rewardId: rewardId('plant-a-tree') }, body: {} });
  // a program without a pointValue: points do not pay there
  const staffMember = await call('createMember', { key: keys.pos, body: { programId: staff.programId as string, externalId: 'staff-17' } });
  await call('quotePointsPayment', { key: keys.pos, body: { memberId: bob, amount: 1250 } }, {
    409: [{ key: keys.pos, body: { memberId: staffMember.memberId as string, amount: 1250 } }],
  });
  await call('listDonations', { key: keys.read, params: { programId } });
  await call('listProgramRewardInstances', { key: keys.read, params: { programId }, query: { status: 'consumed', limit: 2 } });

  // referrals: alice shares her code, erin joins with it and her first order qualifies the referral
  await call('setReferralSettings', { key: keys.admin, params: { programId }, body: {
    enabled: true, linkBaseUrl: 'https://coffee.example/join', condition: 'event.type == "purchase" && order.total >= 2000', withinDays: 30,
    referrer: { points: 500 }, referee: { points: 250 }, caps: { perPeriod: { count: 10, period: 'month' }, lifetime: 50 },
  } });
  await call('getReferralSettings', { key: keys.read, params: { programId } });
  const shared = await call('getMemberReferral', { key: keys.read, params: { memberId: alice } });
  const erin = (await send(op('createMember'), { key: keys.pos, body: { programId, email: 'erin@example.com', referralCode: shared.code as string } })).json() as { memberId: string };
  await send(op('sendEvent'), { key: keys.pos, body: {
    programId, memberId: erin.memberId, type: 'purchase', externalId: 'order-3001', channel: 'web',
    lines: [{ sku: 'BEANS-1KG', category: 'beans', quantity: 1, unitPrice: 2400 }],
  } });
  const referrals = await call('listReferrals', { key: keys.read, query: { programId } });
  await call('getReferral', { key: keys.read, params: { referralId: (referrals.data as { referralId: string }[])[0]!.referralId } });
  await call('getReferralFunnel', { key: keys.read, params: { programId } });

  // accounting: settings, a purchase that allocates, reports and exports, a close (the month must have ended), rates, fees
  const noBooks = { key: keys.read, params: { programId: staff.programId as string } };
  // the books count the points wallet: a program of stamps only has none to account for
  const stampsOnly = (await send(op('createProgram'), { key: keys.admin, body: { name: 'Stamps only', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt', wallets: [{ code: 'stamps', kind: 'redeemable' }] } })).json() as { programId: string };
  const booksBody = { pointValue: { points: 100, minor: 100 }, expectedRedemptionRate: '0.8', glAccounts: { contractLiability: '2400' } };
  await call('setAccountingSettings', { key: keys.admin, params: { programId }, body: booksBody }, { 409: [{ key: keys.admin, params: { programId: stampsOnly.programId }, body: booksBody }] });
  await call('getAccountingSettings', { key: keys.read, params: { programId } }, { 409: [noBooks] });
  await send(op('sendEvent'), { key: keys.pos, body: { ...purchase, externalId: 'order-2010', lines: [{ sku: 'BEANS-1KG', category: 'coffee', quantity: 1, unitPrice: 2000 }] } });
  await call('getAccountingReport', { key: keys.read, params: { programId, period: '2026-11' } }, { 409: [{ ...noBooks, params: { ...noBooks.params, period: '2026-11' } }] });
  await call('getAccountingReportCsv', { key: keys.read, params: { programId, period: '2026-11' } }, { 409: [{ ...noBooks, params: { ...noBooks.params, period: '2026-11' } }] });
  await call('getAccountingJournalCsv', { key: keys.read, params: { programId, period: '2026-Q4' } }, { 409: [{ ...noBooks, params: { ...noBooks.params, period: '2026-Q4' } }] });
  await call('getRedemptionRateEstimate', { key: keys.read, params: { programId } }, { 409: [noBooks] });
  await call('recordMembershipFee', { key: keys.admin, params: { programId }, body: { feeRef: 'pay_2026_0001', memberId: alice, amount: 2000, serviceStart: NOW, serviceEnd: null } },
    { 409: [{ key: keys.admin, params: { programId: staff.programId as string }, body: { feeRef: 'pay_2026_0002', amount: 2000, serviceStart: NOW } }] });
  // months close in order from a program's first: a program started this month can close it once it has ended
  const books = (await send(op('createProgram'), { key: keys.admin, body: { name: 'Gift cards', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt' } })).json() as { programId: string };
  await send(op('setAccountingSettings'), { key: keys.admin, params: { programId: books.programId }, body: { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.9' } });
  const clock = laurel.clock as ManualClock;
  clock.set('2026-12-02T09:30:00.000Z');
  await call('closeAccountingPeriod', { key: keys.admin, params: { programId: books.programId }, body: { period: '2026-11' } });
  await call('setExpectedRedemptionRate', { key: keys.admin, params: { programId: books.programId, period: '2027-01' }, body: { expectedRedemptionRate: '0.75' } },
    { 409: [{ key: keys.admin, params: { programId: books.programId, period: '2026-11' }, body: { expectedRedemptionRate: '0.75' } }] });
  clock.set(NOW);

  // achievements
  const streak = await call('createAchievement', {
    key: keys.admin, params: { programId },
    body: { code: 'coffee-weeks', name: 'Four weeks of coffee', kind: 'streak', streakUnit: 'week', target: 4, filter: '"coffee" in order.categories', reward: { type: 'points', points: 500 } },
  }, {
    400: [{ key: keys.admin, params: { programId }, body: { code: 'bad', name: 'Bad', kind: 'counter', target: 3, filter: 'order.totl > 5' } }],
  });
  const achievementId = streak.achievementId as string;
  await call('createAchievement', {
    key: keys.admin, params: { programId },
    body: { code: 'coffee-card', name: 'Coffee card', kind: 'counter', target: 10, repeatable: true, stampCard: true, filter: '"coffee" in order.categories', reward: { type: 'reward', rewardId: rewardId('free-coffee') } },
  });
  await call('listAchievements', { key: keys.read, params: { programId } });
  await call('getAchievement', { key: keys.read, params: { achievementId } });
  await call('updateAchievement', {
    key: keys.admin, params: { achievementId },
    body: { code: 'coffee-weeks', name: 'Four weeks of coffee', kind: 'streak', streakUnit: 'week', target: 4, filter: '"coffee" in order.categories', reward: { type: 'points', points: 600 } },
  }, { 400: [{ key: keys.admin, params: { achievementId }, body: { code: 'coffee-weeks', name: 'Four weeks', kind: 'streak', streakUnit: 'week', target: -4 } }] });
  await call('listAchievementVersions', { key: keys.read, params: { achievementId } });
  await call('disableAchievement', { key: keys.admin, params: { achievementId } });
  await call('enableAchievement', { key: keys.admin, params: { achievementId } });
  await send(op('sendEvent'), { key: keys.pos, body: { ...purchase, externalId: 'order-2004' } });
  await call('listMemberAchievements', { key: tokens.bob, params: { memberId: bob } }, { 404: [{ key: keys.read, params: { memberId: uuidv7() } }] });
  await call('achievementReport', { key: keys.read, params: { programId } });
  const backfill = await call('requestAchievementBackfill', { key: keys.admin, params: { achievementId } });
  await call('getAchievementBackfill', { key: keys.read, params: { backfillId: backfill.backfillId as string } });

  // webhooks
  const endpoint = await call('createWebhookEndpoint', {
    key: keys.admin, body: { url: 'https://hooks.example.com/laurel', description: 'order system', eventTypes: ['points.expiring', 'tier.changed'] },
  });
  const endpointId = endpoint.endpointId as string;
  await call('listWebhookEndpoints', { key: keys.admin });
  await call('getWebhookEndpoint', { key: keys.admin, params: { endpointId } });
  await call('updateWebhookEndpoint', { key: keys.admin, params: { endpointId }, body: { eventTypes: ['points.expiring', 'tier.changed', 'reward.issued'] } });
  const test = await call('testWebhookEndpoint', { key: keys.admin, params: { endpointId } });
  await call('listWebhookDeliveries', { key: keys.admin, params: { endpointId } });
  await call('replayWebhookDelivery', { key: keys.admin, params: { endpointId, deliveryId: test.deliveryId as string } });

  // paid memberships: a plan, a payment from a billing system, Stripe's webhook, a cancellation
  const deliveryPass = await call('createMembershipPlan', { key: keys.admin, body: {
    programId, code: 'delivery-pass', name: 'Delivery pass', fee: 499, currency: 'EUR', period: 'monthly', trialDays: 14,
    benefits: { earnMultiplier: '2', flags: ['free_shipping'] }, stripePriceId: 'price_1QdeliveryPass',
  } });
  const coop = await call('createMembershipPlan', { key: keys.admin, body: {
    programId, code: 'co-op', name: 'Co-op lifetime membership', fee: 2000, currency: 'EUR', period: 'lifetime', benefits: { percentBack: '10', flags: ['member_prices'] },
  } });
  await call('listMembershipPlans', { key: keys.read, query: { programId } });
  await call('getMembershipPlan', { key: keys.read, params: { planId: deliveryPass.planId as string } });
  const payment = { programId, provider: 'acme-billing', eventId: 'evt_acme_0001', type: 'paid', memberId: bob, planId: coop.planId as string, externalId: 'coop-card-0002', amount: 2000, currency: 'EUR', occurredAt: NOW };
  const paid = await call('recordMembershipPayment', { key: keys.admin, body: payment },
    { 409: [{ key: keys.admin, body: { ...payment, eventId: 'evt_acme_0002', memberId: carol } }] });
  const stripeSecret = 'whsec_tour_0123456789abcdefghijklmnop';
  await call('setStripeSettings', { key: keys.admin, params: { programId }, body: { webhookSecret: stripeSecret } });
  const stripeAt = Math.floor(Date.parse(NOW) / 1000);
  const stripeEvent = JSON.stringify({
    id: 'evt_1QtourSubscriptionCreated', object: 'event', type: 'customer.subscription.created', created: stripeAt, livemode: false,
    data: { object: {
      id: 'sub_1QtourDeliveryPass', object: 'subscription', customer: 'cus_QtourAlice', status: 'trialing', cancel_at_period_end: false,
      trial_end: stripeAt + 14 * 86_400, metadata: { laurel_member_id: alice },
      items: { object: 'list', data: [{ price: { id: 'price_1QdeliveryPass' }, current_period_start: stripeAt, current_period_end: stripeAt + 14 * 86_400 }] },
    } },
  });
  const stripeSignature = `t=${stripeAt},v1=${createHmac('sha256', stripeSecret).update(`${stripeAt}.${stripeEvent}`).digest('hex')}`;
  await call('receiveStripeEvent', { query: { programId }, body: stripeEvent, headers: { 'stripe-signature': stripeSignature } });
  await call('listMemberships', { key: keys.read, query: { programId } });
  await call('listMemberMemberships', { key: tokens.bob, params: { memberId: bob } }, { 404: [{ key: keys.read, params: { memberId: uuidv7() } }] });
  const membershipId = (paid.membership as { membershipId: string }).membershipId;
  await call('getMembership', { key: keys.read, params: { membershipId } });
  await call('cancelMembership', { key: keys.admin, params: { membershipId }, body: { atPeriodEnd: false, reason: 'moved away' } },
    { 409: [{ key: keys.admin, params: { membershipId }, body: { atPeriodEnd: true } }] });

  // what removes things, last
  await call('setTierLadder', { key: keys.admin, params: { programId }, body: {
    metric: 'points', window: { kind: 'calendar_year' }, graceDays: 30,
    tiers: [
      { code: 'member', name: 'Member', threshold: 0 },
      { code: 'silver', name: 'Silver', threshold: 500, benefits: { earnMultiplier: '1.5', upgradeBonus: 50, flags: ['free_shipping'] } },
      { code: 'gold', name: 'Gold', threshold: 2000, benefits: { earnMultiplier: '2', upgradeBonus: 200, flags: ['free_shipping', 'early_access'] } },
      { code: 'platinum', name: 'Platinum', threshold: 5000, benefits: { earnMultiplier: '3', upgradeBonus: 500, flags: ['free_shipping', 'early_access', 'barista_line'] } },
    ],
  } });
  await call('deleteTierLadder', { key: keys.admin, params: { programId } });
  await call('deleteGrading', { key: keys.admin, params: { programId } });
  await refused('recomputeGrades', 409, { key: keys.admin, params: { programId } });
  await call('updateWebhookEndpoint', { key: keys.admin, params: { endpointId }, body: { enabled: false } });
  await refused('testWebhookEndpoint', 409, { key: keys.admin, params: { endpointId } });
  await call('deleteWebhookEndpoint', { key: keys.admin, params: { endpointId } });
  await call('eraseMember', { key: keys.admin, params: { memberId: danaId } });
  await refused('suspendMember', 409, { key: keys.admin, params: { memberId: danaId } });
  await refused('reactivateMember', 409, { key: keys.admin, params: { memberId: danaId } });
  await refused('getMemberReferral', 409, { key: keys.read, params: { memberId: danaId } });

  // the console: its own reads, users, sessions and the audit log of what the tour wrote
  await call('getProgramDashboard', { key: keys.read, params: { programId }, query: { days: 90 } });

  // analytics: settings (a 10% holdout, a 40% margin), then each report over the last 90 days
  await call('updateAnalyticsSettings', { key: keys.admin, params: { programId }, body: { controlShareBp: 1000, grossMarginBp: 4000 } },
    { 400: [{ key: keys.admin, params: { programId }, body: { controlShareBp: 9000 } }] });
  await call('getAnalyticsSettings', { key: keys.read, params: { programId } });
  await call('getAnalyticsOverview', { key: keys.read, params: { programId } },
    { 400: [{ key: keys.read, params: { programId }, query: { from: '2026-12-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }] });
  await call('getAnalyticsPoints', { key: keys.read, params: { programId }, query: { bucket: 'week' } },
    { 400: [{ key: keys.read, params: { programId }, query: { bucket: 'year' } }] });
  await call('getAnalyticsTiers', { key: keys.read, params: { programId } });
  await call('getAnalyticsCohorts', { key: keys.read, params: { programId } });
  await call('getAnalyticsRewards', { key: keys.read, params: { programId } });
  await call('getAnalyticsRoi', { key: keys.read, params: { programId } });
  await call('searchMembers', { key: keys.read, query: { q: 'CARD-0001' } });
  await call('listMemberLots', { key: keys.read, params: { memberId: alice } });
  await call('checkRuleCondition', { key: keys.admin, body: { condition: 'member.tierr == "gold"' } });
  const user = await call('createUser', { key: keys.admin, body: { email: 'sam@example.com', name: 'Sam Support', role: 'support', password: 'a long enough password' } },
    { 409: [{ key: keys.admin, body: { email: 'sam@example.com', name: 'Sam again', role: 'viewer', password: 'a long enough password' } }] });
  await call('listUsers', { key: keys.admin });
  const owner = (await send(op('createUser'), { key: keys.admin, body: { email: 'olivia@example.com', name: 'Olivia Owner', role: 'owner', password: 'a long enough password' } })).json() as { userId: string };
  await call('updateUser', { key: keys.admin, params: { userId: user.userId as string }, body: { role: 'marketer' } },
    { 409: [{ key: keys.admin, params: { userId: owner.userId }, body: { role: 'viewer' } }] });
  await call('signIn', { body: { email: 'sam@example.com', password: 'a long enough password' } },
    { 401: [{ body: { email: 'sam@example.com', password: 'not the password' } }] });
  const signedIn = await send(op('signIn'), { body: { email: 'sam@example.com', password: 'a long enough password' } });
  const cookie = String(signedIn.headers['set-cookie']).split(';')[0]!;
  await call('getSession', { cookie }, { 401: [{ cookie: 'laurel_session=an-ended-or-unknown-session-token' }] });
  await call('signOut', { cookie });
  await call('listAuditLog', { key: keys.admin, query: { limit: 5 } });

  // engagement: a recognition program, surveys and NPS, households
  const kudos = await createProgram(laurel, t, {
    name: 'Kudos', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'write_off',
    wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'giving', kind: 'qualifying' }],
  });
  const staffer = async (externalId: string, team: string) =>
    (await createMember(laurel, t, { programId: kudos.programId, externalId, attributes: { team } })).memberId;
  const [ines, omar, lea] = [await staffer('ines', 'stores'), await staffer('omar', 'stores'), await staffer('lea', 'support')];
  const kudosId = kudos.programId;
  await call('setRecognition', { key: keys.admin, params: { programId: kudosId }, body: {
    allowance: 500, period: 'month', carryOver: false, maxGift: 300, approvalThreshold: 200, values: ['teamwork', 'customer-first', 'ownership'],
  } }, { 400: [{ key: keys.admin, params: { programId: kudosId }, body: { allowance: 500, period: 'month', values: ['teamwork'], givingWallet: 'nope' } }] });
  await call('getRecognition', { key: keys.read, params: { programId: kudosId } });
  await call('listRecognitionPrograms', { key: keys.read });
  await call('issueAllowances', { key: keys.admin, params: { programId: kudosId } });
  const pendingGift = await call('giveRecognition', { key: keys.pos, params: { memberId: ines }, body: { receiverId: lea, amount: 250, message: 'Fixed the till outage on a Saturday', value: 'ownership' } }, {
    400: [{ key: keys.pos, params: { memberId: ines }, body: { receiverId: ines, amount: 50, message: 'Me!', value: 'teamwork' } }],
    422: [{ key: keys.pos, params: { memberId: ines }, body: { receiverId: omar, amount: 300, message: 'More than is left', value: 'teamwork' } }],
  });
  await call('giveRecognition', { key: keys.pos, params: { memberId: omar }, body: { receiverId: ines, amount: 120, message: 'Thanks for covering my shift', value: 'teamwork' } });
  const toDecline = await call('giveRecognition', { key: keys.pos, params: { memberId: lea }, body: { receiverId: omar, amount: 210, message: 'Great week', value: 'customer-first' } });
  const giftId = (pendingGift.gift as { giftId: string }).giftId;
  await call('approveGift', { key: keys.admin, params: { giftId }, body: { note: 'well deserved' } });
  await call('declineGift', { key: keys.admin, params: { giftId: (toDecline.gift as { giftId: string }).giftId }, body: { note: 'give it in smaller gifts' } });
  await call('getGift', { key: keys.read, params: { giftId } });
  await call('listGifts', { key: keys.read, params: { programId: kudosId }, query: { limit: 5 } });
  await call('getRecognitionFeed', { key: keys.read, params: { memberId: omar }, query: { limit: 5 } });
  await call('getRecognitionLeaderboard', { key: keys.read, params: { programId: kudosId } });
  await call('getGivingReport', { key: keys.read, params: { programId: kudosId }, query: { attribute: 'team' } });

  for (const [i, [who, score, comment, channel]] of ([[alice, 10, 'The app is quick', 'app'], [bob, 6, 'Queue too long at noon', 'store'], [carol, 8, '', 'store']] as const).entries()) {
    await call('sendEvent', { key: keys.pos, body: { programId, memberId: who, externalId: `survey-${i}`, type: 'survey_response', channel, attributes: comment ? { score, comment } : { score } } });
  }
  await call('getNps', { key: keys.read, params: { programId }, query: { period: 'month' } }, {
    400: [{ key: keys.read, params: { programId }, query: { period: 'decade' } }],
  });
  await call('listNpsComments', { key: keys.read, params: { programId }, query: { maxScore: 10 } });

  const household = await call('createHousehold', { key: keys.pos, body: { programId, name: 'The Martins' } });
  const householdId = household.householdId as string;
  const other = await call('createHousehold', { key: keys.pos, body: { programId, name: 'Next door' } });
  await call('putHouseholdMember', { key: keys.pos, params: { householdId, memberId: bob }, body: { canSpend: true } }, {
    409: [{ key: keys.pos, params: { householdId: other.householdId as string, memberId: bob }, body: { canSpend: true } }],
  });
  await call('putHouseholdMember', { key: keys.pos, params: { householdId, memberId: carol }, body: { canSpend: false } });
  await call('getHousehold', { key: keys.read, params: { householdId } });
  await call('listHouseholds', { key: keys.read, params: { programId }, query: { limit: 5 } });
  await call('getMemberHousehold', { key: keys.read, params: { memberId: carol } });
  await call('spendFromHousehold', { key: keys.pos, params: { householdId }, body: { memberId: bob, amount: 50, ref: 'order-2101' } }, {
    409: [{ key: keys.pos, params: { householdId }, body: { memberId: carol, amount: 50 } }],
  });
  await call('listHouseholdJournal', { key: keys.read, params: { householdId }, query: { limit: 5 } });
  await call('removeHouseholdMember', { key: keys.pos, params: { householdId, memberId: carol } });

  // A database outage: the same app on a database that cannot be reached (nothing listens on port
  // 1) answers each operation 503. An API key is looked up before anything else, so any request
  // will do; the operator's operations check their key without the database, so they get a valid one.
  const { db: unreachable, close } = await openDatabase({ databaseUrl: 'postgres://laurel@127.0.0.1:1/unreachable', poolSize: 1, preparedStatements: false });
  const outage = await buildApp({ ...laurel, db: unreachable }, { logger: false, rateLimitPerMinute: 1_000_000 });
  try {
    for (const o of operations.values()) {
      if (!o.statuses.includes(503) || has(o, 503)) continue;
      const params = Object.fromEntries([...o.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name!, uuidv7()]));
      const operator = ['createTenant', 'listJobs', 'listJobRuns'].includes(o.id);
      const body = o.id === 'createTenant' ? { name: 'Acme Coffee', timeZone: 'Europe/Paris', currency: 'EUR' }
        : o.id === 'receiveStripeEvent' ? { id: 'evt_1', type: 'invoice.paid', created: 1, data: { object: {} } }
          : o.method === 'GET' || o.method === 'DELETE' ? undefined : {};
      // Stripe's webhook has no key: the program it is for is in its query
      const query = o.id === 'receiveStripeEvent' ? { programId: uuidv7() } : undefined;
      // the console's session: its credentials are a password or a cookie, not a key
      const session: Record<string, Req> = { signIn: { body: { email: 'sam@example.com', password: 'a long enough password' } }, getSession: { cookie }, signOut: { cookie } };
      const r = await send(o, session[o.id] ?? { params, key: operator ? OPERATOR_KEY : keys.admin, body, ...(query ? { query } : {}) }, outage);
      if (r.statusCode === 503) keep(o, 503, r.json());
    }
  } finally {
    await outage.close();
    await close();
  }

  const missing: string[] = [];
  for (const o of operations.values()) for (const s of o.statuses) if (!has(o, s)) missing.push(`${o.id} ${s}`);
  return { examples, missing };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { examples, missing } = await runTour();
  const dir = new URL('../src/http/examples/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(dir)) if (file.endsWith('.json')) rmSync(new URL(file, dir));
  for (const [id, byStatus] of Object.entries(examples)) {
    const sorted = Object.fromEntries(Object.entries(byStatus).sort(([a], [b]) => Number(a) - Number(b)));
    writeFileSync(new URL(`${id}.json`, dir), `${JSON.stringify(sorted, null, 2)}\n`);
  }
  console.log(`${Object.keys(examples).length} operations, ${Object.values(examples).reduce((n, e) => n + Object.keys(e).length, 0)} answers written to src/http/examples/`);
  if (missing.length) {
    console.error(`not reached: ${missing.join(', ')}`);
    process.exitCode = 1;
  }
}
