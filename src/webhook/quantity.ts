/**
 * Kubernetes resource quantities (`10m`, `48Mi`, `1.5Gi`, `1e3`), parsed to a number of base
 * units so a request can be compared with a limit.
 */

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d{1,3}))?$/;

/**
 * Parses a non-negative Kubernetes quantity; undefined when it is not one.
 *
 * @example
 * parseQuantity('48Mi') // 50331648
 * parseQuantity('10m')  // 0.01
 */
export function parseQuantity(value: string): number | undefined {
  const m = QUANTITY.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[3] !== undefined) return n * 10 ** Number(m[3]);
  return n * (SUFFIX[m[2] ?? ''] as number);
}
