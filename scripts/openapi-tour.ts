// A tour of the whole API on the demo program: every operation is called, in process, until it
// has given each status its document promises, and the first answer of each is kept. The
// successes are the demo's own data; the errors are real problem+json answers (a bad field, no
// key, a key without the scope, an unknown id, a conflict, points short, the rate limit).
// `npm run openapi:examples` writes them to src/http/examples/<operationId>.json, which the
// document attaches to its responses (src/http/openapi.ts); test/openapi.test.ts runs the tour
// again and checks that it still reaches every status and that every answer fits its schema.
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
    const headers: Record<string, string> = {};
    if (req.key) headers.authorization = `Bearer ${req.key}`;
    if (req.cookie) headers.cookie = req.cookie;
    if (o.idempotent) headers['idempotency-key'] = req.idem ?? `tour-${++serial}`;
    return on.inject({
      method: o.method as 'GET', url: query ? `${url}?${query}` : url, headers, remoteAddress,
      ...(req.body !== undefined ? { payload: req.body as object } : {}),
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
    const body = r.body ? (r.json() as Record<string, unknown>) : {};
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

  // tiers
  await call('getTierLadder', { key: keys.read, params: { programId } });
  await call('getMemberTier', { key: keys.read, params: { memberId: alice } });
  await call('listTierHistory', { key: keys.read, params: { memberId: alice } });

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

  // webhooks
  const endpoint = await call('createWebhookEndpoint', {
    key: keys.admin, body: { url: 'https://hooks.example.com/laurel', description: 'order system', eventTypes: ['points.expiring', 'tier.changed'] },
  });
  const endpointId = endpoint.endpointId as string;
  await call('listWebhookEndpoints', { key: keys.admin });
  await call('getWebhookEndpoint', { key: keys.admin, params: { endpointId } });
  await call('updateWebhookEndpoint', { key: keys.admin, params: { endpointId }, body: { eventTypes: ['points.expiring', 'tier.changed', 'reward.issued'] } });
  await call('testWebhookEndpoint', { key: keys.admin, params: { endpointId } });
  await call('listWebhookDeliveries', { key: keys.admin, params: { endpointId } });

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

  // the console: its own reads, users, sessions and the audit log of what the tour wrote
  await call('getProgramDashboard', { key: keys.read, params: { programId }, query: { days: 90 } });
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
      const body = o.id === 'createTenant' ? { name: 'Acme Coffee', timeZone: 'Europe/Paris', currency: 'EUR' } : o.method === 'GET' || o.method === 'DELETE' ? undefined : {};
      // the console's session: its credentials are a password or a cookie, not a key
      const session: Record<string, Req> = { signIn: { body: { email: 'sam@example.com', password: 'a long enough password' } }, getSession: { cookie }, signOut: { cookie } };
      const r = await send(o, session[o.id] ?? { params, key: operator ? OPERATOR_KEY : keys.admin, body }, outage);
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
