// The HTTP load generator, run in a child process of its own (so that the client's work is not
// counted on the server's event loop): autocannon against a running Laurel, a warm-up run, then
// the measured run. Reads its spec as JSON in argv[2], writes its result as one JSON line.
//   earn:    POST /v1/events, a purchase with a new externalId every request
//   rules:   POST /v1/events, the 20-rule program's baskets in turn
//   balance: GET /v1/members/{id}/balances
// Both go round the given members, one after the other.
import autocannon, { type Request, type Results } from 'autocannon';
import { HTTP_PURCHASE_MINOR, type HttpLoadResult, type HttpLoadSpec } from './http-spec.js';

async function run(spec: HttpLoadSpec, seconds: number, label: string): Promise<Results> {
  let seq = 0;
  const headers = { authorization: `Bearer ${spec.key}`, 'content-type': 'application/json' };
  const setupRequest = (req: Request): Request => {
    const i = seq++;
    const memberId = spec.members[i % spec.members.length]!;
    if (spec.kind === 'balance') return { ...req, method: 'GET', path: `/v1/members/${memberId}/balances`, headers };
    const basket = spec.kind === 'rules' ? spec.baskets![i % spec.baskets!.length]! : null;
    return {
      ...req, method: 'POST', path: '/v1/events', headers,
      body: JSON.stringify({
        programId: spec.programId, externalId: `http-${spec.runId}-${label}-${i}`, type: 'purchase', memberId,
        ...(basket ?? { lines: [{ sku: 'BENCH-1', quantity: 1, unitPrice: HTTP_PURCHASE_MINOR }] }),
      }),
    };
  };
  return autocannon({
    url: spec.url, connections: spec.connections, duration: seconds, pipelining: 1,
    requests: [{ setupRequest }],
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as HttpLoadSpec;
  const cpu0 = process.cpuUsage();
  const warmup = spec.warmupSeconds > 0 ? await run(spec, spec.warmupSeconds, 'warmup') : null;
  const r = await run(spec, spec.seconds, 'measure');
  const cpu = process.cpuUsage(cpu0);
  const codes = (x: Results) => Object.fromEntries(Object.entries(x.statusCodeStats).map(([code, s]) => [code, s.count]));
  const ok = (x: Results) => Object.entries(codes(x)).filter(([code]) => code.startsWith('2')).reduce((a, [, n]) => a + n, 0);
  const result: HttpLoadResult = {
    requestsPerSecond: ok(r) / r.duration, p50Ms: r.latency.p50, p99Ms: r.latency.p99,
    ok: ok(r), non2xx: r.non2xx + (warmup?.non2xx ?? 0), errors: r.errors + r.timeouts + (warmup ? warmup.errors + warmup.timeouts : 0),
    statusCodes: codes(r), warmupOk: warmup ? ok(warmup) : 0, cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
