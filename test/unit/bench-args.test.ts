import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envAssignments, nodeFlags } from '../../bench/lib/bench-args.ts';

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
