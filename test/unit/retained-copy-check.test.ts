import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkCopies, type SentCopy } from '../../manager/retained-copy-check.ts';

const copy = (topic: string, payload: string, qos: 0 | 1 | 2, owner = 'b:1883'): SentCopy => ({
  topic,
  payload: Buffer.from(payload),
  qos,
  owner,
});

it('a QoS 0 copy is stored only when its owner holds the same payload (review finding 7)', () => {
  const copies = [
    copy('same', 'v', 0),
    copy('missing', 'v', 0),
    copy('other', 'v', 0),
    copy('elsewhere', 'v', 0, 'c:1883'), // its owner's read-back failed
    copy('acked', 'v', 1, 'c:1883'),
    copy('acked2', 'v', 2),
  ];
  const held = new Map([
    [
      'b:1883',
      new Map([
        ['same', Buffer.from('v')],
        ['other', Buffer.from('w')],
      ]),
    ],
    ['c:1883', undefined],
  ]);
  const { stored, unconfirmed } = checkCopies(copies, held);
  assert.deepEqual(
    stored.map((c) => c.topic),
    ['same', 'acked', 'acked2'],
  );
  assert.deepEqual(
    unconfirmed.map((c) => c.topic),
    ['missing', 'other', 'elsewhere'],
  );
});

it('an owner never read back confirms none of its QoS 0 copies', () => {
  const { stored, unconfirmed } = checkCopies([copy('x', 'v', 0)], new Map());
  assert.deepEqual([stored.length, unconfirmed.length], [0, 1]);
});
