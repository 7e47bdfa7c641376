// Returns: how much money a return refunds and what is left of the order after it. Everything is
// computed cumulatively from the purchase, never per return, so rounding cannot drift; the points
// a return takes back follow from what is left (core/rules/returns.ts).
import { DomainError, invalid } from '../errors.js';
import { lineNet, type PurchaseLine, type ReturnLine } from './purchase.js';

export interface PurchaseFacts {
  lines: readonly PurchaseLine[];
  /** money paid: the goods less what points paid */
  total: bigint;
}

export interface ReturnHistory {
  /** units already returned, per sku */
  returned: ReadonlyMap<string, bigint>;
  /** money already refunded by earlier returns */
  refunded: bigint;
}

export type ReturnRequest = { lines: readonly ReturnLine[] } | { refundAmount: bigint };

export interface ReturnDecision {
  /** money this return refunds */
  refundAmount: bigint;
  /** units returned per sku, this return included */
  returned: Map<string, bigint>;
  /** money the customer has paid and not been refunded, after this return */
  paidLeft: bigint;
}

/** Units returned per sku by earlier returns. */
export function returnedSoFar(returns: readonly { lines: readonly ReturnLine[] | null }[]): Map<string, bigint> {
  const returned = new Map<string, bigint>();
  for (const r of returns) for (const l of r.lines ?? []) returned.set(l.sku, (returned.get(l.sku) ?? 0n) + l.quantity);
  return returned;
}

/**
 * Value of the goods returned when `returned` units of each line are back: floor(net × returned /
 * quantity) per line, so a line fully returned gives back exactly its net.
 */
function goodsReturned(lines: readonly PurchaseLine[], returned: ReadonlyMap<string, bigint>): bigint {
  let sum = 0n;
  for (const l of lines) sum += (lineNet(l) * (returned.get(l.sku) ?? 0n)) / l.quantity;
  return sum;
}

/**
 * Money refunded by lines when `goods` of value are back: the money share of those goods, with
 * what points paid spread over the lines in proportion to their value (floor).
 */
function moneyFor(goods: bigint, purchase: PurchaseFacts): bigint {
  const allGoods = purchase.lines.reduce((s, l) => s + lineNet(l), 0n);
  return allGoods === 0n ? 0n : (purchase.total * goods) / allGoods;
}

/** The units each returned line brings back, checked against what can still be returned. */
function applyLines(purchase: PurchaseFacts, history: ReturnHistory, lines: readonly ReturnLine[]): Map<string, bigint> {
  const after = new Map(history.returned);
  lines.forEach((line, i) => {
    const bought = purchase.lines.find((l) => l.sku === line.sku);
    if (!bought) throw invalid(`lines[${i}].sku`, `sku ${line.sku} is not in the purchase`);
    const left = bought.quantity - (history.returned.get(line.sku) ?? 0n);
    if (line.quantity > left) {
      throw new DomainError('conflict', `at most ${left} of sku ${line.sku} can still be returned (${bought.quantity} bought)`, `lines[${i}].quantity`);
    }
    after.set(line.sku, (after.get(line.sku) ?? 0n) + line.quantity);
  });
  return after;
}

export function decideReturn(purchase: PurchaseFacts, history: ReturnHistory, request: ReturnRequest): ReturnDecision {
  const refundable = purchase.total - history.refunded;
  if ('lines' in request) {
    const after = applyLines(purchase, history, request.lines);
    const everything = purchase.lines.every((l) => (after.get(l.sku) ?? 0n) === l.quantity);
    // Returning the last units refunds all that is left, whatever earlier refunds by amount took.
    const byLines = moneyFor(goodsReturned(purchase.lines, after), purchase) - moneyFor(goodsReturned(purchase.lines, history.returned), purchase);
    const refundAmount = everything ? refundable : byLines < refundable ? byLines : refundable;
    return { refundAmount, returned: after, paidLeft: refundable - refundAmount };
  }
  if (request.refundAmount > refundable) {
    throw new DomainError('conflict', `at most ${refundable} (minor units) of this purchase can still be refunded`, 'refundAmount');
  }
  return { refundAmount: request.refundAmount, returned: new Map(history.returned), paidLeft: refundable - request.refundAmount };
}
