// earn through the service layer: N workers in this process, each looping `earn` on its own member
// (so no worker waits on another's balance-row lock), each call with a new idempotency key.
import type { Laurel } from '../src/services/context.js';
import { earn } from '../src/services/ledger.js';
import { newMembers, type Fixture } from './fixtures.js';
import { runLoad, type LoadResult } from './load.js';
import { log, sleep } from './stats.js';

export const EARN_AMOUNT = 10n;

/** Opens a Laurel whose pool has `poolSize` connections. */
export type Connect = (poolSize: number) => Promise<Laurel>;

export interface EarnRun extends LoadResult {
  members: string[];
}

/** The server refused a connection: too many clients (other processes share it). */
export const isTooManyClients = (e: unknown): boolean =>
  (e as { code?: string } | null)?.code === '53300' || /too many clients/i.test(String((e as Error | null)?.message));

/**
 * One measured run. It opens its own pool (concurrency + 2 connections) and closes it after, so
 * that no idle connection of ours sits on the server while pgbench runs.
 */
export async function runEarn(connect: Connect, fx: Fixture, concurrency: number, warmupMs: number, durationMs: number, label: string,
  /** called once the pool is open and the members made, just before the load starts */
  beforeLoad?: () => void): Promise<EarnRun> {
  for (let attempt = 1; ; attempt++) {
    const laurel = await connect(concurrency + 2);
    try {
      // Fresh members for every run: each starts with an empty wallet, as in the other runs.
      const members = await newMembers(laurel, fx, concurrency, `${label}-a${attempt}`);
      beforeLoad?.();
      const result = await runLoad({
        concurrency, warmupMs, durationMs,
        op: (w, seq) => earn(laurel, {
          tenantId: fx.tenantId, memberId: members[w]!, amount: EARN_AMOUNT,
          idempotencyKey: `bench-${fx.runId}-${label}-a${attempt}-${w}-${seq}`, ref: `order-${label}-${w}-${seq}`,
        }),
      });
      return { ...result, members };
    } catch (e) {
      if (!isTooManyClients(e) || attempt >= 5) throw e;
      log(`the server has too many clients; retrying the earn run in 3 s (attempt ${attempt})`);
      await sleep(3000);
    } finally {
      await laurel.close();
    }
  }
}
