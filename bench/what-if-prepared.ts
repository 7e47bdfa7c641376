// Not part of `npm run bench`: how much plan caching gives earn. Runs earn at one concurrency,
// alternating runs with Laurel's prepared statements (the default, src/db/connection.ts) and runs
// with them off (LAUREL_PREPARED_STATEMENTS=false: every statement unnamed, planned on every call).
//   npx tsx bench/what-if-prepared.ts [concurrency=32] [rounds=4] [seconds=4]
import { openLaurel } from '../src/services/context.js';
import { ensureDatabase, withParam } from './database.js';
import { runEarn, type Connect } from './earn.js';
import { newFixture } from './fixtures.js';
import { DEFAULT_URL } from './options.js';
import { BackendCpu } from './profile.js';
import { median } from './stats.js';

const [c = 32, rounds = 4, seconds = 4] = process.argv.slice(2).map(Number);
const url = process.env.DATABASE_URL || DEFAULT_URL;
const APP = 'laurel-bench-whatif';

let named = true;
await ensureDatabase(url, false);
const laurelUrl = withParam(url, 'application_name', APP);
const connect: Connect = (poolSize) => openLaurel({ databaseUrl: laurelUrl, poolSize, preparedStatements: named });
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
