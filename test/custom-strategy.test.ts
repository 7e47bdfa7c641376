// A brand's own reward calculation, exactly as the README shows it: plugged in through
// openLaurel, named by a rule, checked on save, and undone by returns like any built-in effect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalid } from '../src/core/errors.js';
import type { EarningStrategy } from '../src/core/rules/strategies.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createRule } from '../src/services/rules.js';
import { expectVerified, newMember, newProgram, openTestLaurel } from './support/laurel.js';

/** 1 point per item bought, whatever it cost (a "stamp card"). */
const pointsPerItem: EarningStrategy<{ points: bigint }> = {
  type: 'points_per_item',
  description: '`points` for every unit bought',
  phase: 'base',
  triggers: ['purchase'],
  parse(params, prefix) {
    if (typeof params.points !== 'number' || !Number.isSafeInteger(params.points) || params.points < 1) {
      throw invalid(`${prefix}points`, `${prefix}points must be a positive integer`);
    }
    return { points: BigInt(params.points) };
  },
  wallet: () => null,
  award({ params, basket }) {
    const perLine = basket.lines.map((l) => l.quantity * params.points);
    return { points: perLine.reduce((a, b) => a + b, 0n), perLine, detail: { items: basket.lines.length } };
  },
};

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel(undefined, { strategies: [pointsPerItem] }); });
afterAll(async () => { await laurel.close(); });

describe('a strategy of the brand', () => {
  it('is a rule effect like the built-in ones: checked on save, earned, explained and taken back', async () => {
    const program = await newProgram(laurel);
    await expect(createRule(laurel, program.tenantId, program.programId, {
      name: 'Stamps', trigger: 'purchase', effect: { type: 'points_per_item', points: 0 },
    }, { actor: 'test' })).rejects.toMatchObject({ code: 'validation', field: 'effect.points' });
    await createRule(laurel, program.tenantId, program.programId, {
      name: 'Stamps', trigger: 'purchase', effect: { type: 'points_per_item', points: 2 },
    }, { actor: 'test' });
    const memberId = await newMember(laurel, program);
    const lines = [{ sku: 'A', quantity: 3, unitPrice: 1 }, { sku: 'B', quantity: 2, unitPrice: 99_999 }];
    const bought = await ingestEvent(laurel, program.tenantId, { programId: program.programId, memberId, externalId: 'o-1', type: 'purchase', lines });
    expect(bought.points).toBe(10n); // (3 + 2) units × 2
    expect(bought.event.explanation).toMatchObject([{ effect: 'points_per_item', points: 10n, detail: { items: 2 } }]);
    const back = await ingestEvent(laurel, program.tenantId, {
      programId: program.programId, memberId, externalId: 'r-1', type: 'return', purchaseExternalId: 'o-1', lines: [{ sku: 'B', quantity: 1 }],
    });
    expect(back.points).toBe(-2n);
    expect((await getBalance(laurel, program.tenantId, memberId)).available).toBe(8n);
    await expectVerified(laurel);
  });

  it('may not take the name of a built-in effect', async () => {
    await expect(openTestLaurel(undefined, { strategies: [{ ...pointsPerItem, type: 'fixed_points' }] })).rejects.toThrow(/two earning strategies/);
  });
});
