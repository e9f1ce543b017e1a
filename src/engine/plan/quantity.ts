// Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3", "500k") to integers.
// Parsed as an exact decimal (digits × 10^exp × 2^bin) so that "0.1" is 100 millicores, not
// 100.00000000000001 rounded up to 101; rounding is up, as the API server's MilliValue/Value do.

interface ExactQuantity {
  /** Sign and all digits of the number, decimal point removed. */
  digits: bigint;
  /** Power of ten applied to `digits` (fraction digits and decimal suffixes). */
  exp10: number;
  /** Power of two from a binary suffix (Ki = 10, Mi = 20...). */
  exp2: number;
}

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(.*)$/;
const EXPONENT = /^[eE]([+-]?\d+)$/;

function parseExact(quantity: string): ExactQuantity {
  const match = QUANTITY.exec(quantity.trim());
  if (!match) throw new Error(`invalid quantity "${quantity}"`);
  const [, sign = '', number = '', suffix = ''] = match;
  const [whole = '', fraction = ''] = number.split('.');
  const digits = BigInt(`${sign}${whole}${fraction}` || '0');
  let exp10 = -fraction.length;
  let exp2 = 0;

  const exponent = EXPONENT.exec(suffix);
  if (suffix in DECIMAL_SUFFIXES) exp10 += DECIMAL_SUFFIXES[suffix] ?? 0;
  else if (suffix in BINARY_SUFFIXES) exp2 = BINARY_SUFFIXES[suffix] ?? 0;
  else if (exponent) exp10 += Number(exponent[1]);
  else throw new Error(`invalid quantity "${quantity}": unknown suffix "${suffix}"`);
  return { digits, exp10, exp2 };
}

/** Ceiling division for bigints (toward +∞), as the API server rounds quantities up. */
function divCeil(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n > 0n ? q + 1n : q;
}

/** The quantity × 10^scale, rounded up to an integer. */
function scaled(quantity: string | number, scale: number): number {
  const { digits, exp10, exp2 } = parseExact(String(quantity));
  let numerator = digits * 2n ** BigInt(exp2);
  let denominator = 1n;
  const power = exp10 + scale;
  if (power >= 0) numerator *= 10n ** BigInt(power);
  else denominator = 10n ** BigInt(-power);
  return Number(divCeil(numerator, denominator));
}

/** CPU quantity to millicores ("250m" → 250, "1.5" → 1500). Missing means 0. */
export function cpuMillis(quantity: string | number | undefined): number {
  return quantity === undefined ? 0 : scaled(quantity, 3);
}

/** Memory (or any plain) quantity to units, bytes for memory ("128Mi" → 134217728). Missing means 0. */
export function quantityValue(quantity: string | number | undefined): number {
  return quantity === undefined ? 0 : scaled(quantity, 0);
}

/** Alias that reads better at call sites dealing with memory. */
export const memoryBytes = quantityValue;

/** Millicores for messages: "500m", or whole cores "2". */
export function formatMillis(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Bytes for messages: the largest binary unit that keeps it readable ("1Gi", "1.5Gi", "300Ki"). */
export function formatBytes(bytes: number): string {
  const units = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'];
  for (const [i, unit] of units.entries()) {
    const size = 1024 ** (units.length - i);
    if (Math.abs(bytes) >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}`;
    }
  }
  return String(bytes);
}
