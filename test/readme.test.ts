// The README's walkthroughs, run as a reader runs them: every section's ```sh blocks, on their own,
// in a fresh bash from the repository's directory. Each section sources docs/walkthrough.sh, which
// starts the real server (what `npm start` runs, in memory, the demo program, a known admin key,
// its clock from LAUREL_CLOCK_START so the demo's dates and figures do not depend on today).
//
// After each `# → STATUS ANSWER` comment, the answer printed by the command before it must have
// that status and contain what the comment shows: objects may hold more fields than shown, `…`
// stands for the rest of an object or list, and inside a string for any text. Every other request
// of a walkthrough must succeed (2xx). A ```sh norun block is not run (installing, the test suite).
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from './support/laurel.js';
import { freePort, ROOT } from './support/processes.js';

const README = await readFile(join(ROOT, 'README.md'), 'utf8');
// A feature's full walkthrough may live in docs/<feature>.md; its sections run here too, titled "<file>: <heading>".
const DOCS = await Promise.all((await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).sort()
  .map(async (file) => ({ file, markdown: await readFile(join(ROOT, 'docs', file), 'utf8') })));

interface Expectation {
  /** the comment as written, for messages */
  text: string;
  status: number;
  answer: Pattern;
}

interface Section {
  title: string;
  script: string;
  expectations: Expectation[];
}

// ---- the README, section by section ----

/** The sections (## and ### headings) that have shell blocks to run (sh, bash, shell), each with its blocks' lines in order. */
function sections(markdown: string): { sections: Section[]; skipped: number } {
  const found: { title: string; lines: string[] }[] = [];
  let title = '(before the first heading)';
  let fence: 'run' | 'skip' | 'other' | null = null;
  let skipped = 0;
  for (const line of markdown.split('\n')) {
    if (fence === null) {
      const heading = /^#{2,3} (.+)$/.exec(line);
      if (heading) title = heading[1]!;
      else if (/^```(sh|bash|shell)\s*$/.test(line)) {
        fence = 'run';
        if (found.at(-1)?.title !== title) found.push({ title, lines: [] });
      } else if (/^```(sh|bash|shell)\s+norun\s*$/.test(line)) {
        fence = 'skip';
        skipped++;
      } else if (line.startsWith('```')) fence = 'other';
    } else if (line.startsWith('```')) fence = null;
    else if (fence === 'run') found.at(-1)!.lines.push(line);
  }
  return { sections: found.map((s) => instrument(s.title, s.lines)), skipped };
}

/**
 * The section as a script that prints a marker line before each `# →` comment, so the output
 * splits into what each commented command printed; and the comments, parsed.
 */
function instrument(title: string, lines: string[]): Section {
  const script: string[] = [];
  const expectations: Expectation[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const arrow = /^# → (.*)$/.exec(line);
    if (!arrow) {
      script.push(line);
      continue;
    }
    let text = arrow[1]!;
    while (!balanced(text) && /^#\s/.test(lines[i + 1] ?? '')) text += ` ${lines[++i]!.slice(1).trim()}`;
    const m = /^(\d{3})(?:\s+(.*))?$/.exec(text);
    if (!m) throw new Error(`${title}: a "# →" comment starts with the HTTP status: ${text}`);
    expectations.push({ text, status: Number(m[1]), answer: m[2] === undefined ? ANY : new Abridged(m[2]).value() });
    script.push(`printf '\\n@@expect %d\\n' ${expectations.length - 1}`);
  }
  return { title, script: script.join('\n'), expectations };
}

/** Whether every bracket opened outside strings is closed. */
function balanced(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return depth <= 0;
}

// ---- the README's notation for answers: JSON where `…` stands for what is left out ----

type Pattern =
  | { kind: 'any' }
  | { kind: 'scalar'; value: string | number | boolean | null }
  | { kind: 'text'; parts: string[] } // a string with `…` in it
  | { kind: 'object'; fields: [string, Pattern][] }
  | { kind: 'array'; items: Pattern[]; open: boolean };

const ANY: Pattern = { kind: 'any' };

/** Parses the first value of the text; what follows it (a remark) is ignored. */
class Abridged {
  private at = 0;
  constructor(private readonly text: string) {}

  value(): Pattern {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') {
      const s = this.string();
      return s.includes('…') ? { kind: 'text', parts: s.split('…') } : { kind: 'scalar', value: s };
    }
    if (c === '…') {
      this.at++;
      return ANY;
    }
    const m = /^(-?\d+(?:\.\d+)?|true|false|null)/.exec(this.text.slice(this.at));
    if (!m) throw new Error(`cannot read the answer at "${this.text.slice(this.at, this.at + 30)}" in: ${this.text}`);
    this.at += m[1]!.length;
    return { kind: 'scalar', value: JSON.parse(m[1]!) as number | boolean | null };
  }

  private object(): Pattern {
    const fields: [string, Pattern][] = [];
    this.at++;
    for (;;) {
      this.space();
      if (this.eat('}')) return { kind: 'object', fields };
      if (!this.eat('…')) {
        const key = this.string();
        this.space();
        if (!this.eat(':')) throw new Error(`":" expected after "${key}" in: ${this.text}`);
        fields.push([key, this.value()]);
      }
      this.space();
      this.eat(',');
    }
  }

  private array(): Pattern {
    const items: Pattern[] = [];
    let open = false;
    this.at++;
    for (;;) {
      this.space();
      if (this.eat(']')) return { kind: 'array', items, open };
      if (this.eat('…')) open = true;
      else items.push(this.value());
      this.space();
      this.eat(',');
    }
  }

  private string(): string {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(this.text.slice(this.at));
    if (!m) throw new Error(`a string expected at "${this.text.slice(this.at, this.at + 30)}" in: ${this.text}`);
    this.at += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  private eat(token: string): boolean {
    if (!this.text.startsWith(token, this.at)) return false;
    this.at += token.length;
    return true;
  }

  private space(): void {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++;
  }
}

/** What differs between the pattern and the answer (empty: it matches); `figures` counts the values compared. */
function compare(pattern: Pattern, actual: unknown, path: string, counted: { figures: number }): string[] {
  switch (pattern.kind) {
    case 'any':
      return [];
    case 'scalar':
      counted.figures++;
      return actual === pattern.value ? [] : [`${path || 'the answer'}: README says ${JSON.stringify(pattern.value)}, Laurel answers ${JSON.stringify(actual)}`];
    case 'text': {
      counted.figures++;
      return typeof actual === 'string' && matchesText(pattern.parts, actual) ? [] : [`${path}: README says "${pattern.parts.join('…')}", Laurel answers ${JSON.stringify(actual)}`];
    }
    case 'object': {
      if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return [`${path || 'the answer'}: README shows an object, Laurel answers ${JSON.stringify(actual)}`];
      return pattern.fields.flatMap(([key, p]) => compare(p, (actual as Record<string, unknown>)[key], `${path}.${key}`.replace(/^\./, ''), counted));
    }
    case 'array': {
      if (!Array.isArray(actual)) return [`${path || 'the answer'}: README shows a list, Laurel answers ${JSON.stringify(actual)}`];
      counted.figures++;
      const length = pattern.open ? actual.length >= pattern.items.length : actual.length === pattern.items.length;
      if (!length) return [`${path || 'the answer'}: README shows ${pattern.items.length}${pattern.open ? ' or more' : ''} items, Laurel answers ${actual.length}: ${JSON.stringify(actual)}`];
      return pattern.items.flatMap((p, i) => compare(p, actual[i], `${path}[${i}]`, counted));
    }
  }
}

/** "a…b…c": starts with a, ends with c, b in between. */
function matchesText(parts: string[], actual: string): boolean {
  if (!actual.startsWith(parts[0]!) || !actual.endsWith(parts.at(-1)!)) return false;
  let from = parts[0]!.length;
  for (const part of parts.slice(1, -1)) {
    const at = actual.indexOf(part, from);
    if (at < 0) return false;
    from = at + part.length;
  }
  return from <= actual.length - parts.at(-1)!.length;
}

// ---- running a section ----

const dirs: string[] = [];

/** Runs the section in bash (errexit, nounset: a variable an earlier section set is an error here) and stops its server. */
async function run(section: Section): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'laurel-readme-'));
  dirs.push(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, LAUREL_WALKTHROUGH_DIR: dir, LAUREL_WALKTHROUGH_PORT: String(await freePort()) };
  delete env.DATABASE_URL;
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', `set -euo pipefail\n${section.script}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  } finally {
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already stopped
      }
    }
  }
}

interface Answer {
  status: number;
  body: unknown;
}

/** The answers `call` printed ("HTTP 201" on a line, then the answer), in order, each marked with the expectation after it, if any. */
function answers(stdout: string): { answer: Answer; expectation: number | null }[] {
  const found: { answer: Answer; expectation: number | null }[] = [];
  let current: { status: number; lines: string[] } | null = null;
  const close = (expectation: number | null) => {
    if (current) {
      const text = current.lines.join('\n').trim();
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON: compared as text
      }
      found.push({ answer: { status: current.status, body }, expectation });
    }
    current = null;
  };
  for (const line of stdout.split('\n')) {
    const status = /^HTTP (\d{3})$/.exec(line);
    const marker = /^@@expect (\d+)$/.exec(line);
    if (status) {
      close(null);
      current = { status: Number(status[1]), lines: [] };
    } else if (marker) {
      if (!current) found.push({ answer: { status: 0, body: undefined }, expectation: Number(marker[1]) });
      close(Number(marker[1]));
    } else if (current) current.lines.push(line);
  }
  close(null);
  return found;
}

const parsed = [{ file: null, markdown: README }, ...DOCS].map(({ file, markdown }) => {
  const found = sections(markdown);
  return { skipped: found.skipped, sections: found.sections.map((s) => (file ? { ...s, title: `docs/${file}: ${s.title}` } : s)) };
});
const walkthroughs = parsed.flatMap((p) => p.sections);
const skipped = parsed.reduce((n, p) => n + p.skipped, 0);
const totals = { sections: 0, expectations: 0, figures: 0, requests: 0 };

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  console.log(`README walkthroughs: ${totals.sections} sections run, ${totals.requests} requests, ${totals.expectations} answers`
    + ` compared (${totals.figures} figures and statuses), ${skipped} norun blocks`);
});

describe('the README', () => {
  it('has walkthroughs, each starting from docs/walkthrough.sh, with answers to compare', () => {
    expect(walkthroughs.map((s) => s.title)).toEqual(expect.arrayContaining(['The API in five minutes', 'Events', 'Earning rules', 'Tiers', 'Customer grades', 'At the till', 'Online', 'Webhooks']));
    for (const s of walkthroughs) {
      const first = s.script.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#'));
      expect(first, `the section "${s.title}" must start with . docs/walkthrough.sh to run on its own`).toMatch(/^\. docs\/walkthrough\.sh\b/);
    }
    expect(walkthroughs.reduce((n, s) => n + s.expectations.length, 0)).toBeGreaterThanOrEqual(30);
  });
});

/** At most `n` at a time: each section's server takes a core while it starts. */
function limited(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** LAUREL_README_SECTIONS=regex runs only the sections whose titles match (while editing one). */
const chosen = (section: Section) => new RegExp(process.env.LAUREL_README_SECTIONS ?? '').test(section.title);

// The walkthroughs always run on the embedded database (the helper starts one): once per CI run is enough.
describe.skipIf(onPostgres)('the README walkthroughs print what Laurel answers', () => {
  const runs = new Map<Section, ReturnType<typeof run>>();
  beforeAll(() => {
    const slot = limited(2);
    for (const section of walkthroughs.filter(chosen)) {
      const ran = slot(() => run(section));
      ran.catch(() => {}); // awaited by the section's test
      runs.set(section, ran);
    }
  });

  for (const section of walkthroughs) {
    it.skipIf(!chosen(section))(section.title, async () => {
      const r = await runs.get(section)!;
      const log = `bash exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.code, log).toBe(0);
      const printed = answers(r.stdout);
      const problems: string[] = [];
      const counted = { figures: 0 };
      for (const { answer, expectation } of printed) {
        if (expectation === null) {
          if (answer.status < 200 || answer.status > 299) problems.push(`a request without a "# →" comment answered ${answer.status}: ${JSON.stringify(answer.body)}`);
          continue;
        }
        const e = section.expectations[expectation]!;
        counted.figures++;
        const diff = answer.status === e.status ? compare(e.answer, answer.body, '', counted) : [`status: README says ${e.status}, Laurel answers ${answer.status}`];
        problems.push(...diff.map((d) => `# → ${e.text}\n    ${d}`));
      }
      const compared = printed.filter((p) => p.expectation !== null).length;
      expect(compared, `every "# →" comment follows a command that printed an answer\n${log}`).toBe(section.expectations.length);
      expect(problems, log).toEqual([]);
      totals.sections++;
      totals.requests += printed.length;
      totals.expectations += compared;
      totals.figures += counted.figures;
    }, 300_000);
  }
});
