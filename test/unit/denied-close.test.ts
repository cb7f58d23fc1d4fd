import assert from 'node:assert/strict';
import { it } from 'node:test';
import { closedForDenial, DENIED_CLOSE_WINDOW_MS } from '../../orchestrator/session/denied-close.ts';

it('a broker close within the window after a PUBACK 0x87 ends the client; other losses do not', () => {
  assert.equal(closedForDenial(1_000, 1_010, 'connection closed'), true);
  assert.equal(closedForDenial(1_000, 1_000 + DENIED_CLOSE_WINDOW_MS, 'connection closed'), true);
  assert.equal(closedForDenial(1_000, 1_001 + DENIED_CLOSE_WINDOW_MS, 'connection closed'), false);
  assert.equal(closedForDenial(undefined, 1_010, 'connection closed'), false);
  assert.equal(closedForDenial(1_000, 1_010, 'no PINGRESP within 1 s'), false);
});
