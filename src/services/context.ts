// What every service receives: the database, the clock and the earning strategies rules may use.
// Built once per process (or per test).
import { systemClock, type Clock } from '../core/clock.js';
import { strategiesWith, type EarningStrategy, type Strategies } from '../core/rules/strategies.js';
import { connectionOptionsFromEnv, openDatabase, type ConnectionOptions, type Engine } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import type { Db } from '../db/schema.js';

export interface Laurel {
  db: Db;
  engine: Engine;
  clock: Clock;
  /** the built-in earning strategies and the brand's own */
  strategies: Strategies;
  close(): Promise<void>;
}

export interface Extensions {
  /** a brand's own reward calculations, usable as rule effects next to the built-in ones */
  strategies?: readonly EarningStrategy<unknown>[];
}

export async function openLaurel(options: ConnectionOptions = connectionOptionsFromEnv(), clock: Clock = systemClock,
  extensions: Extensions = {}): Promise<Laurel> {
  const strategies = strategiesWith(extensions.strategies);
  const { db, engine, close } = await openDatabase(options);
  await migrate(db);
  return { db, engine, clock, strategies, close };
}
