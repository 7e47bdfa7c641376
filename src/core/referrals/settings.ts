// A program's referral settings: whether referrals run, the link members share, what a referee
// must do to qualify (a CEL condition over their event, within N days of joining), what each side
// gets (points through the ledger and/or a reward instance from the catalog) and the caps per referrer.
import { checkCondition, readsStats } from '../rules/conditions.js';
import { invalid } from '../errors.js';
import { isUuid } from '../ids.js';
import { only, type Input } from '../input.js';
import { MAX_POINTS } from '../points.js';

export type CapPeriod = 'day' | 'week' | 'month' | 'year';
export const CAP_PERIODS: readonly CapPeriod[] = ['day', 'week', 'month', 'year'];

export interface SideReward {
  /** points earned into the points wallet: pending until the qualifying order's return window passes */
  points: bigint;
  /** a catalog reward issued free of charge; null: none */
  rewardId: string | null;
}

export interface ReferralSettings {
  enabled: boolean;
  /** the page a shared link opens; the code goes in its `ref` query parameter, or in place of `{code}` */
  linkBaseUrl: string;
  /** CEL over the referee's event (the facts of earning rules, without member.stats) */
  condition: string;
  /** days after joining in which the referee must qualify; null: no limit */
  withinDays: number | null;
  referrer: SideReward;
  referee: SideReward;
  caps: {
    /** referrals a referrer may be paid for per calendar period (tenant time zone); null: no cap */
    perPeriod: { count: number; period: CapPeriod } | null;
    /** referrals a referrer may be paid for ever; null: no cap */
    lifetime: number | null;
  };
}

export const DEFAULT_CONDITION = 'event.type == "purchase"';

function object(value: unknown, field: string): Input {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, `${field} must be an object`);
  return value as Input;
}

function count(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw invalid(field, `${field} must be an integer from 1 to ${max}`);
  return value;
}

function side(value: unknown, field: string): SideReward {
  if (value === undefined) return { points: 0n, rewardId: null };
  const s = object(value, field);
  only(s, ['points', 'rewardId'], `${field}.`);
  const raw = s.points ?? 0;
  if ((typeof raw !== 'number' && typeof raw !== 'bigint') || (typeof raw === 'number' && !Number.isInteger(raw))
    || BigInt(raw) < 0n || BigInt(raw) > MAX_POINTS) {
    throw invalid(`${field}.points`, `${field}.points must be an integer from 0 to ${MAX_POINTS}`);
  }
  const rewardId = s.rewardId ?? null;
  if (rewardId !== null && (typeof rewardId !== 'string' || !isUuid(rewardId))) throw invalid(`${field}.rewardId`, `${field}.rewardId must be a reward id`);
  return { points: BigInt(raw), rewardId: rewardId === null ? null : rewardId.toLowerCase() };
}

function linkBase(value: unknown): string {
  if (typeof value !== 'string' || value.length > 500) throw invalid('linkBaseUrl', 'linkBaseUrl must be an https URL such as https://shop.example/join');
  let url: URL;
  try {
    url = new URL(value.replace('{code}', 'CODE'));
  } catch {
    throw invalid('linkBaseUrl', 'linkBaseUrl must be an https URL such as https://shop.example/join');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('linkBaseUrl', 'linkBaseUrl must be an http(s) URL');
  return value;
}

/** Refuses anything malformed, naming the field; fills the defaults. */
export function validateReferralSettings(input: unknown): ReferralSettings {
  const s = object(input, 'body');
  only(s, ['enabled', 'linkBaseUrl', 'condition', 'withinDays', 'referrer', 'referee', 'caps'], '');
  if (typeof s.enabled !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  const condition = s.condition ?? DEFAULT_CONDITION;
  if (typeof condition !== 'string' || condition.trim() === '' || condition.length > 2000) throw invalid('condition', 'condition must be a CEL expression of at most 2000 characters');
  checkCondition(condition, 'condition');
  // Stats cost a query per event and would count the qualifying purchase itself; "the first
  // qualifying event" is what a referral means anyway: it qualifies once.
  if (readsStats(condition)) throw invalid('condition', 'condition may not read member.stats: a referral qualifies on the first event that meets it');
  const withinDays = s.withinDays === undefined || s.withinDays === null ? null : count(s.withinDays, 'withinDays', 3650);
  const caps = s.caps === undefined || s.caps === null ? {} : object(s.caps, 'caps');
  only(caps, ['perPeriod', 'lifetime'], 'caps.');
  let perPeriod: ReferralSettings['caps']['perPeriod'] = null;
  if (caps.perPeriod !== undefined && caps.perPeriod !== null) {
    const p = object(caps.perPeriod, 'caps.perPeriod');
    only(p, ['count', 'period'], 'caps.perPeriod.');
    if (!CAP_PERIODS.includes(p.period as CapPeriod)) throw invalid('caps.perPeriod.period', `caps.perPeriod.period must be one of ${CAP_PERIODS.join(', ')}`);
    perPeriod = { count: count(p.count, 'caps.perPeriod.count', 1_000_000), period: p.period as CapPeriod };
  }
  const lifetime = caps.lifetime === undefined || caps.lifetime === null ? null : count(caps.lifetime, 'caps.lifetime', 1_000_000);
  return {
    enabled: s.enabled, linkBaseUrl: linkBase(s.linkBaseUrl), condition, withinDays,
    referrer: side(s.referrer, 'referrer'), referee: side(s.referee, 'referee'), caps: { perPeriod, lifetime },
  };
}

/** As stored (jsonb): points as decimal strings, so a bigint survives. */
export function settingsToJson(s: ReferralSettings): Record<string, unknown> {
  const sideJson = (x: SideReward) => ({ points: x.points.toString(), rewardId: x.rewardId });
  return { ...s, referrer: sideJson(s.referrer), referee: sideJson(s.referee) };
}

export function settingsFromJson(json: unknown): ReferralSettings {
  const s = json as ReferralSettings & { referrer: { points: string }; referee: { points: string } };
  return { ...s, referrer: { ...s.referrer, points: BigInt(s.referrer.points) }, referee: { ...s.referee, points: BigInt(s.referee.points) } };
}

/** The link a member shares. */
export function referralLink(base: string, code: string): string {
  if (base.includes('{code}')) return base.replace('{code}', encodeURIComponent(code));
  const url = new URL(base);
  url.searchParams.set('ref', code);
  return url.toString();
}
