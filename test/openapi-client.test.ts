// The typed client generated from the OpenAPI document (openapi-typescript + openapi-fetch):
// it is what the document says now, and a caller written against it compiles on its own.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clientSchema, SCHEMA_FILE } from '../scripts/openapi-client.js';

describe('the TypeScript client', () => {
  it('is generated from the current document', async () => {
    expect(await clientSchema() === readFileSync(SCHEMA_FILE, 'utf8'), 'clients/typescript/schema.d.ts is out of date: run npm run openapi:client').toBe(true);
  });

  it('compiles, with a caller that uses it and mistakes the compiler must catch', () => {
    const project = fileURLToPath(new URL('../clients/typescript/tsconfig.json', import.meta.url));
    const tsc = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', project], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
  });
});
