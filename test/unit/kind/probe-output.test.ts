import { describe, expect, it } from '@jest/globals';
import { LineSplitter, PROBE_SCRIPT, parseProbeLine, parseProbeOutput, probeCommand } from '../../../e2e/backends/kind-util.js';

describe('parseProbeLine', () => {
  it('parses ok lines with the answering pod as detail', () => {
    expect(parseProbeLine('1712345678123 ok helloworld-7d9f-abcde')).toEqual({ at: 1712345678123, available: true, detail: 'helloworld-7d9f-abcde' });
  });

  it('parses fail lines, keeping the whole error as detail', () => {
    expect(parseProbeLine("1712345678123 fail wget: can't connect to remote host (172.18.0.2): Connection refused")).toEqual({
      at: 1712345678123,
      available: false,
      detail: "wget: can't connect to remote host (172.18.0.2): Connection refused",
    });
  });

  it('accepts a missing detail, CRLF and surrounding blanks', () => {
    expect(parseProbeLine('1712345678123 ok')).toEqual({ at: 1712345678123, available: true });
    expect(parseProbeLine('  1712345678123   fail   timeout after 1s \r')).toEqual({ at: 1712345678123, available: false, detail: 'timeout after 1s' });
  });

  it('accepts seconds (with or without a fraction) and converts to ms', () => {
    expect(parseProbeLine('1712345678.5 ok x')?.at).toBe(1712345678500);
    expect(parseProbeLine('1712345678 fail')?.at).toBe(1712345678000);
  });

  it.each(['', 'Terminated', 'ok 1712345678123', '1712345678123 OK x', '1712345678123 okay', 'abc ok', '12 ok', '1712345678123ok'])(
    'ignores %p',
    (line) => {
      expect(parseProbeLine(line)).toBeUndefined();
    },
  );
});

describe('parseProbeOutput', () => {
  it('keeps only sample lines, sorted by time, stable for equal times', () => {
    const text = ['1000000000300 ok b', 'noise', '1000000000100 fail x', '', '1000000000300 fail c', '1000000000200 ok a'].join('\r\n');
    expect(parseProbeOutput(text).map((s) => `${s.at % 1000}:${s.available ? 'ok' : 'fail'}:${s.detail}`)).toEqual([
      '100:fail:x',
      '200:ok:a',
      '300:ok:b',
      '300:fail:c',
    ]);
  });
});

describe('LineSplitter', () => {
  it('returns complete lines across chunk boundaries and the remainder at the end', () => {
    const sp = new LineSplitter();
    expect(sp.push('1000000000001 o')).toEqual([]);
    expect(sp.push('k a\n1000000000002 fa')).toEqual(['1000000000001 ok a']);
    expect(sp.push('il b\r\n\n')).toEqual(['1000000000002 fail b', '']);
    expect(sp.push('1000000000003 ok')).toEqual([]);
    expect(sp.end()).toEqual(['1000000000003 ok']);
    expect(sp.end()).toEqual([]);
  });
});

describe('probeCommand', () => {
  it('runs the script with sh -c, passing URL, interval and timeout as positional parameters', () => {
    const cmd = probeCommand('http://172.18.0.2:31234/hostname', 150, 1);
    expect(cmd).toEqual(['sh', '-c', PROBE_SCRIPT, 'probe', 'http://172.18.0.2:31234/hostname', '150', '1']);
  });

  it('the script uses busybox-safe constructs: a timeout wrapper (not wget -T), one line per request', () => {
    expect(PROBE_SCRIPT).toContain('timeout "$timeout_s" wget -q -O - "$url"');
    expect(PROBE_SCRIPT).not.toMatch(/wget[^\n]*-T/);
    expect(PROBE_SCRIPT).toContain('echo "$at ok ');
    expect(PROBE_SCRIPT).toContain('echo "$at fail ');
    // SIGTERM only sets a flag: the request in flight finishes and its line is printed (the
    // graceful stop itself is tested with a real container in test/docker).
    expect(PROBE_SCRIPT).toContain("trap 'stopping=1' TERM");
    expect(PROBE_SCRIPT).not.toContain("trap 'exit");
    // Template-literal escapes came out as shell text.
    expect(PROBE_SCRIPT).toContain('"${2:-150}"');
    expect(PROBE_SCRIPT).toContain("tr -s '\\r\\n\\t'");
  });

  it.each([
    ['ftp://x/', 150, 1],
    ['http://x/ y', 150, 1],
    ["http://x/'", 150, 1],
    ['http://x/', 5, 1],
    ['http://x/', 150, 0],
    ['http://x/', 150.5, 1],
  ])('rejects %p interval %p timeout %p', (url, interval, timeout) => {
    expect(() => probeCommand(url, interval, timeout)).toThrow();
  });
});
