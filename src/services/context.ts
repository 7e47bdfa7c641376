// What every service receives: the database, the clock, the earning strategies rules may use and
// the deployment's settings. Built once per process (or per test).
import { clockStartingAt, systemClock, type Clock } from '../core/clock.js';
import { strategiesWith, type EarningStrategy, type Strategies } from '../core/rules/strategies.js';
import { connectionOptionsFromEnv, openDatabase, type ConnectionOptions, type Engine } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import { batchSettingsFromEnv, type BatchSettings } from './ledger-batch.js';
import type { Db } from '../db/schema.js';

export interface Laurel {
  db: Db;
  engine: Engine;
  clock: Clock;
  /** the built-in earning strategies and the brand's own */
  strategies: Strategies;
  settings: Settings;
  close(): Promise<void>;
}

/** What the operator decides for the whole deployment (from the environment: settingsFromEnv). */
export interface Settings {
  /**
   * Webhook endpoints may point inside the deployment: loopback, private, link-local (cloud
   * metadata) and other non-public addresses, localhost, names resolving to them. Off by default:
   * any tenant admin registers endpoints, and Laurel's workers POST to them.
   */
  allowPrivateWebhooks: boolean;
  /** group commit of ledger operations (services/ledger-batch.ts); null: each in its own transaction */
  batch: BatchSettings | null;
  /**
   * How long a process trusts an API key it has looked up, in ms (0: every request looks it up).
   * A key revoked through this process stops at once; revoked through another, within this delay.
   */
  apiKeyCacheMs: number;
}

const MAX_API_KEY_CACHE_SECONDS = 300;

/** LAUREL_WEBHOOKS_ALLOW_PRIVATE=true|false (default false); any other value is refused, not guessed. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const allow = (env.LAUREL_WEBHOOKS_ALLOW_PRIVATE ?? '').trim().toLowerCase();
  if (allow !== '' && allow !== 'true' && allow !== 'false') {
    throw new Error(`LAUREL_WEBHOOKS_ALLOW_PRIVATE must be true or false, not ${JSON.stringify(env.LAUREL_WEBHOOKS_ALLOW_PRIVATE)}`);
  }
  return { allowPrivateWebhooks: allow === 'true', batch: batchSettingsFromEnv(env), apiKeyCacheMs: apiKeyCacheMsFromEnv(env) };
}

/** LAUREL_API_KEY_CACHE_SECONDS: 0 to 300, default 5. */
function apiKeyCacheMsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.LAUREL_API_KEY_CACHE_SECONDS?.trim();
  if (!raw) return 5000;
  const seconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || seconds > MAX_API_KEY_CACHE_SECONDS) {
    throw new Error(`LAUREL_API_KEY_CACHE_SECONDS must be a number of seconds from 0 to ${MAX_API_KEY_CACHE_SECONDS}, not ${JSON.stringify(env.LAUREL_API_KEY_CACHE_SECONDS)}`);
  }
  return seconds * 1000;
}

/**
 * LAUREL_CLOCK_START=2026-12-01T09:00:00Z starts the clock at that instant, running on from there:
 * the README's walkthroughs (and a demo of a given day) print the same figures whatever the real
 * date. Unset, the system clock. Never in production: every date Laurel writes would be shifted.
 */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const start = env.LAUREL_CLOCK_START?.trim();
  if (!start) return systemClock;
  const at = new Date(start);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(start) || Number.isNaN(at.getTime())) {
    throw new Error(`LAUREL_CLOCK_START must be an ISO 8601 instant such as 2026-12-01T09:00:00Z, not ${JSON.stringify(env.LAUREL_CLOCK_START)}`);
  }
  return clockStartingAt(at);
}

export interface Extensions {
  /** a brand's own reward calculations, usable as rule effects next to the built-in ones */
  strategies?: readonly EarningStrategy<unknown>[];
}

export async function openLaurel(options: ConnectionOptions = connectionOptionsFromEnv(), clock: Clock = clockFromEnv(),
  extensions: Extensions = {}, settings: Settings = settingsFromEnv()): Promise<Laurel> {
  const strategies = strategiesWith(extensions.strategies);
  const { db, engine, close } = await openDatabase(options);
  await migrate(db);
  return { db, engine, clock, strategies, settings, close };
}
