// Incremental ROI of a program against its holdout (SPEC §11). The figures come in as exact
// integer sums per group (members, control) of each customer's net spend in the period; this
// module turns them into means, a confidence interval on the difference, and ROI.
//
// Method: Welch's unequal-variance comparison of two means with the normal approximation.
//   mean_g = Σx / n,  var_g = (n·Σx² − (Σx)²) / (n·(n − 1))          (sample variance, exact in integers)
//   diff   = mean_members − mean_control,  se = √(var_m/n_m + var_c/n_c)
//   95% CI = diff ± 1.96·se   (Welch–Satterthwaite degrees of freedom are reported: below ~30 the
//                               normal quantile understates the interval)
//   incremental revenue = diff × n_members (what the members spent because of the program)
//   incremental gross margin = incremental revenue × gross margin
//   ROI = (incremental gross margin − program cost) / program cost
// The interval of ROI is ROI at the interval's ends of diff (ROI is linear in diff).

export const Z_95 = 1.959963984540054;

export interface GroupSums {
  /** customers in the group (those who spent nothing count, with 0) */
  n: bigint;
  /** Σ net spend per customer, minor units */
  sum: bigint;
  /** Σ (net spend per customer)² */
  sumSquares: bigint;
}

export interface GroupStats {
  customers: number;
  /** mean net spend per customer, minor units */
  mean: number | null;
  standardDeviation: number | null;
  /** 95% interval of the mean */
  interval: [number, number] | null;
}

export interface RoiInput {
  members: GroupSums;
  control: GroupSums;
  /** the program's cost over the period, minor units */
  cost: bigint;
  /** gross margin of sales, basis points */
  grossMarginBp: number;
}

export interface Roi {
  members: GroupStats;
  control: GroupStats;
  /** mean spend per member − per control customer; null without two customers in each group */
  difference: number | null;
  differenceInterval: [number, number] | null;
  degreesOfFreedom: number | null;
  incrementalRevenue: bigint | null;
  incrementalRevenueInterval: [bigint, bigint] | null;
  incrementalGrossMargin: bigint | null;
  cost: bigint;
  /** (incremental gross margin − cost) / cost; null when the cost is 0 or the difference unknown */
  roi: number | null;
  roiInterval: [number, number] | null;
}

const variance = (g: GroupSums): number | null =>
  g.n < 2n ? null : Number(g.n * g.sumSquares - g.sum * g.sum) / Number(g.n * (g.n - 1n));

function statsOf(g: GroupSums): GroupStats {
  const mean = g.n === 0n ? null : Number(g.sum) / Number(g.n);
  const v = variance(g);
  const sd = v === null ? null : Math.sqrt(Math.max(v, 0));
  const half = sd === null ? null : (Z_95 * sd) / Math.sqrt(Number(g.n));
  return {
    customers: Number(g.n), mean, standardDeviation: sd,
    interval: mean === null || half === null ? null : [mean - half, mean + half],
  };
}

/** Rounds half away from zero to a whole minor unit. */
export const roundMinor = (x: number): bigint => BigInt(Math.sign(x) * Math.round(Math.abs(x)));

const marginOf = (revenue: bigint, bp: number): bigint => {
  const scaled = revenue * BigInt(bp);
  const q = scaled / 10_000n;
  const r = scaled % 10_000n;
  // half away from zero, in integers
  return 2n * (r < 0n ? -r : r) >= 10_000n ? q + (scaled < 0n ? -1n : 1n) : q;
};

export function roiOf(input: RoiInput): Roi {
  const members = statsOf(input.members);
  const control = statsOf(input.control);
  const vm = variance(input.members);
  const vc = variance(input.control);
  const base = {
    members, control, cost: input.cost,
    difference: null, differenceInterval: null, degreesOfFreedom: null, incrementalRevenue: null, incrementalRevenueInterval: null,
    incrementalGrossMargin: null, roi: null, roiInterval: null,
  };
  if (vm === null || vc === null || members.mean === null || control.mean === null) return base;
  const nm = Number(input.members.n);
  const nc = Number(input.control.n);
  const a = Math.max(vm, 0) / nm;
  const b = Math.max(vc, 0) / nc;
  const se = Math.sqrt(a + b);
  const difference = members.mean - control.mean;
  const differenceInterval: [number, number] = [difference - Z_95 * se, difference + Z_95 * se];
  const df = a + b === 0 ? null : (a + b) ** 2 / (a ** 2 / (nm - 1) + b ** 2 / (nc - 1));
  const revenue = (d: number) => roundMinor(d * nm);
  const incrementalRevenue = revenue(difference);
  const incrementalRevenueInterval: [bigint, bigint] = [revenue(differenceInterval[0]), revenue(differenceInterval[1])];
  const incrementalGrossMargin = marginOf(incrementalRevenue, input.grossMarginBp);
  const roiAt = (r: bigint) => Number(marginOf(r, input.grossMarginBp) - input.cost) / Number(input.cost);
  return {
    ...base, difference, differenceInterval, degreesOfFreedom: df, incrementalRevenue, incrementalRevenueInterval, incrementalGrossMargin,
    roi: input.cost > 0n ? roiAt(incrementalRevenue) : null,
    roiInterval: input.cost > 0n ? [roiAt(incrementalRevenueInterval[0]), roiAt(incrementalRevenueInterval[1])] : null,
  };
}
