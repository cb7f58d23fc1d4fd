// Fakes for unit tests of the publish flow (InboundPublishes): broker links whose sends are recorded,
// a SessionContext over them, and the publish flow over that. Pure: no sockets.
import assert from 'node:assert/strict';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { createRootLogger } from '../../common/logger.ts';
import { PacketIdSpace } from '../../orchestrator/protocol/packet-ids.ts';
import { Router } from '../../orchestrator/routing/strategies.ts';
import type {
  BrokerCounters,
  SessionContext,
  UpstreamLink,
  UpstreamPending,
} from '../../orchestrator/session/context.ts';
import { InboundPublishes } from '../../orchestrator/session/inbound-publish.ts';
import type { Qos2Options } from '../../orchestrator/session/inflight-publish.ts';
import { TopicAliases } from '../../orchestrator/session/topic-alias.ts';
import type { Upstream } from '../../orchestrator/session/upstream.ts';

/**
 * A fake `sendPublishAs` / `sendDownAs` (what the flows write under a packet id of their own): `send`
 * gets the packet it stands for, `{ ...p, messageId, dup }`, so a test asserts the ids the peer sees.
 */
export function sentAs(
  send: (p: IPublishPacket) => boolean,
): (p: IPublishPacket, messageId: number | undefined, dup: boolean) => boolean {
  return (p, messageId, dup) => send({ ...p, messageId, dup });
}

/** One fake broker link per id, MQTT 5, up and synced; every PUBLISH it is sent lands in `sent`. */
export function fakeLinks(
  ids: readonly string[],
  windows: { receiveMaximum?: number; qos2Maximum?: number } = {},
): { links: Map<string, UpstreamLink>; sent: Map<string, IPublishPacket[]> } {
  const sent = new Map<string, IPublishPacket[]>();
  const links = new Map<string, UpstreamLink>();
  for (const id of ids) {
    const list: IPublishPacket[] = [];
    sent.set(id, list);
    const record = (p: IPublishPacket) => list.push(p) > 0;
    const upstream = {
      brokerId: id,
      protocolVersion: 5,
      isUp: true,
      receiveMaximum: windows.receiveMaximum ?? 20,
      qos2Maximum: windows.qos2Maximum ?? 20,
      writableNeedDrain: false,
      send: (p: Packet) => (p.cmd === 'publish' ? record(p) : true),
      sendPublishAs: sentAs(record),
      onRoom: () => undefined,
    } as unknown as Upstream;
    links.set(id, { brokerId: id, upstream, ids: new PacketIdSpace<UpstreamPending>(), synced: true });
  }
  return { links, sent };
}

/** Counters that count nothing, but those a test gives (`over`). */
export function fakeCounters(over: Partial<BrokerCounters> = {}): BrokerCounters {
  return {
    published: () => undefined,
    delivered: () => undefined,
    expired: () => undefined,
    publishExpired: () => undefined,
    qos0Detoured: () => undefined,
    roomPaused: () => undefined,
    ...over,
  };
}

/**
 * A connected, settled session's context (client `c1`) that refuses protocol errors; `over` gives what a
 * test routes by (link, publishTargets, subscribeTargets, …).
 */
export function fakeContext(
  over: Pick<SessionContext, 'link' | 'publishTargets' | 'subscribeTargets'> & Partial<SessionContext>,
): SessionContext {
  const ctx: SessionContext = {
    clientId: 'c1',
    version: 5,
    log: createRootLogger({ level: 'silent' }),
    counters: fakeCounters(),
    sendDown: () => true,
    linksSettled: true,
    linksFor: () => true,
    openEveryLink: () => undefined,
    deferWhileLinking: () => false,
    protocolError: (reason) => assert.fail(`protocol error: ${reason}`),
    pauseClient: () => undefined,
    resumeClient: () => undefined,
    pauseUpstreams: () => undefined,
    resumeUpstreams: () => undefined,
    ...over,
    sendDownAs: over.sendDownAs ?? sentAs((p) => ctx.sendDown(p)),
  };
  return ctx;
}

/** The publish flow over a fake context: round-robin routing, 10 topic aliases, no replay window. */
export function fakeInbound(ctx: SessionContext, maxInflight = 100, qos2?: Qos2Options): InboundPublishes {
  return new InboundPublishes(
    ctx,
    new Router('round-robin'),
    new TopicAliases(10),
    maxInflight,
    undefined,
    undefined,
    qos2,
  );
}

/** A private field of a session part, read for a test (element access is allowed on private members). */
export function field(object: object, name: string): unknown {
  return (object as Record<string, unknown>)[name];
}
