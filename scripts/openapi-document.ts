// The OpenAPI document as a running Laurel serves it at /openapi.json, built on an empty
// in-memory database: `tsx scripts/openapi-document.ts FILE` writes it to FILE.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../src/http/app.js';
import { openLaurel } from '../src/services/context.js';

export async function openapiDocument(): Promise<Record<string, unknown>> {
  const laurel = await openLaurel({ dataDir: 'memory://' });
  try {
    const app = await buildApp(laurel, { logger: false });
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Record<string, unknown>;
    await app.close();
    return document;
  } finally {
    await laurel.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx scripts/openapi-document.ts FILE');
  writeFileSync(file, `${JSON.stringify(await openapiDocument(), null, 2)}\n`);
}
