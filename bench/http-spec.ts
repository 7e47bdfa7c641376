// What the bench's HTTP load generator (http-load.ts, a child process) is told, and answers.

export interface HttpLoadSpec {
  url: string;
  /** earn: a one-line purchase on the one-rule program; rules: the baskets of the 20-rule program (rules.ts) */
  kind: 'earn' | 'balance' | 'rules';
  /** an API key (pos for earn, read for balances) */
  key: string;
  programId: string;
  members: string[];
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** the baskets a `rules` run sends, in turn */
  baskets?: { channel: string; lines: unknown[] }[];
  /** makes every externalId unique across runs */
  runId: string;
}

export interface HttpLoadResult {
  /** 2xx responses per second of the measured run */
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** 2xx responses of the warm-up run */
  warmupOk: number;
  /** this load generator's CPU over the warm-up and the measured run */
  cpuSeconds: number;
}

/** A purchase of one line of 10.00: 10 points through the fixture's base rule (1 point per 100 minor units, fixtures.ts). */
export const HTTP_PURCHASE_MINOR = 1000;
