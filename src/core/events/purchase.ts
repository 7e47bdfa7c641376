// The money of a purchase, in integer minor units: what each line cost, and what the customer
// paid in money (the part paid with points or store credit earns nothing, SPEC §4).

export interface PurchaseLine {
  sku: string;
  category: string | null;
  quantity: bigint;
  /** minor units per unit */
  unitPrice: bigint;
  /** minor units off the whole line, at most quantity × unitPrice */
  discount: bigint;
}

export interface ReturnLine {
  sku: string;
  quantity: bigint;
}

/** What the line cost after its discount. */
export const lineNet = (line: PurchaseLine): bigint => line.quantity * line.unitPrice - line.discount;

/** Σ line nets: the value of the goods, however they were paid. */
export const goodsOf = (lines: readonly PurchaseLine[]): bigint => lines.reduce((sum, l) => sum + lineNet(l), 0n);

/** What was paid in money: the goods less what points or store credit paid. The base of earning. */
export const orderTotal = (lines: readonly PurchaseLine[], paidWithPoints: bigint): bigint => goodsOf(lines) - paidWithPoints;
