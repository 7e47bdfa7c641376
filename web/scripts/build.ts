// Builds web/dist with Vite when a source is newer than the last build: `npm start` runs it
// first (prestart), so a fresh clone needs no extra command and an unchanged tree costs nothing.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const web = resolve(import.meta.dirname, '..');
const stamp = join(web, 'dist', '.built');

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

export function webIsBuilt(): boolean {
  if (!existsSync(stamp)) return false;
  const sources = ['src', 'console', 'portal', 'vite.config.ts'].map((p) => newest(join(web, p)));
  return Math.max(...sources) <= statSync(stamp).mtimeMs;
}

export async function buildWeb(): Promise<void> {
  if (webIsBuilt()) return;
  const { build } = await import('vite');
  const started = Date.now();
  await build({ configFile: join(web, 'vite.config.ts') });
  await build({
    configFile: false, root: web, logLevel: 'warn',
    build: { outDir: join(web, 'dist'), emptyOutDir: false, lib: { entry: join(web, 'src/widget.ts'), formats: ['iife'], name: 'LaurelWidget', fileName: () => 'widget.js' } },
  });
  writeFileSync(stamp, new Date().toISOString());
  console.log(`console and portal built in ${((Date.now() - started) / 1000).toFixed(1)} s (web/dist)`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await buildWeb();
