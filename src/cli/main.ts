#!/usr/bin/env node
// `laurel`: the one command for operators. Each subcommand opens the database from the
// environment (DATABASE_URL, or PGlite in LAUREL_DATA_DIR), does one thing, and exits.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { formatReport, verifyLedger } from '../db/verify.js';
import { settleDue } from '../db/settlement.js';
import { openLaurel, type Laurel } from '../services/context.js';
import { hasData, seedDemo } from '../services/demo.js';
import { getBalance } from '../services/ledger.js';

const USAGE = `usage: laurel <command> [options]

commands:
  serve             migrate, create the demo program on an empty database, run the scheduled
                    settlement (maturation, expiry, hold release) and answer GET /healthz on PORT
  migrate           apply the database migrations that are not applied yet
  verify [--tenant ID]
                    recompute balances and lots from the journal; exit 1 on any difference
  settle            mature, expire and release everything due now, once
  demo              create the demo program (on any database)

environment:
  DATABASE_URL      postgres://… (default: embedded PGlite)
  LAUREL_DATA_DIR   PGlite data directory (default ./data)
  PORT              HTTP port for serve (default 3000)
  LAUREL_SETTLE_INTERVAL_SECONDS  how often serve settles (default 60)`;

async function withLaurel<T>(fn: (laurel: Laurel) => Promise<T>): Promise<T> {
  const laurel = await openLaurel();
  try {
    return await fn(laurel);
  } finally {
    await laurel.close();
  }
}

async function printDemo(laurel: Laurel): Promise<void> {
  const demo = await seedDemo(laurel);
  console.log(`demo tenant  ${demo.tenant.name}  ${demo.tenant.tenantId}`);
  console.log(`demo program ${demo.program.name}  ${demo.program.programId}`);
  for (const m of demo.members) {
    const b = await getBalance(laurel, demo.tenant.tenantId, m.memberId);
    console.log(`  ${m.name.padEnd(6)} ${m.memberId}  available ${b.available}  pending ${b.pending}`);
  }
}

async function serve(): Promise<void> {
  const laurel = await openLaurel();
  console.log(`laurel: database ready (${laurel.engine})`);
  if (!(await hasData(laurel))) await printDemo(laurel);
  const intervalMs = Number(process.env.LAUREL_SETTLE_INTERVAL_SECONDS ?? 60) * 1000;
  let settling = Promise.resolve();
  const timer = setInterval(() => {
    settling = settleDue(laurel.db, laurel.clock.now()).then(() => undefined, (e) => console.error('laurel: settlement failed', e));
  }, intervalMs);
  const server = createServer((req, res) => {
    const healthy = req.url === '/healthz';
    res.writeHead(healthy ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(healthy ? { status: 'ok', engine: laurel.engine } : { error: 'not found' }));
  });
  const port = Number(process.env.PORT ?? 3000);
  server.listen(port, () => console.log(`laurel: listening on http://localhost:${port}/healthz`));
  const stop = () => {
    clearInterval(timer);
    server.close(async () => {
      await settling;
      await laurel.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, allowPositionals: true });
  switch (command) {
    case 'serve':
      await serve();
      return -1;
    case 'migrate':
      await withLaurel(async () => console.log('migrations applied'));
      return 0;
    case 'verify':
      return withLaurel(async (laurel) => {
        const report = await verifyLedger(laurel.db, laurel.clock.now(), values.tenant ?? null);
        console.log(formatReport(report));
        return report.ok ? 0 : 1;
      });
    case 'settle':
      return withLaurel(async (laurel) => {
        const r = await settleDue(laurel.db, laurel.clock.now());
        console.log(`settled ${r.wallets} wallets: ${r.lotsMatured} lots matured, ${r.lotsExpired} lots expired (${r.pointsExpired} points), ${r.holdsReleased} holds released, ${r.debtsRepaid} debt repayments`);
        return 0;
      });
    case 'demo':
      await withLaurel(printDemo);
      return 0;
    default:
      console.log(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
