// `npm run lint:api`: Redocly's recommended rules, every warning an error (recommended-strict),
// on the document Laurel serves. No ignore file: what it reports is fixed, not silenced.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openapiDocument } from './openapi-document.js';

const dir = mkdtempSync(join(tmpdir(), 'laurel-openapi-'));
try {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(await openapiDocument(), null, 2));
  const redocly = spawnSync('npx', ['--no-install', 'redocly', 'lint', '--extends=recommended-strict', file], {
    stdio: 'inherit', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  process.exitCode = redocly.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
