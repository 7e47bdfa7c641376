// A throwaway PostgreSQL cluster of a test's own (initdb + pg_ctl, its own port and data
// directory under a temp dir), so a test may stop and start it without touching the shared server.
// initdb refuses to run as root: as root, the cluster runs as the postgres user.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run } from './processes.js';

const BIN = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'].find((d) => existsSync(join(d, 'initdb')));

/** Why a cluster cannot be made here, or null when it can. */
export const clusterUnavailable = (): string | null => (BIN ? null : 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql');

export interface Cluster {
  port: number;
  /** postgres://…/<database> on this cluster */
  url(database?: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createCluster(): Promise<Cluster> {
  if (!BIN) throw new Error(clusterUnavailable()!);
  const dir = await mkdtemp(join(tmpdir(), 'laurel-cluster-'));
  await chmod(dir, 0o777);
  const asOwner = (tool: string, args: string[]) => {
    const command = join(BIN, tool);
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
  };
  const must = async (tool: string, args: string[]) => {
    const r = await asOwner(tool, args);
    if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} failed:\n${r.out}`);
  };
  const port = await freePort();
  const data = join(dir, 'data');
  await must('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const start = () => must('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  await start();
  return {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start,
    stop: () => must('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    async destroy() {
      await asOwner('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
