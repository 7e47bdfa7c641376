// What every service receives: the database and the clock. Built once per process (or per test).
import { systemClock, type Clock } from '../core/clock.js';
import { connectionOptionsFromEnv, openDatabase, type ConnectionOptions, type Engine } from '../db/connection.js';
import { migrate } from '../db/migrate.js';
import type { Db } from '../db/schema.js';

export interface Laurel {
  db: Db;
  engine: Engine;
  clock: Clock;
  close(): Promise<void>;
}

export async function openLaurel(options: ConnectionOptions = connectionOptionsFromEnv(), clock: Clock = systemClock): Promise<Laurel> {
  const { db, engine, close } = await openDatabase(options);
  await migrate(db);
  return { db, engine, clock, close };
}
