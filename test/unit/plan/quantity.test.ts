import { describe, expect, it } from '@jest/globals';
import { cpuMillis, formatBytes, formatMillis, memoryBytes, quantityValue } from '../../../src/engine/plan/quantity.js';

describe('cpuMillis', () => {
  it.each([
    ['100m', 100],
    ['1', 1000],
    ['0.5', 500],
    ['0.1', 100], // exact decimal: not 100.00000000000001 rounded up to 101
    ['1.5', 1500],
    ['2', 2000],
    ['1e3', 1_000_000],
    ['1E-3', 1],
    ['250000u', 250],
    ['500000000n', 500],
    ['1k', 1_000_000],
    [2, 2000],
  ])('%s → %i millicores', (q, expected) => {
    expect(cpuMillis(q)).toBe(expected);
  });

  it('rounds fractions of a millicore up, as MilliValue does', () => {
    expect(cpuMillis('0.0001')).toBe(1);
    expect(cpuMillis('1500u')).toBe(2);
  });

  it('treats a missing quantity as 0', () => {
    expect(cpuMillis(undefined)).toBe(0);
  });
});

describe('memoryBytes', () => {
  it.each([
    ['128Mi', 128 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['2Ki', 2048],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['500k', 500_000],
    ['1M', 1_000_000],
    ['1G', 1e9],
    ['1e3', 1000],
    ['129e6', 129_000_000],
    ['1000', 1000],
    ['1Ti', 1024 ** 4],
    ['1E', 1e18],
  ])('%s → %d bytes', (q, expected) => {
    expect(memoryBytes(q)).toBe(expected);
  });

  it('rounds up to a whole byte', () => {
    expect(memoryBytes('100m')).toBe(1);
  });

  it('reads plain counts such as allocatable pods', () => {
    expect(quantityValue('110')).toBe(110);
  });

  it.each(['', 'abc', '1Xi', '1e', '1.2.3', 'Mi', '--1'])('rejects %p naming it', (q) => {
    expect(() => memoryBytes(q)).toThrow(`invalid quantity "${q}"`);
  });
});

describe('formatting', () => {
  it('prints millicores as m or whole cores', () => {
    expect(formatMillis(500)).toBe('500m');
    expect(formatMillis(2000)).toBe('2');
    expect(formatMillis(0)).toBe('0');
  });

  it('prints bytes with a binary unit', () => {
    expect(formatBytes(1024 ** 3)).toBe('1Gi');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512Mi');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5Gi');
    expect(formatBytes(300)).toBe('300');
  });
});
