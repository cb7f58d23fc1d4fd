// A QoS 2 publish PUBREC'd by a broker whose link is gone but whose loss the session has not handled
// yet: a 3.1.1 link closed right after a PUBREC waits DENIED_CLOSE_SETTLE_MS to tell a refusal from a
// death (upstream-links.ts). A client PUBREL arriving then used to finish the flow (PUBCOMP) although
// the broker never got the PUBREL, so no broker stored the message, and the loss handled 20 ms later
// found nothing left to re-send. Found while looking for pool-change-random seed 5's lost value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet } from 'mqtt-packet';
import type { Qos2OnBrokerLoss } from '../../orchestrator/session/inflight-publish.ts';
import { fakeContext, fakeInbound, fakeLinks } from '../helpers/fake-session.ts';

/** One QoS 2 publish PUBREC'd by its broker, whose link then closes (gone from the session's links). */
function pubrecThenLinkGone(onBrokerLoss: Qos2OnBrokerLoss) {
  const { links, sent } = fakeLinks(['b1', 'b2']);
  const toClient: string[] = [];
  const pubrels: string[] = [];
  for (const [id, l] of links) {
    const up = l.upstream as unknown as { send: (p: Packet) => boolean };
    const send = up.send;
    up.send = (p) => {
      if (p.cmd === 'pubrel') pubrels.push(id);
      return send(p);
    };
  }
  const ctx = fakeContext({
    sendDown: (p) => toClient.push(p.cmd) > 0,
    link: (id) => links.get(id),
    publishTargets: () => [...links.values()].filter((l) => l.upstream.isUp),
    subscribeTargets: () => [...links.values()],
  });
  const qos2 = { onBrokerLoss, maxKeptBytes: 1024 };
  const inbound = fakeInbound(ctx, 100, qos2);
  const publish = { cmd: 'publish', topic: 't', payload: Buffer.from('m'), qos: 2, retain: true, dup: false };
  inbound.onPublish({ ...publish, cmd: 'publish', qos: 2, messageId: 7 });
  const first = [...links.keys()].find((id) => (sent.get(id) ?? []).length === 1) as string;
  const other = first === 'b1' ? 'b2' : 'b1';
  const ack = (id: string, cmd: 'pubrec' | 'pubcomp') => {
    const link = links.get(id);
    assert.ok(link);
    inbound.onBrokerAck(link, { cmd, messageId: sent.get(id)?.at(-1)?.messageId }, 7);
  };
  ack(first, 'pubrec');
  assert.deepEqual(toClient, ['pubrec']);
  (links.get(first)?.upstream as unknown as { isUp: boolean }).isUp = false;
  links.delete(first); // as UpstreamLinks.onDown does at once; the loss is handled later
  inbound.onPubrel(7);
  return { inbound, first, other, sent, toClient, pubrels, ack };
}

describe('a client PUBREL while its broker link is gone, its loss not handled yet', () => {
  it("'resend': no PUBCOMP yet; once the loss is handled the publish goes to another broker, the PUBREL after it", () => {
    const s = pubrecThenLinkGone('resend');
    assert.deepEqual(s.toClient, ['pubrec'], 'no PUBCOMP: no broker has the message');
    s.inbound.onBrokerDown(s.first);
    assert.deepEqual(
      (s.sent.get(s.other) ?? []).map((p) => p.payload.toString()),
      ['m'],
      're-sent',
    );
    s.ack(s.other, 'pubrec');
    assert.deepEqual(s.pubrels, [s.other]);
    s.ack(s.other, 'pubcomp');
    assert.deepEqual(s.toClient, ['pubrec', 'pubcomp']);
  });

  it("'drop': finished (PUBCOMP) when the loss is handled, as for a broker that died first", () => {
    const s = pubrecThenLinkGone('drop');
    assert.deepEqual(s.toClient, ['pubrec']);
    s.inbound.onBrokerDown(s.first);
    assert.deepEqual(s.toClient, ['pubrec', 'pubcomp']);
    assert.deepEqual(s.sent.get(s.other), [], 'not re-sent');
  });
});
