// The facts a condition reads, built from the event, its basket, the member and the clock.
// Times are the tenant's local time at the moment the event occurred: a weekend promotion is the
// brand's weekend, wherever the server runs.
import type { Basket } from './basket.js';
import type { Facts } from './conditions.js';
import { NO_MEMBERSHIP, type MembershipFacts } from '../memberships/lifecycle.js';
import { isoDate, localTime } from '../zone.js';

export interface MemberStats {
  purchases: bigint;
  purchasesThisYear: bigint;
  purchasesThisMonth: bigint;
  spend: bigint;
  spendThisYear: bigint;
}

export const NO_STATS: MemberStats = { purchases: 0n, purchasesThisYear: 0n, purchasesThisMonth: 0n, spend: 0n, spendThisYear: 0n };

export interface FactsInput {
  event: {
    type: string;
    externalId: string;
    channel: string | null;
    location: string | null;
    orderId: string | null;
    occurredAt: Date;
    attributes: Record<string, unknown>;
    currency: string | null;
    paidWithPoints: bigint;
  };
  basket: Basket;
  member: {
    memberId: string;
    tier: string | null;
    /** the ladder's earnMultiplier for the member's tier; null: none */
    tierMultiplier?: string | null;
    grade: string | null;
    attributes: Record<string, unknown>;
    /** YYYY-MM-DD */
    birthday: string | null;
    enrolledAt: Date;
    /** the member's paid membership as it stands when the event occurred */
    membership?: MembershipFacts;
  };
  stats: MemberStats;
  timeZone: string;
}

/** What rules read of a member as stored (the tier multiplier and membership are added per event). */
export type MemberProfile = Omit<FactsInput['member'], 'tierMultiplier' | 'membership'>;

/** CEL numbers are bigint: JSON numbers in attributes become bigint when whole, stay double otherwise. */
function celValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  }
  return value;
}

export function factsOf(input: FactsInput): Facts {
  const { event, basket, member } = input;
  const local = localTime(event.occurredAt, input.timeZone);
  const birthday = member.birthday === null ? null : { month: Number(member.birthday.slice(5, 7)), day: Number(member.birthday.slice(8, 10)) };
  const days = Math.floor((event.occurredAt.getTime() - member.enrolledAt.getTime()) / 86_400_000);
  return {
    event: {
      type: event.type, externalId: event.externalId, channel: event.channel ?? '', location: event.location ?? '',
      orderId: event.orderId ?? '', attributes: celValue(event.attributes) as Record<string, unknown>,
    },
    order: orderFacts(basket, event.currency, event.paidWithPoints),
    member: {
      id: member.memberId, tier: member.tier ?? '', tierMultiplier: member.tierMultiplier ?? '', grade: member.grade ?? '',
      attributes: celValue(member.attributes) as Record<string, unknown>,
      daysSinceEnrolment: BigInt(Math.max(0, days)),
      birthdayToday: birthday !== null && birthday.month === local.month && birthday.day === local.day,
      birthdayThisMonth: birthday !== null && birthday.month === local.month,
      membership: member.membership ?? NO_MEMBERSHIP,
      stats: input.stats,
    },
    time: {
      year: BigInt(local.year), month: BigInt(local.month), day: BigInt(local.day), weekday: BigInt(local.weekday),
      hour: BigInt(local.hour), minute: BigInt(local.minute), date: isoDate(local), weekend: local.weekday >= 6,
    },
  };
}

function orderFacts(basket: Basket, currency: string | null, paidWithPoints: bigint): Facts['order'] {
  return {
    total: basket.paid, goods: basket.goods, paidWithPoints, currency: currency ?? '',
    quantity: basket.lines.reduce((s, l) => s + l.quantity, 0n),
    lines: basket.lines.map((l) => ({ sku: l.sku, category: l.category ?? '', quantity: l.quantity, unitPrice: l.unitPrice, discount: l.discount, net: l.net })),
    skus: basket.lines.map((l) => l.sku),
    categories: [...new Set(basket.lines.flatMap((l) => (l.category === null ? [] : [l.category])))],
  };
}

/** The same facts for what is left of the order after returns: a minimum-spend condition is asked again. */
export const withBasket = (facts: Facts, basket: Basket): Facts =>
  ({ ...facts, order: orderFacts(basket, facts.order.currency || null, facts.order.paidWithPoints) });
