// Real `laurel` processes for tests that need them (a server that outlives a database restart,
// servers and workers behind a pooler): spawned as `npm start` runs them, their output kept for
// the failure message.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface LaurelProcess {
  child: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  alive(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running, then waits for the exit */
  kill(): Promise<void>;
}

/** `laurel <args>` (serve, worker…) with `env` on top of the test's environment. */
export function startLaurel(args: string[], env: NodeJS.ProcessEnv): LaurelProcess {
  const full: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env };
  delete full.HOST;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => out,
    alive,
    exited,
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `probe` until it gives a value; fails early when `process` exits. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, process?: LaurelProcess): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (process && !process.alive()) throw new Error(`the process exited while waiting for ${what}:\n${process.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${process ? `:\n${process.output()}` : ''}`);
    await sleep(250);
  }
}

/** Runs a command to its end; resolves with its exit code and output. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

export interface Answer { status: number; type: string; retryAfter: string | null; body: Record<string, unknown> }

/** A request to a running `laurel serve` at `base`, with an admin key and (for a write) an Idempotency-Key. */
export async function callServer(base: string, adminKey: string, method: string, path: string, body?: unknown, key?: string): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${adminKey}` };
  if (key) headers['idempotency-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, type: r.headers.get('content-type') ?? '', retryAfter: r.headers.get('retry-after'), body: text ? JSON.parse(text) : {} };
}
