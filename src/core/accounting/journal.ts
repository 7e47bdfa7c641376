// The journal export an ERP imports (SPEC §10): for a period, balanced debit and credit lines per
// GL account. The ERP booked each sale in full to sales revenue; the export moves the points'
// share to the contract liability, and back to revenue as it is recognised:
//   issued        Dr sales revenue        Cr contract liability
//   returned      Dr contract liability   Cr sales revenue
//   redeemed      Dr contract liability   Cr loyalty revenue
//   breakage, expired, estimate change
//                 Dr contract liability   Cr breakage revenue
//   fee received  Dr fees received        Cr deferred fees
//   fee refunded  Dr deferred fees        Cr fees received
//   fee earned    Dr deferred fees        Cr membership revenue
// A negative movement swaps the sides, so every amount in the file is positive.
import type { RollForward } from './recognition.js';

export const GL_ACCOUNTS = ['salesRevenue', 'contractLiability', 'loyaltyRevenue', 'breakageRevenue', 'feesReceived', 'deferredFees', 'membershipRevenue'] as const;
export type GlAccount = (typeof GL_ACCOUNTS)[number];
export type GlAccounts = Record<GlAccount, string>;

export const DEFAULT_GL: GlAccounts = {
  salesRevenue: '4000', contractLiability: '2400', loyaltyRevenue: '4010', breakageRevenue: '4020',
  feesReceived: '4100', deferredFees: '2410', membershipRevenue: '4110',
};

export interface JournalLine {
  movement: string;
  account: string;
  debit: bigint;
  credit: bigint;
}

type Movement = [name: string, liabilityChange: bigint, counter: GlAccount, liability: GlAccount];

export function journalLines(rf: RollForward, gl: GlAccounts): JournalLine[] {
  const m = rf.money;
  const movements: Movement[] = [
    ['issued', m.issued, 'salesRevenue', 'contractLiability'],
    ['returned', m.returned, 'salesRevenue', 'contractLiability'],
    ['redeemed', m.redeemed, 'loyaltyRevenue', 'contractLiability'],
    ['breakage', m.breakage, 'breakageRevenue', 'contractLiability'],
    ['expired', m.expired, 'breakageRevenue', 'contractLiability'],
    ['estimate_change', m.estimateChange, 'breakageRevenue', 'contractLiability'],
    ['fees_received', rf.fees.received, 'feesReceived', 'deferredFees'],
    ['fees_refunded', rf.fees.refunded, 'feesReceived', 'deferredFees'],
    ['fees_recognised', rf.fees.recognised, 'membershipRevenue', 'deferredFees'],
  ];
  const lines: JournalLine[] = [];
  for (const [movement, change, counter, liability] of movements) {
    if (change === 0n) continue;
    // A rise of the liability credits it and debits the counter account; a fall the other way round.
    const amount = change < 0n ? -change : change;
    const [debit, credit] = change > 0n ? [gl[counter], gl[liability]] : [gl[liability], gl[counter]];
    lines.push({ movement, account: debit, debit: amount, credit: 0n }, { movement, account: credit, debit: 0n, credit: amount });
  }
  return lines;
}

/** A CSV field: quoted when it holds a comma, a quote or a line break; a leading =+-@ is defused for spreadsheets. */
export function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) && !/^-?\d/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const csv = (rows: readonly (readonly string[])[]): string => rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
