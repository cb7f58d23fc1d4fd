import { emptyMap, writableMap } from './lazy-collections.ts';

/**
 * Inbound topic aliases of one MQTT 5 client (MQTT 5.0 §3.3.2.3.4), resolved before routing so the
 * brokers only ever see full topic names (pure).
 */
export class TopicAliases {
  /** Allocated on the first alias (lazy-collections.ts): most clients never set one. */
  private topics = emptyMap<number, string>();

  constructor(readonly maximum: number) {}

  /**
   * Returns the topic a PUBLISH is for, or an error string: an alias of 0 or above the maximum we
   * announced [MQTT-3.3.2-8/9], or an alias never set [MQTT-3.3.4-?: protocol error].
   */
  /** The topic a publish stands for, or why it stands for none (no object made for a topic). */
  resolve(topic: string, alias: number | undefined): string | { error: string } {
    if (alias === undefined) return topic;
    if (alias === 0 || alias > this.maximum)
      return { error: `topic alias ${alias} outside 1..${this.maximum}` };
    if (topic.length > 0) {
      this.topics = writableMap(this.topics);
      this.topics.set(alias, topic);
      return topic;
    }
    const known = this.topics.get(alias);
    return known === undefined ? { error: `topic alias ${alias} was never set` } : known;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0001-\u001f\u007f-\u009f]/;

/**
 * A PUBLISH topic name must not hold wildcards [MQTT-3.3.2-2], NUL or replacement characters. Checked
 * on every publish: one pass over the char codes finds a name with none of the refused characters (the
 * usual case); only a name with one is looked at again, to say which problem comes first.
 */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic name';
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    // NUL and control characters, '#', '+', U+007F–U+009F, U+FFFD: what the checks below refuse.
    if (c < 0x20 || c === 0x23 || c === 0x2b || (c >= 0x7f && c <= 0x9f) || c === 0xfffd)
      return refusedTopicName(topic);
  }
  return undefined;
}

/** Which problem a topic name with a refused character has (in the order clients are told). */
function refusedTopicName(topic: string): string | undefined {
  if (topic.includes('+') || topic.includes('#')) return 'wildcard in a topic name';
  if (topic.includes('\u0000')) return 'NUL in a topic name'; // [MQTT-1.5.3-2]
  if (topic.includes('\ufffd')) return 'ill-formed UTF-8 in a topic name'; // [MQTT-1.5.3-1]
  // Control characters SHOULD NOT appear (MQTT 5.0 §1.5.4); Mosquitto closes the connection on them.
  if (CONTROL.test(topic)) return 'control character in a topic name';
  return undefined;
}

/** A topic filter's shape [MQTT-4.7.1-2/3]: '#' last and alone in its level, '+' alone in its level. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter';
  if (filter.includes('\u0000') || filter.includes('\ufffd') || CONTROL.test(filter))
    return 'ill-formed topic filter';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      return `misplaced '#' in ${filter}`;
    if (level.includes('+') && level !== '+') return `misplaced '+' in ${filter}`;
  }
  return undefined;
}
