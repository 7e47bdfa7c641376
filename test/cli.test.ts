// The `laurel` command as an operator runs it: a real process (node + tsx, as bin/laurel.js
// runs it) on a database of the test's own — a PGlite data directory, or a PostgreSQL database
// beside DATABASE_URL's. Exit codes: 0 success, 1 a failure (not found, already revoked, an
// inconsistent ledger), 2 a usage error (unknown command or option, missing or malformed value).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from './support/laurel.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let env: NodeJS.ProcessEnv;
let cleanup: () => Promise<void> = async () => {};

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function laurel(...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the command and expects the exit code; the assertion message shows what it printed. */
async function expectExit(code: number, ...args: string[]): Promise<Ran> {
  const r = await laurel(...args);
  expect(r.code, `laurel ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  return r;
}

beforeAll(async () => {
  env = { ...process.env, LOG_LEVEL: 'warn' };
  if (onPostgres) {
    const url = new URL(process.env.DATABASE_URL!);
    const name = `${url.pathname.slice(1) || 'laurel'}_cli_${process.pid}`;
    const admin = async (statement: string) => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      try {
        await c.query(statement);
      } finally {
        await c.end();
      }
    };
    await admin(`drop database if exists "${name}" with (force)`);
    await admin(`create database "${name}"`);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    cleanup = () => admin(`drop database if exists "${name}" with (force)`);
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'laurel-cli-'));
    delete env.DATABASE_URL;
    env.LAUREL_DATA_DIR = join(dir, 'data');
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  await expectExit(0, 'migrate');
}, 180_000);

afterAll(() => cleanup());

describe('laurel usage errors', () => {
  it('a mistyped command says it is unknown, then the usage, and exits 2', async () => {
    const [top, sub, option] = await Promise.all([laurel('verfiy'), laurel('keys', 'lst'), laurel('verify', '--tenat', 'x')]);
    expect(top.code).toBe(2);
    expect(top.stderr).toMatch(/^unknown command: verfiy\n/);
    expect(top.stderr).toContain('usage: laurel <command>');
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/^unknown command: keys lst\n/);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^unknown option: --tenat\n/);
  });

  it('help prints the usage, with the exit codes, and exits 0', async () => {
    const r = await expectExit(0, 'help');
    expect(r.stdout).toContain('usage: laurel <command>');
    expect(r.stdout).toMatch(/exit codes:\s+0 success, 1 failure .*, 2 usage error/);
  });

  it('a missing option is a usage error naming it', async () => {
    const r = await expectExit(2, 'keys', 'create', '--name', 'till');
    expect(r.stderr).toMatch(/^--tenant is required/);
  });
});

describe('laurel tenants and keys', () => {
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    const a = await expectExit(0, 'tenants', 'create', '--name', 'Alpha Coffee', '--time-zone', 'Europe/Paris', '--currency', 'EUR');
    const b = await expectExit(0, 'tenants', 'create', '--name', 'Beta Books', '--time-zone', 'America/New_York', '--currency', 'USD');
    tenantA = /tenant (\S+)/.exec(a.stdout)![1]!;
    tenantB = /tenant (\S+)/.exec(b.stdout)![1]!;
    expect(a.stdout).toMatch(/admin API key lk_\S+/);
  }, 180_000);

  it('tenants list shows every tenant with its id, name, time zone and currency', async () => {
    const r = await expectExit(0, 'tenants', 'list');
    const line = (id: string) => r.stdout.split('\n').find((l) => l.startsWith(id));
    expect(line(tenantA)).toMatch(/Alpha Coffee\s+Europe\/Paris\s+EUR/);
    expect(line(tenantB)).toMatch(/Beta Books\s+America\/New_York\s+USD/);
  });

  it('keys list without --tenant lists every key with its tenant; with --tenant, that tenant\'s', async () => {
    const created = await expectExit(0, 'keys', 'create', '--tenant', tenantB, '--name', 'till 3', '--scopes', 'pos,read');
    const keyId = UUID.exec(created.stdout)![0];
    const all = await expectExit(0, 'keys', 'list');
    const rows = all.stdout.split('\n').filter((l) => UUID.test(l));
    expect(rows.find((l) => l.startsWith(keyId))).toMatch(new RegExp(`^${keyId}\\s+${tenantB}\\s+till 3\\s+pos,read\\s+active$`));
    expect(rows.filter((l) => l.includes(tenantA)).length).toBe(1); // Alpha's first admin key
    const onlyB = await expectExit(0, 'keys', 'list', '--tenant', tenantB);
    const rowsB = onlyB.stdout.split('\n').filter((l) => UUID.test(l));
    expect(rowsB.length).toBe(2);
    expect(rowsB.every((l) => l.includes(tenantB))).toBe(true);
  });

  it('keys revoke --key ID revokes the key without --tenant; again is a failure (1), a bad id a usage error (2)', async () => {
    const created = await expectExit(0, 'keys', 'create', '--tenant', tenantA, '--name', 'old till', '--scopes', 'pos');
    const keyId = UUID.exec(created.stdout)![0];
    const revoked = await expectExit(0, 'keys', 'revoke', '--key', keyId);
    expect(revoked.stdout).toContain(`${keyId} revoked`);
    const listed = await expectExit(0, 'keys', 'list', '--tenant', tenantA);
    expect(listed.stdout.split('\n').find((l) => l.startsWith(keyId))).toMatch(/old till\s+pos\s+revoked /);
    const again = await expectExit(1, 'keys', 'revoke', '--key', keyId);
    expect(again.stderr).toMatch(/already revoked/);
    const unknown = await expectExit(1, 'keys', 'revoke', '--key', '01a24bac-69e8-7000-b220-d40ebb0851e2');
    expect(unknown.stderr).toMatch(/no API key 01a24bac-69e8-7000-b220-d40ebb0851e2/);
    const malformed = await expectExit(2, 'keys', 'revoke', '--key', 'nope');
    expect(malformed.stderr).toMatch(/--key must be an API key id \(a UUID\), not "nope"/);
    // another tenant's key is not found under --tenant
    const other = await expectExit(0, 'keys', 'create', '--tenant', tenantB, '--name', 'web', '--scopes', 'read');
    const otherId = UUID.exec(other.stdout)![0];
    await expectExit(1, 'keys', 'revoke', '--key', otherId, '--tenant', tenantA);
  });

  it('keys create for a tenant that does not exist fails and says so', async () => {
    const r = await expectExit(1, 'keys', 'create', '--tenant', '01a24bac-69e8-7000-b220-d40ebb0851e2', '--name', 'x', '--scopes', 'admin');
    expect(r.stderr).toMatch(/no tenant 01a24bac-69e8-7000-b220-d40ebb0851e2/);
  });

  it('verify names a malformed or unknown tenant, never a raw database error, and verifies a real one', async () => {
    const malformed = await expectExit(2, 'verify', '--tenant', 'nope');
    expect(malformed.stderr).toMatch(/^--tenant must be a tenant id \(a UUID\), not "nope"/);
    expect(malformed.stderr).not.toMatch(/syntax|uuid:/);
    const unknown = await expectExit(1, 'verify', '--tenant', '01a24bac-69e8-7000-b220-d40ebb0851e2');
    expect(unknown.stderr).toMatch(/^no tenant 01a24bac-69e8-7000-b220-d40ebb0851e2 \(laurel tenants list shows them\)/);
    const ok = await expectExit(0, 'verify', '--tenant', tenantA);
    expect(ok.stdout).toContain('ledger verified: every invariant holds');
  });
});
