import type { MqttClient } from 'mqtt';
import { connectMqtt, endMqtt, type Follow, type QoS } from './mqtt-clients.ts';
import { dueAtMs, type Pacing, sequenceNumbers } from './pacing.ts';
import { encodeMessage, preciseNow } from './payload.ts';
import type { TaxiRecord } from './record.ts';
import { taxiTopic } from './shares.ts';

/**
 * The paper's Algorithm 3: each publisher connection replays its share of the trace, one message per
 * fix on `taxi/<id>`, paced as asked. QoS 1/2 keep at most `inflight` unacknowledged publishes per
 * connection (a bounded window: a slow broker slows the publisher, it never queues without limit).
 */
export interface PublishOptions {
  /** Publisher i connects to urls[i % urls.length]. */
  urls: readonly string[];
  qos: QoS;
  pacing: Pacing;
  /** Re-resolve the service name here after a plain close (clients given a DNS name). */
  follow?: Follow | undefined;
  /** MQTT 3.1.1 (4, the default) or 5 (which hears a Server Reference when it is moved). */
  protocolVersion?: 4 | 5;
  /** Unacknowledged publishes per connection at QoS 1/2. Default 64. */
  inflight?: number;
  clientIdPrefix?: string;
  /**
   * The replay's start, epoch ms, or a function called once every connection is up that resolves to it
   * (so several processes share one timeline). Now (once connected) when absent.
   */
  startAt?: number | (() => Promise<number>);
  /** The trace time of the replay's first fix (speedup pacing). The first record of share 0 when absent. */
  firstEpochMicros?: number;
  /** Called after each batch with the number acknowledged (or sent, at QoS 0) so far across publishers. */
  onProgress?: (done: number) => void;
  /** Index of shares[0] among all publishers (when a process runs only some of the shares). */
  indexOffset?: number;
  /** All publishers of the replay, across processes (rate pacing splits the rate among them). */
  totalPublishers?: number;
  /** Give up waiting for acknowledgements this long after the last publish. Default 60 s. */
  ackTimeoutMs?: number;
  /**
   * Reconnect every `everyMs` to the address `urls()` gives now (publisher i takes urls[i % n]), like
   * a taxi whose cellular link comes and goes: how clients reach orchestrators added under load.
   * The publisher waits for its in-flight publishes first, so nothing is lost in the switch.
   */
  rebalance?: { everyMs: number; urls: () => Promise<readonly string[]> };
  /** Per-message hooks (the chaos run's ledger): first send, and acknowledgement (QoS 1/2). */
  observe?: {
    sent(topic: string, seq: number, at: number): void;
    acked(topic: string, seq: number, at: number): void;
  };
}

export interface PublisherResult {
  index: number;
  sent: number;
  acked: number;
  failed: number;
  firstSendAt: number | undefined;
  lastSendAt: number | undefined;
  lastAckAt: number | undefined;
  reconnects: number;
  /** Publishes sent again after the client failed them unacknowledged (a connection closed under them). */
  resent: number;
}

export interface PublishResult {
  publishers: PublisherResult[];
  sent: number;
  acked: number;
  failed: number;
  /** First send to last acknowledgement (QoS 0: last send), seconds. */
  seconds: number;
  startedAt: number;
  finishedAt: number;
}

export function newPublisherResult(index: number): PublisherResult {
  return {
    index,
    sent: 0,
    acked: 0,
    failed: 0,
    firstSendAt: undefined,
    lastSendAt: undefined,
    lastAckAt: undefined,
    reconnects: 0,
    resent: 0,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Sends of one message at most (the first and the re-sends after the client failed it), and the pause between. */
const MAX_SEND_ATTEMPTS = 5;
const RESEND_DELAY_MS = 500;

const followOf = (options: PublishOptions, index: number) =>
  options.follow ? { ...options.follow, index } : undefined;

async function publishShare(
  initial: MqttClient,
  share: readonly TaxiRecord[],
  result: PublisherResult,
  publishers: number,
  options: PublishOptions & { startAt: number; firstEpochMicros: number },
  tick: () => void,
  clientId: string,
): Promise<{ result: PublisherResult; client: MqttClient }> {
  let client = initial;
  let currentUrl = options.urls[result.index % options.urls.length];
  let nextRebalance = options.rebalance ? Date.now() + options.rebalance.everyMs : Number.POSITIVE_INFINITY;
  const window = options.inflight ?? 64;
  const seqs = sequenceNumbers(share);
  let inflight = 0;
  let wake: (() => void) | undefined;
  const settled = () => {
    inflight -= 1;
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (let i = 0; i < share.length; i++) {
    const record = share[i] as TaxiRecord;
    const due = options.startAt + dueAtMs(options.pacing, record, i, publishers, options.firstEpochMicros);
    const wait = due - Date.now();
    if (wait >= 1) await sleep(wait);
    while (options.qos > 0 && inflight >= window) await new Promise<void>((r) => (wake = r));
    if (options.rebalance && Date.now() >= nextRebalance) {
      nextRebalance = Date.now() + options.rebalance.everyMs;
      const urls = await options.rebalance.urls();
      const url = urls[result.index % urls.length];
      if (url !== undefined && url !== currentUrl) {
        currentUrl = url;
        while (inflight > 0) await new Promise<void>((r) => (wake = r));
        await endMqtt(client);
        client = await connectMqtt(
          url,
          { clientId, clean: true, protocolVersion: options.protocolVersion ?? 4 },
          followOf(options, result.index),
        );
        result.reconnects += 1;
      }
    }
    const now = preciseNow();
    result.firstSendAt ??= now;
    result.lastSendAt = now;
    result.sent += 1;
    const seq = seqs[i] ?? 0;
    const topic = taxiTopic(record.taxi);
    const payload = encodeMessage(record, seq, now);
    options.observe?.sent(topic, seq, now);
    if (options.qos === 0) {
      client.publish(topic, payload, { qos: 0 });
      result.acked += 1;
      result.lastAckAt = now;
      if (client.stream.writableNeedDrain) await new Promise((r) => client.stream.once('drain', r));
      if (i % 256 === 255) {
        tick();
        await new Promise((r) => setImmediate(r));
      }
      continue;
    }
    inflight += 1;
    const qos = options.qos;
    // A publish the client gave up on (MQTT.js fails a clean session's in-flight QoS 1/2 publishes
    // with "Connection closed" on a forced close) was never acknowledged: a device sends it again,
    // as it would after any lost connection.
    const send = (attempt: number): void => {
      client.publish(topic, payload, { qos }, (err) => {
        if (err && attempt < MAX_SEND_ATTEMPTS) {
          result.resent += 1;
          setTimeout(() => send(attempt + 1), RESEND_DELAY_MS);
          return;
        }
        if (err) result.failed += 1;
        else {
          result.acked += 1;
          result.lastAckAt = preciseNow();
          options.observe?.acked(topic, seq, result.lastAckAt);
        }
        settled();
        if ((result.acked & 255) === 0) tick();
      });
    };
    send(1);
  }
  const deadline = Date.now() + (options.ackTimeoutMs ?? 60_000);
  while (inflight > 0 && Date.now() < deadline)
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 200);
    });
  return { result, client };
}

/** Replays `shares[i]` through publisher connection i; resolves when every publish is acknowledged. */
export async function runPublishers(
  shares: readonly (readonly TaxiRecord[])[],
  options: PublishOptions,
): Promise<PublishResult> {
  const prefix = options.clientIdPrefix ?? `taxi-pub-${process.pid}`;
  const offset = options.indexOffset ?? 0;
  const ids = shares.map((_, i) => `${prefix}-${offset + i}`);
  const clients = await Promise.all(
    shares.map((_, i) => {
      const url = options.urls[(offset + i) % options.urls.length] as string;
      return connectMqtt(
        url,
        { clientId: ids[i] as string, clean: true, protocolVersion: options.protocolVersion ?? 4 },
        followOf(options, offset + i),
      );
    }),
  );
  const results = shares.map((_, i) => newPublisherResult(offset + i));
  try {
    const first = shares.reduce(
      (m, share) => Math.min(m, share[0]?.epochMicros ?? Number.POSITIVE_INFINITY),
      Number.POSITIVE_INFINITY,
    );
    const startAt = typeof options.startAt === 'function' ? await options.startAt() : options.startAt;
    const timed = {
      ...options,
      startAt: startAt ?? Date.now(),
      firstEpochMicros: options.firstEpochMicros ?? first,
    };
    const tick = () => options.onProgress?.(results.reduce((a, r) => a + r.acked, 0));
    const total = options.totalPublishers ?? shares.length;
    await Promise.all(
      shares.map(async (share, i) => {
        const run = await publishShare(
          clients[i] as MqttClient,
          share,
          results[i] as PublisherResult,
          total,
          timed,
          tick,
          ids[i] as string,
        );
        clients[i] = run.client;
      }),
    );
    tick();
  } finally {
    await Promise.all(clients.map((c) => endMqtt(c)));
  }
  return summarisePublishers(results);
}

export function summarisePublishers(results: readonly PublisherResult[]): PublishResult {
  const first = Math.min(...results.map((r) => r.firstSendAt ?? Number.POSITIVE_INFINITY));
  const last = Math.max(...results.map((r) => r.lastAckAt ?? r.lastSendAt ?? Number.NEGATIVE_INFINITY));
  const ok = Number.isFinite(first) && Number.isFinite(last);
  return {
    publishers: [...results],
    sent: results.reduce((a, r) => a + r.sent, 0),
    acked: results.reduce((a, r) => a + r.acked, 0),
    failed: results.reduce((a, r) => a + r.failed, 0),
    seconds: ok ? (last - first) / 1000 : 0,
    startedAt: ok ? first : 0,
    finishedAt: ok ? last : 0,
  };
}
