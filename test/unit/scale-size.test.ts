import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientsForFileLimit,
  hardFileLimit,
  RESERVED_FILES,
  socketsPerClient,
} from '../../bench/lib/scale-size.ts';

describe('connection scale: how many clients fit the open-file limit', () => {
  it('counts the sockets a client costs by routing (measured: 4.00 and 2.20 over 3 brokers)', () => {
    assert.equal(socketsPerClient('round-robin', 3), 4);
    assert.ok(Math.abs(socketsPerClient('client-affinity', 3) - 2.2) < 1e-12);
    assert.ok(Math.abs(socketsPerClient('topic-affinity', 3) - 2.2) < 1e-12);
    assert.equal(socketsPerClient('round-robin', 1), 2);
  });

  it('fills the limit, less what is reserved, in steps of 500', () => {
    // (20,000 − 500) / 4 = 4,875 → 4,500; / 2.2 = 8,863 → 8,500.
    assert.equal(clientsForFileLimit(20_000, 'round-robin', 3), 4500);
    assert.equal(clientsForFileLimit(20_000, 'client-affinity', 3), 8500);
    // Exactly at a step.
    assert.equal(clientsForFileLimit(RESERVED_FILES + 4 * 5000, 'round-robin', 3), 5000);
    assert.equal(clientsForFileLimit(RESERVED_FILES + 4 * 5000 - 1, 'round-robin', 3), 4500);
    assert.equal(clientsForFileLimit(1024, 'round-robin', 3), 0);
  });

  it('reads the hard limit from /proc/PID/limits', () => {
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max processes             95903                95903                processes \n' +
      'Max open files            1024                 20000                files     \n';
    assert.equal(hardFileLimit(limits), 20000);
    assert.equal(hardFileLimit(limits.replace('20000', 'unlimited')), undefined);
    assert.equal(hardFileLimit('Limit Soft Hard\n'), undefined);
  });
});
