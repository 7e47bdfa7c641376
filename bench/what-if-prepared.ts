// What-if, not part of `npm run bench`: how much would plan caching give earn? Runs earn at one
// concurrency, alternating plain runs with runs where this process sends Laurel's three fixed hot
// statements (idempotency lookup, lock+load wallet, the earn-shaped write) as named prepared
// statements, so PostgreSQL plans them once per connection instead of on every call.
// Nothing in src/ changes: pg.Client#query is wrapped in this process only.
//   npx tsx bench/what-if-prepared.ts [concurrency=32] [rounds=4] [seconds=4]
import { createHash } from 'node:crypto';
import pg from 'pg';
import { openLaurel } from '../src/services/context.js';
import { ensureDatabase, withParam } from './database.js';
import { runEarn, type Connect } from './earn.js';
import { newFixture } from './fixtures.js';
import { DEFAULT_URL } from './options.js';
import { BackendCpu, classify } from './profile.js';
import { median } from './stats.js';

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

const [c = 32, rounds = 4, seconds = 4] = process.argv.slice(2).map(Number);
const url = process.env.DATABASE_URL || DEFAULT_URL;
const APP = 'laurel-bench-whatif';

let named = false;
const proto = pg.Client.prototype as unknown as { query: QueryFn };
const original = proto.query;
proto.query = function (this: pg.Client, ...args: unknown[]) {
  const [text, values] = args;
  if (named && typeof text === 'string' && args.length === 2) {
    const kind = classify(text);
    if (kind === 'lock+load wallet' || kind === 'idempotency lookup' || kind === 'write decision') {
      const name = `laurel_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      return original.call(this, { name, text, values });
    }
  }
  return original.apply(this, args);
};

await ensureDatabase(url, false);
const laurelUrl = withParam(url, 'application_name', APP);
const connect: Connect = (poolSize) => openLaurel({ databaseUrl: laurelUrl, poolSize });
const admin = await connect(2);
const fx = await newFixture(admin, `whatif${Date.now().toString(36)}`, 'what-if');
const results = { unnamed: [] as number[][], named: [] as number[][] };
for (let round = 0; round < rounds; round++) {
  for (const mode of round % 2 ? [true, false] : [false, true]) {
    named = mode;
    const cpu = new BackendCpu(url, APP);
    await cpu.start();
    const r = await runEarn(connect, fx, c, 1000, seconds * 1000, `w${round}${mode ? 'n' : 'u'}`);
    const s = await cpu.stop();
    const row = [r.perSecond, r.nodeCpuMsPerOp, (s.backendCpuSeconds * 1000) / r.completed];
    results[mode ? 'named' : 'unnamed'].push(row);
    process.stderr.write(`round ${round + 1} ${mode ? 'prepared' : 'plain   '}: ${row[0]!.toFixed(1)} earn/s, node ${row[1]!.toFixed(3)} ms/earn, server backends ${row[2]!.toFixed(3)} ms/earn\n`);
  }
}
await admin.close();
const med = (rows: number[][], i: number) => median(rows.map((r) => r[i]!));
for (const mode of ['unnamed', 'named'] as const) {
  const rows = results[mode];
  console.log(`${mode === 'named' ? 'prepared' : 'plain   '} c=${c}: ${med(rows, 0).toFixed(1)} earn/s, node CPU ${med(rows, 1).toFixed(3)} ms/earn, server backend CPU ${med(rows, 2).toFixed(3)} ms/earn (medians of ${rows.length})`);
}
