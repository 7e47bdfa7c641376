// A PgBouncer of a test's own in transaction mode, in front of the test's PostgreSQL server
// (DATABASE_URL's), on its own port with its config in a temp dir. PgBouncer refuses to run as
// root: as root, it runs as the postgres user.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { freePort, waitFor } from './processes.js';

const BIN = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));

/** Why no PgBouncer can run here, or null. */
export const pgbouncerUnavailable = (): string | null =>
  (!process.env.DATABASE_URL ? 'PostgreSQL runs only (DATABASE_URL)' : BIN ? null : 'no pgbouncer binary (apt-get install pgbouncer; .ci/run installs it)');

export interface Bouncer {
  /** DATABASE_URL's server and user, through PgBouncer, to `database` */
  url(database: string): string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `roundRobin`: each transaction takes the next server connection rather than the last released,
 * so state a client leaves in one server session (a temp table, a prepared statement) is missing
 * from its next transaction even when nothing else runs.
 */
export async function startPgBouncer(options: { roundRobin?: boolean; poolSize?: number } = {}): Promise<Bouncer> {
  if (!BIN) throw new Error(pgbouncerUnavailable()!);
  const server = new URL(process.env.DATABASE_URL!);
  const dir = await mkdtemp(join(tmpdir(), 'laurel-pgbouncer-'));
  await chmod(dir, 0o777);
  const port = await freePort();
  const user = decodeURIComponent(server.username || 'postgres');
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  await writeFile(join(dir, 'pgbouncer.ini'), `[databases]
* = host=${server.hostname} port=${server.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = ${options.poolSize ?? 8}
max_client_conn = 1000
server_round_robin = ${options.roundRobin ? 1 : 0}
ignore_startup_parameters = extra_float_digits,options
logfile = ${join(dir, 'pgbouncer.log')}
`);
  const args = [join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = process.getuid?.() === 0
    ? spawn('runuser', ['-u', 'postgres', '--', BIN, ...args], { stdio: 'ignore' })
    : spawn(BIN, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const accepts = () => new Promise<boolean | undefined>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(undefined));
  });
  await waitFor('pgbouncer to listen', 20_000, accepts);
  return {
    url: (database) => {
      const u = new URL(process.env.DATABASE_URL!);
      u.port = String(port);
      u.hostname = '127.0.0.1';
      u.pathname = `/${database}`;
      return u.toString();
    },
    log: () => readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => ''),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A database of the test's own on DATABASE_URL's server, dropped by `drop`. */
export async function ownDatabase(prefix: string): Promise<{ name: string; direct: string; drop(): Promise<void> }> {
  const pg = (await import('pg')).default;
  const shared = new URL(process.env.DATABASE_URL!);
  const name = `${shared.pathname.slice(1) || 'laurel'}_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const onServer = async (statement: string) => {
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  };
  await onServer(`create database "${name}"`);
  const direct = new URL(shared);
  direct.pathname = `/${name}`;
  return { name, direct: direct.toString(), drop: () => onServer(`drop database if exists "${name}" with (force)`) };
}
