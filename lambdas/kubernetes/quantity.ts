import { RunbookError } from '../shared/errors';

// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource: <number><suffix>, the suffix a binary
// SI (Ki…Ei), a decimal SI (n, u, m, k, M…E) or a decimal exponent (e3, E-2)), in the units the right-sizing
// report compares: millicores of CPU, bytes of memory. Hand-written: ~40 lines instead of the client library.

/** A quantity the API server would not have accepted: the line says so instead of guessing. */
export class InvalidQuantity extends RunbookError {
  override name = 'InvalidQuantity';
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
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
};
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** The quantity as a plain number of its base unit (cores, bytes). */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidQuantity(`${value} is not a resource quantity`);
    return value;
  }
  const match = QUANTITY.exec(value.trim());
  if (!match) throw new InvalidQuantity(`"${value}" is not a resource quantity (e.g. 250m, 0.5, 512Mi, 1G)`);
  const [, digits = '', suffix = '', exponent] = match;
  const number = Number(digits);
  const scale = exponent !== undefined ? 10 ** Number(exponent) : (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
  const parsed = number * scale;
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidQuantity(`"${value}" is not a resource quantity`);
  return parsed;
}

/** CPU in millicores, rounded up as Kubernetes rounds a CPU quantity (the millicore is its precision). */
export const cpuMillicores = (value: string | number): number =>
  Math.ceil(parseQuantity(value) * 1000 - 1e-9);

/** Memory in bytes, rounded up to a whole byte. */
export const memoryBytes = (value: string | number): number => Math.ceil(parseQuantity(value) - 1e-9);
