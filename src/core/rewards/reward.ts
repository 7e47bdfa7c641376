// A reward of the catalog (SPEC §6): what it gives, what it costs, and who may redeem it when.
// This module holds the shapes and checks every field before a reward is saved.
import { invalid } from '../errors.js';
import { MAX_MONEY } from '../events/event.js';
import { integerIn } from '../events/rate.js';
import { dateTime, isObject, names, only, optional, text, validityWindow, type Input } from '../input.js';
import { MAX_POINTS } from '../points.js';
import { checkCondition } from '../rules/conditions.js';
import { parseDecimal, show } from '../rules/money.js';
import { validateCaps, type MemberCap } from '../rules/rule.js';

export type RewardType =
  | 'fixed_discount' | 'percent_discount' | 'free_product' | 'free_shipping'
  | 'store_credit' | 'experience' | 'donation' | 'partner_voucher';

export const REWARD_TYPES: readonly RewardType[] = [
  'fixed_discount', 'percent_discount', 'free_product', 'free_shipping', 'store_credit', 'experience', 'donation', 'partner_voucher',
];

/** What the reward gives; money in minor units. */
export type RewardValue =
  | { type: 'fixed_discount'; amount: bigint }
  /** percent as exact decimal text ("15", "12.5"); cap: the most it takes off, null: no cap */
  | { type: 'percent_discount'; percent: string; cap: bigint | null }
  | { type: 'free_product'; sku: string }
  | { type: 'free_shipping' }
  /** credited into the money wallet at once: the instance is used when it is issued */
  | { type: 'store_credit'; amount: bigint; wallet: string }
  | { type: 'experience'; startsAt: Date; location: string | null }
  /** the points become a donation of `amount` to `charity`, reported; used when issued */
  | { type: 'donation'; amount: bigint; charity: string }
  /** the instance carries one of the partner's imported codes */
  | { type: 'partner_voucher'; partner: string };

/** Rewards used the moment they are issued: nothing for a shop to consume. */
export const USED_ON_ISSUE: ReadonlySet<RewardType> = new Set(['store_credit', 'donation']);

export interface RewardDefinition {
  /** the program's own code for it: rewardAccess of tiers names it */
  code: string;
  name: string;
  description: string | null;
  imageUrl: string | null;
  value: RewardValue;
  /** points it costs */
  cost: bigint;
  /** redeemable in [validFrom, validTo) */
  validFrom: Date | null;
  validTo: Date | null;
  /** instances it may ever issue (cancellations give back); null: unlimited. An experience's capacity. */
  stock: bigint | null;
  /** per member and period: at most `times` instances and/or `points` spent on it */
  perMember: MemberCap[];
  /** only members of these tiers / grades; null: any */
  tiers: string[] | null;
  grades: string[] | null;
  /** a CEL condition over `member` (and `time`), as rule conditions read them: a segment */
  segment: string | null;
  /** only through these channels (web, app, store); null: any */
  channels: string[] | null;
  /** an issued instance is valid this many days; null: until used */
  expiresAfterDays: number | null;
  enabled: boolean;
}

export interface Reward extends RewardDefinition {
  rewardId: string;
  programId: string;
}

export const REWARD_CODE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const MAX_DAYS = 3650;

const money = (value: unknown, field: string): bigint => integerIn(value, 1n, MAX_MONEY, field);

function validateValue(value: unknown, wallets: ReadonlySet<string>): RewardValue {
  if (!isObject(value)) throw invalid('value', 'value must be an object with a type');
  const type = value.type as RewardType;
  if (!REWARD_TYPES.includes(type)) throw invalid('value.type', `value.type must be one of ${REWARD_TYPES.join(', ')}`);
  const fields = (...allowed: string[]) => only(value, ['type', ...allowed], 'value.');
  switch (type) {
    case 'fixed_discount':
      fields('amount');
      return { type, amount: money(value.amount, 'value.amount') };
    case 'percent_discount': {
      fields('percent', 'cap');
      const percent = parseDecimal(value.percent, 'value.percent', { numerator: 1n, denominator: 100n }, { numerator: 100n, denominator: 1n });
      return { type, percent: show(percent), cap: optional(value.cap, (v) => money(v, 'value.cap')) };
    }
    case 'free_product':
      fields('sku');
      return { type, sku: text(value.sku, 'value.sku', 200) };
    case 'free_shipping':
      fields();
      return { type };
    case 'store_credit': {
      fields('amount', 'wallet');
      const wallet = text(value.wallet, 'value.wallet', 32);
      if (!wallets.has(wallet)) throw invalid('value.wallet', `the program has no wallet ${wallet}`);
      return { type, amount: money(value.amount, 'value.amount'), wallet };
    }
    case 'experience': {
      fields('startsAt', 'location');
      const startsAt = dateTime(value.startsAt, 'value.startsAt');
      if (!startsAt) throw invalid('value.startsAt', 'value.startsAt is required: when the experience takes place');
      return { type, startsAt, location: optional(value.location, (v) => text(v, 'value.location', 200)) };
    }
    case 'donation':
      fields('amount', 'charity');
      return { type, amount: money(value.amount, 'value.amount'), charity: text(value.charity, 'value.charity', 200) };
    case 'partner_voucher':
      fields('partner');
      return { type, partner: text(value.partner, 'value.partner', 200) };
  }
}

function codes(value: unknown, field: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > 50) throw invalid(field, `${field} must be a list of 1 to 50 codes`);
  return value.map((v, i) => {
    if (typeof v !== 'string' || !/^[a-z][a-z0-9_]{0,31}$/.test(v)) throw invalid(`${field}[${i}]`, `${field}[${i}] must be a tier or grade code`);
    return v;
  });
}

// A picture the portal and the console show from the brand's own site or CDN: http(s) only (never
// javascript: or data:), a host, no spaces; at most 2,000 characters.
function imageUrlOf(v: unknown): string {
  const problem = () => invalid('imageUrl', 'imageUrl must be an http or https URL of at most 2000 characters');
  if (typeof v !== 'string' || v.length > 2000 || /\s/.test(v)) throw problem();
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw problem();
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') throw problem();
  return v;
}

export const REWARD_FIELDS = [
  'code', 'name', 'description', 'imageUrl', 'value', 'cost', 'validFrom', 'validTo', 'stock', 'perMember', 'tiers', 'grades', 'segment',
  'channels', 'expiresAfterDays', 'enabled',
] as const;

/** Checks a reward as a client wrote it and returns it normalised; every problem names its field. */
export function validateReward(input: unknown, env: { wallets: ReadonlySet<string> }): RewardDefinition {
  if (!isObject(input)) throw invalid('reward', 'a reward is an object');
  only(input, REWARD_FIELDS, '');
  if (typeof input.code !== 'string' || !REWARD_CODE.test(input.code)) {
    throw invalid('code', 'code must be 1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit');
  }
  const value = validateValue(input.value, env.wallets);
  const stock = optional(input.stock, (v) => integerIn(v, 0n, MAX_POINTS, 'stock'));
  if (value.type === 'experience' && stock === null) throw invalid('stock', 'an experience has a capacity: give its stock');
  const segment = optional(input.segment, (v) => text(v, 'segment', 4000));
  if (segment !== null) checkCondition(segment, 'segment');
  const imageUrl = optional(input.imageUrl, imageUrlOf);
  const enabled = input.enabled ?? true;
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  return {
    code: input.code,
    name: text(input.name, 'name', 200),
    description: optional(input.description, (v) => text(v, 'description', 4000)),
    imageUrl,
    value,
    cost: integerIn(input.cost, 1n, MAX_POINTS, 'cost'),
    ...validityWindow(input as Input, ''),
    stock,
    perMember: validateCaps(input.perMember, 'perMember'),
    tiers: codes(input.tiers, 'tiers'),
    grades: codes(input.grades, 'grades'),
    segment,
    channels: names(input.channels, 'channels'),
    expiresAfterDays: input.expiresAfterDays === undefined ? 30 : optional(input.expiresAfterDays, (v) => Number(integerIn(v, 1n, BigInt(MAX_DAYS), 'expiresAfterDays'))),
    enabled,
  };
}
