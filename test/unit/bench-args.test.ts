import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchUsage, envAssignments, nodeFlags, readBenchArgs } from '../../bench/lib/bench-args.ts';

describe('benchmark options: node flags and environment assignments', () => {
  it('splits node flags on whitespace; none when unset', () => {
    assert.deepEqual(nodeFlags(undefined), []);
    assert.deepEqual(nodeFlags('  --a  --b=1 '), ['--a', '--b=1']);
  });
  it('reads NAME=VALUE words; NAME= is an empty value (left unset by the bench); a value keeps its = signs', () => {
    assert.deepEqual(envAssignments('env', undefined), {});
    assert.deepEqual(envAssignments('env', 'GLIBC_TUNABLES= A_1=x=y'), { GLIBC_TUNABLES: '', A_1: 'x=y' });
  });
  it('refuses a word that is not an assignment, naming the option and the word', () => {
    assert.throws(() => envAssignments('baseline-env', 'GLIBC_TUNABLES'), {
      message: "--baseline-env: 'GLIBC_TUNABLES' is not NAME=VALUE",
    });
    assert.throws(() => envAssignments('baseline-env', '1X=2'), /'1X=2' is not NAME=VALUE/);
  });
});

describe('benchmark command lines: --help and bad options', () => {
  const options = {
    runs: { type: 'string', default: '3' },
    'baseline-root': { type: 'string' },
    short: { type: 'boolean', default: false },
    direct: { type: 'boolean' },
  } as const;
  const read = (args: string[]) => readBenchArgs('bench:x', 'What x measures.', options, args);

  it('reads the options, defaults included, and leaves --help out of them', () => {
    assert.deepEqual(read(['--runs', '5', '--direct']), {
      values: { runs: '5', direct: true, short: false },
    });
    assert.deepEqual(read([]), { values: { runs: '3', short: false } });
  });

  it('--help: the usage, every option with its default, exit 0', () => {
    const result = read(['--runs', '5', '--help']);
    assert.ok('exit' in result);
    assert.equal(result.exit, 0);
    assert.equal(result.text, benchUsage('bench:x', 'What x measures.', options));
    const lines = result.text.split('\n');
    assert.equal(lines[0], 'usage: npm run bench:x -- [options]');
    assert.equal(lines[1], 'What x measures.');
    assert.match(result.text, /\n {2}--baseline-root VALUE\n/);
    assert.match(result.text, /\n {2}--direct +a switch\n/);
    assert.match(result.text, /\n {2}--runs VALUE +default 3\n/);
    assert.match(result.text, /\n {2}--short +a switch\n/);
    assert.match(result.text, /\n {2}--help +this text\n$/);
  });

  it('an unknown option, a missing value or a stray argument: the message and the usage, exit 2', () => {
    for (const [args, message] of [
      [['--rnus', '5'], /Unknown option '--rnus'/],
      [['--runs'], /Option '--runs <value>' argument missing/],
      [['5'], /Unexpected argument '5'/],
    ] as const) {
      const result = read([...args]);
      assert.ok('exit' in result, args.join(' '));
      assert.equal(result.exit, 2);
      assert.match(result.text, /^bench:x: /);
      assert.match(result.text, message);
      assert.ok(result.text.endsWith(benchUsage('bench:x', 'What x measures.', options)));
    }
  });
});
