// A closed-loop load generator: N async workers in this process, each awaiting its own operation
// in a loop. Operations that complete inside the measured window (after the warm-up) are counted.
import { performance } from 'node:perf_hooks';
import { quantile, sleep } from './stats.js';

export interface LoadResult {
  concurrency: number;
  ops: number;
  seconds: number;
  perSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this Node process (user + system) per counted operation */
  nodeCpuMsPerOp: number;
  /** operations completed in all, warm-up included */
  completed: number;
}

export interface LoadSpec {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** one operation of worker `worker`; `seq` counts that worker's operations from 0 */
  op: (worker: number, seq: number) => Promise<unknown>;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  let failure: unknown = null;
  let completed = 0;
  const latencies: number[] = [];

  const worker = async (w: number): Promise<void> => {
    for (let seq = 0; phase !== 'stop' && failure === null; seq++) {
      const start = performance.now();
      try {
        await spec.op(w, seq);
      } catch (e) {
        failure ??= e;
        return;
      }
      completed++;
      // Counted when it completes inside the window (a stop that came meanwhile excludes it).
      if (phase === 'measure') latencies.push(performance.now() - start);
    }
  };

  const workers = Array.from({ length: spec.concurrency }, (_, w) => worker(w));
  await sleep(spec.warmupMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  phase = 'measure';
  await sleep(spec.durationMs);
  phase = 'stop';
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const ops = latencies.length;
  await Promise.all(workers);
  if (failure !== null) throw failure;
  const seconds = (t1 - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency: spec.concurrency,
    ops,
    seconds,
    perSecond: ops / seconds,
    meanMs: ops ? latencies.reduce((a, b) => a + b, 0) / ops : Number.NaN,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    nodeCpuMsPerOp: ops ? (cpu.user + cpu.system) / 1000 / ops : Number.NaN,
    completed,
  };
}
