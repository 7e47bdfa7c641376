// Events as they arrive: a purchase, a return, or a custom action of the brand. Each is checked
// and normalised here — integers as bigint, every bad field named — before anything is stored.
import { invalid } from '../errors.js';
import type { PurchaseLine, ReturnLine } from './purchase.js';
import { goodsOf } from './purchase.js';
import { EVENT_TYPE, integerIn } from './rate.js';

/** Largest amount of money (minor units) one order, line or refund may carry: far inside bigint and JSON integers. */
export const MAX_MONEY = 1_000_000_000_000n;
export const MAX_QUANTITY = 1_000_000n;
export const MAX_LINES = 500;

/** An event as stored: what it was, whose, and the points it earned (> 0) or took back (< 0). */
export interface EventRecord {
  eventId: string;
  programId: string;
  memberId: string;
  externalId: string;
  type: string;
  kind: NormalisedEvent['kind'];
  occurredAt: Date;
  channel: string | null;
  location: string | null;
  currency: string | null;
  orderId: string | null;
  lines: PurchaseLine[] | ReturnLine[] | null;
  /** purchase: the money paid, which earns */
  total: bigint | null;
  paidWithPoints: bigint | null;
  /** return: the purchase it refunds, and the money it refunded */
  purchaseEventId: string | null;
  purchaseExternalId: string | null;
  refundAmount: bigint | null;
  attributes: Record<string, unknown>;
  /** points earned (> 0) or taken back (< 0) in the program's points wallet */
  points: bigint;
  /** the journal entries it wrote, one per wallet (points, store credit) */
  entries: EventEntry[];
  /** the points wallet's entry, when there is one */
  ledgerEntryId: string | null;
  /** purchase paid partly with points: the points its hold gave and the entry that took them */
  pointsPaid?: bigint | null;
  pointsEntryId?: string | null;
  /** which rules fired, with their inputs and amounts (a return: what it took back from each) */
  explanation: Explained[];
  createdAt: Date;
}

export interface EventEntry {
  wallet: string;
  entryId: string;
  /** > 0 earned, < 0 taken back */
  amount: bigint;
}

/** One rule's part in an event. */
export interface Explained {
  ruleId: string;
  version: number;
  name: string;
  campaignId: string | null;
  effect: string;
  wallet: string;
  /** what it awarded after limits (< 0: what a return took back) */
  points: bigint;
  /** what the effect computed before limits */
  uncapped: bigint;
  limitedBy: string[];
  detail: Record<string, string | number | boolean | bigint | null>;
}

export interface EventInput {
  externalId: string;
  type: string;
  occurredAt?: string | Date;
  channel?: string | null;
  location?: string | null;
  currency?: string | null;
  orderId?: string | null;
  attributes?: Record<string, unknown>;
  /** purchase: what was bought; return: what comes back */
  lines?: { sku: string; category?: string | null; quantity: number | bigint; unitPrice?: number | bigint; discount?: number | bigint }[];
  /** purchase: minor units paid with points, store credit or a reward */
  paidWithPoints?: number | bigint;
  /** purchase: the hold of points (placed at checkout) the order captures as payment */
  pointsHoldId?: string;
  /** return: the purchase it refunds */
  purchaseExternalId?: string;
  /** return: money refunded, instead of lines */
  refundAmount?: number | bigint;
}

interface Common {
  externalId: string;
  type: string;
  /** null: when it was received */
  occurredAt: Date | null;
  channel: string | null;
  location: string | null;
  currency: string | null;
  orderId: string | null;
  attributes: Record<string, unknown>;
}

export type NormalisedEvent =
  | (Common & { kind: 'purchase'; lines: PurchaseLine[]; paidWithPoints: bigint; pointsHoldId: string | null })
  | (Common & { kind: 'return'; purchaseExternalId: string; lines: ReturnLine[] | null; refundAmount: bigint | null })
  | (Common & { kind: 'action' });

const CURRENCY = /^[A-Z]{3}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** NUL and unpaired surrogates: valid in a JS string, refused by PostgreSQL text and jsonb. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const OLDEST = Date.UTC(1970, 0, 1);
const MAX_ATTRIBUTES_CHARS = 16_384;
const MAX_ATTRIBUTES_DEPTH = 8;

export function storableText(value: string, field: string): string {
  if (value.includes('\0') || LONE_SURROGATE.test(value)) throw invalid(field, `${field} must not contain NUL characters or unpaired surrogates`);
  return value;
}

function text(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw invalid(field, `${field} must be text of 1 to ${max} characters`);
  return storableText(value, field);
}

/** Free-form JSON, small and shallow enough to store and index later, with storable strings only. */
function attributesOf(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('attributes', 'attributes must be an object');
  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_ATTRIBUTES_DEPTH) throw invalid('attributes', `attributes may nest at most ${MAX_ATTRIBUTES_DEPTH} levels`);
    if (typeof v === 'string') storableText(v, 'attributes');
    else if (typeof v === 'number' && !Number.isFinite(v)) throw invalid('attributes', 'attributes hold finite numbers only');
    else if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { storableText(k, 'attributes'); walk(x, depth + 1); }
  };
  walk(value, 1);
  if (JSON.stringify(value).length > MAX_ATTRIBUTES_CHARS) throw invalid('attributes', `attributes may take at most ${MAX_ATTRIBUTES_CHARS} characters as JSON`);
  return value as Record<string, unknown>;
}

function requiredText(value: unknown, field: string, max: number): string {
  const t = text(value, field, max);
  if (t === null) throw invalid(field, `${field} is required`);
  return t;
}

function occurredAt(value: unknown): Date | null {
  if (value === undefined) return null;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw invalid('occurredAt', 'occurredAt must be a date-time such as 2026-11-24T09:30:00Z');
  if (date.getTime() < OLDEST || date.getUTCFullYear() > 9999) throw invalid('occurredAt', 'occurredAt must be between 1970 and 9999');
  return date;
}

function lineList(value: unknown): unknown[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LINES) throw invalid('lines', `lines must be a list of 1 to ${MAX_LINES} lines`);
  return value;
}

function uniqueSkus(lines: { sku: string }[]): void {
  const seen = new Set<string>();
  lines.forEach((l, i) => {
    if (seen.has(l.sku)) throw invalid(`lines[${i}].sku`, `sku ${l.sku} appears twice: give one line per sku`);
    seen.add(l.sku);
  });
}

function purchaseLines(value: unknown): PurchaseLine[] {
  const lines = lineList(value).map((raw, i): PurchaseLine => {
    const l = (raw ?? {}) as Record<string, unknown>;
    const quantity = integerIn(l.quantity, 1n, MAX_QUANTITY, `lines[${i}].quantity`);
    if (l.unitPrice === undefined) throw invalid(`lines[${i}].unitPrice`, 'a purchased line needs its unitPrice');
    const unitPrice = integerIn(l.unitPrice, 0n, MAX_MONEY, `lines[${i}].unitPrice`);
    const discount = l.discount === undefined ? 0n : integerIn(l.discount, 0n, MAX_MONEY, `lines[${i}].discount`);
    if (discount > quantity * unitPrice) throw invalid(`lines[${i}].discount`, `discount must be at most quantity × unitPrice (${quantity * unitPrice})`);
    return { sku: requiredText(l.sku, `lines[${i}].sku`, 200), category: text(l.category, `lines[${i}].category`, 200), quantity, unitPrice, discount };
  });
  uniqueSkus(lines);
  lines.forEach((l, i) => {
    if (l.quantity * l.unitPrice > MAX_MONEY) throw invalid(`lines[${i}].quantity`, `a line may cost at most ${MAX_MONEY} minor units`);
  });
  if (goodsOf(lines) > MAX_MONEY) throw invalid('lines', `an order may cost at most ${MAX_MONEY} minor units`);
  return lines;
}

function returnLines(value: unknown): ReturnLine[] {
  const lines = lineList(value).map((raw, i): ReturnLine => {
    const l = (raw ?? {}) as Record<string, unknown>;
    for (const k of ['unitPrice', 'discount', 'category']) {
      if (l[k] !== undefined) throw invalid(`lines[${i}].${k}`, 'a returned line names only sku and quantity: prices come from the purchase');
    }
    return { sku: requiredText(l.sku, `lines[${i}].sku`, 200), quantity: integerIn(l.quantity, 1n, MAX_QUANTITY, `lines[${i}].quantity`) };
  });
  uniqueSkus(lines);
  return lines;
}

/** Fields that belong to one kind of event only. */
const ONLY: Record<string, NormalisedEvent['kind'][]> = {
  lines: ['purchase', 'return'], paidWithPoints: ['purchase'], pointsHoldId: ['purchase'], purchaseExternalId: ['return'], refundAmount: ['return'],
};

function refuseForeignFields(input: EventInput, kind: NormalisedEvent['kind']): void {
  for (const [field, owners] of Object.entries(ONLY)) {
    if ((input as unknown as Record<string, unknown>)[field] === undefined || owners.includes(kind)) continue;
    throw invalid(field, `${field} is only for a ${owners.join(' or ')} event`);
  }
}

export function normaliseEvent(input: EventInput): NormalisedEvent {
  if (typeof input !== 'object' || input === null) throw invalid('type', 'an event is an object');
  const externalId = requiredText(input.externalId, 'externalId', 200);
  if (typeof input.type !== 'string' || !EVENT_TYPE.test(input.type)) {
    throw invalid('type', 'type is purchase, return, or an action name: lower-case letters, digits and _ (at most 64), starting with a letter');
  }
  const currency = input.currency === undefined || input.currency === null ? null : input.currency;
  if (currency !== null && (typeof currency !== 'string' || !CURRENCY.test(currency))) throw invalid('currency', 'currency must be an ISO 4217 code such as EUR');
  const attributes = attributesOf(input.attributes);
  const common: Common = {
    externalId, type: input.type, occurredAt: occurredAt(input.occurredAt),
    channel: text(input.channel, 'channel', 64), location: text(input.location, 'location', 200),
    currency, orderId: text(input.orderId, 'orderId', 200), attributes,
  };
  const kind = input.type === 'purchase' ? 'purchase' : input.type === 'return' ? 'return' : 'action';
  refuseForeignFields(input, kind);
  if (kind === 'purchase') {
    if (input.lines === undefined) throw invalid('lines', 'a purchase needs its lines');
    const lines = purchaseLines(input.lines);
    const paidWithPoints = input.paidWithPoints === undefined ? 0n : integerIn(input.paidWithPoints, 0n, MAX_MONEY, 'paidWithPoints');
    if (paidWithPoints > goodsOf(lines)) throw invalid('paidWithPoints', `paidWithPoints must be at most the order's value (${goodsOf(lines)})`);
    const pointsHoldId = input.pointsHoldId === undefined || input.pointsHoldId === null ? null : requiredText(input.pointsHoldId, 'pointsHoldId', 36);
    if (pointsHoldId !== null && !UUID.test(pointsHoldId)) throw invalid('pointsHoldId', 'pointsHoldId must be the id of a hold');
    return { ...common, kind, lines, paidWithPoints, pointsHoldId };
  }
  if (kind === 'return') {
    const purchaseExternalId = requiredText(input.purchaseExternalId, 'purchaseExternalId', 200);
    if ((input.lines === undefined) === (input.refundAmount === undefined)) {
      throw invalid('lines', 'a return gives either the lines returned or a refundAmount');
    }
    return input.lines !== undefined
      ? { ...common, kind, purchaseExternalId, lines: returnLines(input.lines), refundAmount: null }
      : { ...common, kind, purchaseExternalId, lines: null, refundAmount: integerIn(input.refundAmount, 1n, MAX_MONEY, 'refundAmount') };
  }
  return { ...common, kind };
}
