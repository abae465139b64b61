import { describe, expect, it } from 'vitest';
import { cpuMillicores, InvalidQuantity, memoryBytes } from '../../lambdas/kubernetes/quantity';

describe('Kubernetes quantities', () => {
  it.each([
    ['250m', 250],
    ['0.5', 500],
    ['1', 1000],
    [2, 2000],
    ['1.5', 1500],
    ['100000000n', 100],
    ['1e-1', 100],
    ['0.0001', 1],
  ])('reads CPU %j as %d millicores', (value, expected) => {
    expect(cpuMillicores(value)).toBe(expected);
  });

  it.each([
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['129M', 129e6],
    ['128974848', 128_974_848],
    ['123Ki', 123 * 1024],
    ['1e3', 1000],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['500m', 1],
  ])('reads memory %j as %d bytes', (value, expected) => {
    expect(memoryBytes(value)).toBe(expected);
  });

  it.each(['', 'abc', '1 Gi', '-1', '1Gb', '1.2.3', 'Mi'])('refuses %j by name', (value) => {
    expect(() => memoryBytes(value)).toThrow(InvalidQuantity);
  });
});
