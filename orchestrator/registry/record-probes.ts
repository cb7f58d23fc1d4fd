import type { Packet } from 'mqtt-packet';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { AnswerTimeout } from '../../common/net/answer-timeout.ts';
import type { PoolBroker } from '../pool/broker-pool.ts';
import type { Upstream } from '../session/upstream.ts';
import { openAccepted } from './open-accepted.ts';
import { REGISTRY_PREFIX } from './reserved.ts';

/** What a broker said of one client's record: none, one (live or a tombstone), or nothing usable. */
export type ProbeAnswer = 'none' | 'held' | 'unknown';

/** Probes in flight on one connection at most; beyond it a probe answers 'unknown' at once. */
export const MAX_PROBES_IN_FLIGHT = 1024;

/**
 * A retained message among the records that no client's record topic can be (registryTopic
 * percent-encodes `$`), which every probe connection writes and must read back before its silence
 * counts: a broker whose ACL hides the records from these credentials would otherwise answer "none".
 */
export const PROBE_CANARY_TOPIC = `${REGISTRY_PREFIX}$probe`;

/** A connection that could not be opened, or cannot read the records, is tried again after this. */
export const PROBE_RETRY_MS = 5000;

interface Probe {
  topic: string;
  held: boolean;
  /** The broker refused the SUBSCRIBE (an ACL): its silence says nothing. */
  refused: boolean;
  timer: AnswerTimeout;
  done: (answer: ProbeAnswer) => void;
}

interface ProbeLink {
  upstream: Upstream;
  /** By the UNSUBSCRIBE's packet id; the SUBSCRIBE's is the one before it. */
  inFlight: Map<number, Probe>;
  /** The last UNSUBSCRIBE id used (even: the ids go in pairs 2k+1, 2k+2). */
  lastId: number;
}

/**
 * Whether brokers hold a session-registry record of a client, asked for many clients at once: a clean
 * start asks it of the brokers a lazy session will not link to (registry-steps.ts `brokersToReach`).
 * Per broker one connection of its own (client id `brokel-probe-<replica>`, clean session, MQTT 3.1.1),
 * on which a probe is a SUBSCRIBE and an UNSUBSCRIBE of the client's record topic, sent together: the
 * broker sends the retained record, if there is one, before it answers the UNSUBSCRIBE (as the
 * registry's reads), and it answers in order, so probes need not wait for each other (the registry's
 * reads run one at a time per connection). QoS 0: nothing is held back by an in-flight window.
 */
export class RecordProbes {
  private readonly links = new Map<string, Promise<ProbeLink>>();
  /** Probes answered so far, by answer (not the connections' canary reads): metrics read them on a scrape. */
  readonly answered: Record<ProbeAnswer, number> = { none: 0, held: 0, unknown: 0 };

  constructor(
    /** Opens a connection with the registry's settings (session-registry.ts). */
    private readonly open: (broker: PoolBroker, clientId: string) => Upstream,
    private readonly clientId: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Whether every broker in `brokers` answered and none holds a record of `topic` (live or tombstone). */
  async noneHeld(topic: string, brokers: readonly PoolBroker[]): Promise<boolean> {
    const answers = await Promise.all(brokers.map((b) => this.probe(b, topic)));
    return answers.every((a) => a === 'none');
  }

  /** One broker's answer for one record topic; never rejects. */
  async probe(broker: PoolBroker, topic: string): Promise<ProbeAnswer> {
    let answer: ProbeAnswer = 'unknown'; // a connection that cannot be opened is logged once per attempt (link)
    try {
      answer = await this.ask(broker, await this.link(broker), topic);
    } catch {}
    this.answered[answer] += 1;
    return answer;
  }

  private ask(broker: PoolBroker, link: ProbeLink, topic: string): Promise<ProbeAnswer> {
    if (link.inFlight.size >= MAX_PROBES_IN_FLIGHT || !link.upstream.isUp) return Promise.resolve('unknown');
    return new Promise<ProbeAnswer>((resolve) => {
      const unsubId = link.lastId >= 65_534 ? 2 : link.lastId + 2;
      link.lastId = unsubId;
      const probe: Probe = {
        topic,
        held: false,
        refused: false,
        timer: new AnswerTimeout(this.timeoutMs, () => {
          this.log.warn({ broker: broker.id, timeoutMs: this.timeoutMs }, 'registry probe unanswered');
          this.forget(broker.id); // answers every probe in flight 'unknown'
        }),
        done: resolve,
      };
      link.inFlight.set(unsubId, probe);
      link.upstream.send({ cmd: 'subscribe', messageId: unsubId - 1, subscriptions: [{ topic, qos: 0 }] });
      link.upstream.send({ cmd: 'unsubscribe', messageId: unsubId, unsubscriptions: [topic] });
    });
  }

  private link(broker: PoolBroker): Promise<ProbeLink> {
    const known = this.links.get(broker.id);
    if (known) return known;
    const opening = (async () => {
      const upstream = this.open(broker, this.clientId);
      await openAccepted(upstream, broker.id, 'the registry probe connection');
      const link: ProbeLink = { upstream, inFlight: new Map(), lastId: 0 };
      upstream.attach({
        packet: (p) => onPacket(link, p),
        down: () => {
          if (this.links.get(broker.id) === opening) this.links.delete(broker.id);
          answerAll(link, 'unknown');
        },
        unencodable: () => undefined,
      });
      // Written before the SUBSCRIBE that reads it back, on the same connection: in order.
      const canary = Buffer.from('registry probe');
      upstream.send({
        cmd: 'publish',
        topic: PROBE_CANARY_TOPIC,
        payload: canary,
        qos: 0,
        retain: true,
        dup: false,
      });
      if ((await this.ask(broker, link, PROBE_CANARY_TOPIC)) !== 'held') {
        upstream.disconnect();
        throw new Error(
          `the registry probe connection to broker ${broker.id} does not read back a record it wrote (an ACL on ${REGISTRY_PREFIX}?)`,
        );
      }
      return link;
    })();
    this.links.set(broker.id, opening);
    opening.catch((err) => {
      this.log.warn(
        { broker: broker.id, err: errorMessage(err), retryMs: PROBE_RETRY_MS },
        'registry probes unavailable: clean starts reach every broker',
      );
      // Probes answer 'unknown' meanwhile, without a connection attempt each.
      setTimeout(
        () => this.links.get(broker.id) === opening && this.links.delete(broker.id),
        PROBE_RETRY_MS,
      ).unref();
    });
    return opening;
  }

  /** Closes the probe connection to a broker (it left the pool, or a probe went unanswered). */
  forget(brokerId: string): void {
    const link = this.links.get(brokerId);
    this.links.delete(brokerId);
    void link
      ?.then((l) => {
        answerAll(l, 'unknown');
        l.upstream.disconnect();
      })
      .catch(() => undefined);
  }

  close(): void {
    for (const id of [...this.links.keys()]) this.forget(id);
  }
}

function onPacket(link: ProbeLink, p: Packet): void {
  if (p.cmd === 'publish') {
    if (p.payload.length === 0) return; // an empty retained message is no record
    for (const probe of link.inFlight.values()) if (probe.topic === p.topic) probe.held = true;
  } else if (p.cmd === 'suback') {
    const probe = link.inFlight.get((p.messageId ?? 0) + 1);
    // 3.1.1: one return code per filter, 0x80 a failure (v5 reason codes alike, also under `granted`).
    const codes = (p.granted ?? []) as unknown[];
    if (probe && (codes.length === 0 || codes.some((c) => typeof c !== 'number' || c >= 0x80)))
      probe.refused = true;
  } else if (p.cmd === 'unsuback') {
    const probe = link.inFlight.get(p.messageId ?? 0);
    if (!probe) return;
    link.inFlight.delete(p.messageId ?? 0);
    probe.timer.cancel();
    probe.done(probe.refused ? 'unknown' : probe.held ? 'held' : 'none');
  }
}

function answerAll(link: ProbeLink, answer: ProbeAnswer): void {
  for (const probe of link.inFlight.values()) {
    probe.timer.cancel();
    probe.done(answer);
  }
  link.inFlight.clear();
}
