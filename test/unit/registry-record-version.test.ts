import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeTombstone,
  isTombstone,
  newestRecord,
  nextVersion,
  type RegistryRecord,
  type RegistryTombstone,
  staleSubscriptions,
  versionOf,
} from '../../orchestrator/registry/record-version.ts';
import {
  decodeEntry,
  decodeRecord,
  encodeEntry,
  type RegistryEntry,
} from '../../orchestrator/registry/reserved.ts';

const live = (writtenAt?: number, topic = 'a/#'): RegistryEntry => ({
  clientId: 'c1',
  protocolVersion: 4,
  sessionExpirySeconds: 0xffff_ffff,
  online: null,
  subscriptions: [{ topic, qos: 1 }],
  subscribedAt: ['127.0.0.1:1883'],
  ...(writtenAt !== undefined ? { writtenAt } : {}),
});
const ended = (writtenAt: number): RegistryTombstone => ({ clientId: 'c1', ended: true, writtenAt });

describe('registry record versions (review finding 5)', () => {
  it('the newest copy wins: a tombstone over the stale live copy a broker kept, and the other way round', () => {
    assert.deepEqual(newestRecord([live(100), ended(200)]), ended(200));
    assert.deepEqual(newestRecord([ended(200), live(100)]), ended(200));
    assert.deepEqual(newestRecord([ended(200), live(300, 'b/#')]), live(300, 'b/#'));
  });

  it('a copy from before versions is the oldest of all; among such copies the first broker wins', () => {
    assert.equal(versionOf(live()), Number.NEGATIVE_INFINITY);
    assert.deepEqual(newestRecord([live(undefined, 'old/#'), ended(1)]), ended(1));
    assert.deepEqual(newestRecord([live(undefined, 'x/#'), live(undefined, 'y/#')]), live(undefined, 'x/#'));
  });

  it('ties go to the earlier broker; missing copies are passed over; none at all is undefined', () => {
    assert.deepEqual(newestRecord([undefined, live(5, 'x/#'), live(5, 'y/#')]), live(5, 'x/#'));
    assert.deepEqual(newestRecord([undefined, ended(7), undefined]), ended(7));
    assert.equal(newestRecord([undefined, undefined]), undefined);
    assert.equal(newestRecord([]), undefined);
  });

  it('stale filters: those of older live copies the newest lacks, each once; none when nothing is older', () => {
    const newer = { ...live(300, 'a/#'), subscriptions: [{ topic: 'a/#', qos: 1 as const }] };
    const older = {
      ...live(100),
      subscriptions: [
        { topic: 'a/#', qos: 1 as const },
        { topic: 'b/#', qos: 0 as const },
      ],
    };
    assert.deepEqual(staleSubscriptions([older, newer, live(50, 'b/#')], newer), [{ topic: 'b/#', qos: 0 }]);
    // A tombstone keeps nothing: every filter of an older copy is stale.
    assert.deepEqual(
      staleSubscriptions([ended(400), older], ended(400)).map((s) => s.topic),
      ['a/#', 'b/#'],
    );
    assert.deepEqual(staleSubscriptions([newer, undefined], newer), []);
    assert.deepEqual(staleSubscriptions([undefined], undefined), []);
  });

  it('a writer stamps above what it wrote or read, even when its clock is behind', () => {
    assert.equal(nextVersion(1000, 0), 1000);
    assert.equal(nextVersion(1000, 1000), 1001);
    assert.equal(nextVersion(1000, 5000), 5001);
    assert.equal(nextVersion(1000.7, 0), 1000);
  });

  it('records round-trip with their version; an old record without one still decodes', () => {
    assert.deepEqual(decodeRecord(encodeEntry(live(1234))), live(1234));
    const old = Buffer.from(
      '{"v":1,"clientId":"c1","protocolVersion":4,"sessionExpirySeconds":4294967295,"online":null,' +
        '"subscriptions":[{"topic":"a/#","qos":1}],"subscribedAt":["127.0.0.1:1883"]}',
    );
    assert.deepEqual(decodeRecord(old), live());
    assert.deepEqual(decodeEntry(old), live());
    // A version that is not a finite number is ignored (the record counts as the oldest).
    const bad = Buffer.from(JSON.stringify({ v: 1, ...live(), writtenAt: 'soon' }));
    assert.deepEqual(decodeEntry(bad), live());
  });

  it('tombstones round-trip; they are no live entry; malformed ones are undefined', () => {
    const record = decodeRecord(encodeTombstone(ended(42))) as RegistryRecord;
    assert.deepEqual(record, ended(42));
    assert.ok(isTombstone(record));
    assert.equal(decodeEntry(encodeTombstone(ended(42))), undefined);
    for (const raw of [
      { v: 1, clientId: 'c1', ended: true },
      { v: 1, clientId: 'c1', ended: true, writtenAt: null },
      { v: 1, clientId: 7, ended: true, writtenAt: 1 },
      { v: 2, clientId: 'c1', ended: true, writtenAt: 1 },
      { v: 1, clientId: 'c1', ended: 'yes', writtenAt: 1 },
    ])
      assert.equal(decodeRecord(Buffer.from(JSON.stringify(raw))), undefined, JSON.stringify(raw));
  });
});
