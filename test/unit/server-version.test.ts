// What the engine makes of the API server's /version: parsed as managed offerings write it, and
// judged against the supported range (docs/compatibility.md).
import { describe, expect, it } from '@jest/globals';
import {
  judgeServerVersion,
  parseServerVersion,
  SUPPORTED_MINORS,
  SUPPORTED_RANGE_TEXT,
} from '../../src/engine/kube/server-version.js';

describe('parseServerVersion', () => {
  it('reads upstream, EKS and GKE gitVersions', () => {
    expect(parseServerVersion({ major: '1', minor: '37', gitVersion: 'v1.37.2' })).toEqual({ major: 1, minor: 37, text: 'v1.37.2' });
    expect(parseServerVersion({ major: '1', minor: '32+', gitVersion: 'v1.32.9-eks-113cf36' })).toMatchObject({ major: 1, minor: 32 });
    expect(parseServerVersion({ major: '1', minor: '33+', gitVersion: 'v1.33.5-gke.1201000' })).toMatchObject({ major: 1, minor: 33 });
  });
  it('falls back to major/minor (a "+" suffix stripped) when gitVersion says nothing', () => {
    expect(parseServerVersion({ major: '1', minor: '31+', gitVersion: '' })).toEqual({ major: 1, minor: 31, text: '1.31' });
  });
  it('gives up on an answer without a version', () => {
    expect(parseServerVersion({})).toBeUndefined();
    expect(parseServerVersion({ gitVersion: 'unknown' })).toBeUndefined();
  });
});

describe('judgeServerVersion', () => {
  const at = (minor: number, text = `v1.${minor}.0`) => judgeServerVersion({ major: 1, minor, text });

  it('every minor of the range is supported', () => {
    for (let minor = SUPPORTED_MINORS.oldest; minor <= SUPPORTED_MINORS.newest; minor++) expect(at(minor)).toEqual({ kind: 'supported', version: `v1.${minor}.0` });
  });
  it('an older minor: the drain goes on, told which version, the range and what to do', () => {
    const v = at(SUPPORTED_MINORS.oldest - 1, 'v1.31.14-eks-5f2b0c3');
    expect(v.kind).toBe('untested');
    const message = (v as { message: string }).message;
    expect(message).toContain('v1.31.14-eks-5f2b0c3');
    expect(message).toContain(SUPPORTED_RANGE_TEXT);
    expect(message).toMatch(/older/);
    expect(message).toMatch(/upgrade the cluster/);
  });
  it('a newer minor: the drain goes on, told it is untested', () => {
    const v = at(SUPPORTED_MINORS.newest + 1);
    expect(v).toMatchObject({ kind: 'untested' });
    expect((v as { message: string }).message).toMatch(/newer than the supported range.*not tested yet/);
  });
  it('a server without policy/v1 Eviction is refused', () => {
    expect(at(21)).toMatchObject({ kind: 'unusable', message: expect.stringMatching(/v1\.21\.0.*policy\/v1.*Nothing was changed/) });
    expect(at(22).kind).toBe('untested');
    expect(judgeServerVersion({ major: 2, minor: 0, text: 'v2.0.0' }).kind).toBe('unusable');
  });
  it('an unreadable version is said, not refused', () => {
    expect(judgeServerVersion(undefined)).toMatchObject({ kind: 'untested', message: expect.stringContaining(SUPPORTED_RANGE_TEXT) });
  });
});
