// JSON that keeps bigint and Date, for stored responses that must replay exactly.

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    return v;
  });
}

export function decodeJson<T>(text: string | unknown): T {
  const source = typeof text === 'string' ? text : JSON.stringify(text);
  return JSON.parse(source, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint') return BigInt(v.$bigint);
      if (keys.length === 1 && keys[0] === '$date') return new Date(v.$date);
    }
    return v;
  }) as T;
}
