// autocannon ships no types: the parts bench/http-load.ts uses.
declare module 'autocannon' {
  export interface Request { method?: string; path?: string; headers?: Record<string, string>; body?: string }
  export interface Results {
    duration: number; errors: number; timeouts: number; non2xx: number;
    latency: { p50: number; p99: number };
    statusCodeStats: Record<string, { count: number }>;
  }
  export interface Options {
    url: string; connections?: number; duration?: number; pipelining?: number;
    requests?: { setupRequest?: (request: Request, context: Record<string, unknown>) => Request }[];
  }
  export default function autocannon(options: Options): Promise<Results>;
}
