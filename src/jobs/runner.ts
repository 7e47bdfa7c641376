// The job runner: inside `laurel serve`, or alone as `laurel worker`, any number of them. Each
// poll claims one due job (SKIP LOCKED: workers never wait for each other), runs it, and records
// how it went; a failed run is retried with a growing backoff.
import { hostname } from 'node:os';
import { DomainError } from '../core/errors.js';
import { claimDueJob, ensureSchedules, failRun, finishRun, startManualRun } from '../db/jobs.js';
import type { Laurel } from '../services/context.js';
import { nextRun } from './cron.js';
import { BUILT_IN_JOBS, type Job, type Progress } from './registry.js';

const LEASE_MS = 30 * 60_000;
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 60 * 60_000;

export const workerName = (): string => `${hostname()}:${process.pid}`;

/** Backoff after the n-th consecutive failure: 30 s, 1 min, 2 min… at most an hour. */
export const retryDelayMs = (failures: number): number => Math.min(RETRY_BASE_MS * 2 ** Math.min(failures, 20), RETRY_MAX_MS);

export interface RunOutcome {
  runId: string;
  job: string;
  status: 'succeeded' | 'failed';
  stats: Record<string, number>;
  error?: string;
}

function jobNamed(jobs: readonly Job[], name: string): Job {
  const job = jobs.find((j) => j.name === name);
  if (!job) throw new DomainError('not_found', `no job ${name} (jobs: ${jobs.map((j) => j.name).join(', ')})`, 'job');
  return job;
}

/** Gives every job its schedule, the first run at its next cron time. */
export async function installSchedules(laurel: Laurel, jobs: readonly Job[] = BUILT_IN_JOBS): Promise<void> {
  const now = laurel.clock.now();
  await ensureSchedules(laurel.db, jobs.map((j) => ({ job: j.name, cron: j.cron, timeZone: j.timeZone })), (s) => nextRun(s.cron, s.timeZone, now));
}

async function execute(laurel: Laurel, job: Job, run: { runId: string; scheduled: boolean; failures: number },
  progress: (p: Progress) => void): Promise<RunOutcome> {
  const started = laurel.clock.now();
  try {
    const stats = await job.run(laurel, started, progress);
    await finishRun(laurel.db, { runId: run.runId, job: job.name, scheduled: run.scheduled }, laurel.clock.now(), stats);
    return { runId: run.runId, job: job.name, status: 'succeeded', stats };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    const now = laurel.clock.now();
    await failRun(laurel.db, { runId: run.runId, job: job.name, scheduled: run.scheduled }, now, error, new Date(now.getTime() + retryDelayMs(run.failures)));
    return { runId: run.runId, job: job.name, status: 'failed', stats: {}, error };
  }
}

/** One poll: claims and runs every job due now, one after the other; returns what ran. */
export async function runDueJobs(laurel: Laurel, options: { worker?: string; jobs?: readonly Job[] } = {}): Promise<RunOutcome[]> {
  const jobs = options.jobs ?? BUILT_IN_JOBS;
  const worker = options.worker ?? workerName();
  const outcomes: RunOutcome[] = [];
  for (;;) {
    const now = laurel.clock.now();
    const claimed = await claimDueJob(laurel.db, now, worker, new Date(now.getTime() + LEASE_MS),
      (s) => nextRun(s.cron, s.timeZone, now));
    if (!claimed) return outcomes;
    const job = jobs.find((j) => j.name === claimed.job);
    if (!job) {
      // A schedule of a job this process does not know (a newer deployment's): leave it to that one.
      await failRun(laurel.db, { runId: claimed.runId, job: claimed.job, scheduled: true }, now, `this worker does not know job ${claimed.job}`,
        new Date(now.getTime() + retryDelayMs(claimed.failures)));
      continue;
    }
    outcomes.push(await execute(laurel, job, { runId: claimed.runId, scheduled: true, failures: claimed.failures }, () => {}));
  }
}

/** Runs a job now, whatever its schedule (laurel jobs run): the run is recorded like a scheduled one. */
export async function runJobNow(laurel: Laurel, name: string, progress: (p: Progress) => void = () => {},
  jobs: readonly Job[] = BUILT_IN_JOBS): Promise<RunOutcome> {
  const job = jobNamed(jobs, name);
  const runId = await startManualRun(laurel.db, job.name, workerName(), laurel.clock.now());
  return execute(laurel, job, { runId, scheduled: false, failures: 0 }, progress);
}

export interface Runner {
  stop(): Promise<void>;
}

/** Polls every `pollMs` until stopped; a poll in progress finishes first. */
export function startRunner(laurel: Laurel, options: { pollMs?: number; onError?: (e: unknown) => void; jobs?: readonly Job[] } = {}): Runner {
  const pollMs = options.pollMs ?? 5000;
  let stopped = false;
  let current: Promise<unknown> = installSchedules(laurel, options.jobs).catch(options.onError);
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    current = current.then(() => (stopped ? undefined : runDueJobs(laurel, { jobs: options.jobs }))).catch(options.onError)
      .finally(() => { if (!stopped) timer = setTimeout(poll, pollMs); });
  };
  poll();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
