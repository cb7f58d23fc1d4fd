import { type RoutingStrategyName, spreadsOverBrokers } from '../../common/admin/contract.ts';
import { rendezvousOwner, retainedOwner } from '../../common/retained-owner.ts';
import { emptyArray } from './lazy-collections.ts';

/**
 * Lazy upstream links (pure). A session that is not persistent and has never subscribed keeps one
 * upstream link, to its home broker, until routing needs another: the one broker a publish goes to is
 * chosen among `wanted` (the active, routable brokers) exactly as if every link were open, and when
 * that broker has no link yet the session opens its links to every broker first (it is "full" from
 * then on). So a lazy session never routes differently from a full one:
 * - round-robin and least-outstanding spread over every wanted broker: any missing link is needed;
 * - client-affinity needs the client's owner (its home broker while the pool is stable);
 * - topic-affinity and retained publishes need the topic's owner.
 * A topic only known by its alias (v5, empty topic) is treated as needing every link.
 */
export function publishNeedsLink(
  strategy: RoutingStrategyName,
  clientId: string,
  topic: string,
  retain: boolean,
  wanted: readonly string[],
  linked: (brokerId: string) => boolean,
): boolean {
  if (wanted.length === 0) return false; // no broker to open: held or dropped as with every link
  if (topic === '') return wanted.some((id) => !linked(id));
  let owner: string | undefined;
  if (retain) owner = retainedOwner(topic, wanted);
  else if (spreadsOverBrokers(strategy)) return wanted.some((id) => !linked(id));
  else if (strategy === 'client-affinity') owner = rendezvousOwner(`client:${clientId}`, wanted);
  else if (strategy === 'topic-affinity') owner = rendezvousOwner(`topic:${topic}`, wanted);
  return owner !== undefined && !linked(owner);
}

/** What LinkNeed asks of its session (methods, not closures made per publish). */
export interface LinkSource {
  /** The active, routable brokers: asked again only when the routing generation changes. */
  wantedBrokers(): readonly string[];
  hasLink(brokerId: string): boolean;
}

/**
 * publishNeedsLink for one session, with what it can cache: the wanted brokers change only with the
 * routing generation, and but for per-topic routing the answer changes only with them and the links.
 */
export class LinkNeed {
  private wanted: readonly string[] = emptyArray();
  private wantedGeneration = -1;
  private answerGeneration = -1;
  private answerLinks = -1;
  private answer = false;

  constructor(
    private readonly strategy: RoutingStrategyName,
    private readonly clientId: string,
  ) {}

  publishNeedsLink(
    topic: string,
    retain: boolean,
    generation: number,
    linkGeneration: number,
    source: LinkSource,
  ): boolean {
    if (generation !== this.wantedGeneration) {
      this.wanted = source.wantedBrokers();
      this.wantedGeneration = generation;
    }
    const perTopic = retain || topic === '' || this.strategy === 'topic-affinity';
    if (!perTopic && generation === this.answerGeneration && linkGeneration === this.answerLinks)
      return this.answer;
    const answer = publishNeedsLink(this.strategy, this.clientId, topic, retain, this.wanted, (id) =>
      source.hasLink(id),
    );
    if (!perTopic) {
      this.answerGeneration = generation;
      this.answerLinks = linkGeneration;
      this.answer = answer;
    }
    return answer;
  }
}
