import type { BrokelConfig } from '../common/config/schema.ts';

/**
 * The template params a new broker of `template` gets from brokel.yaml's `brokers` section (pure):
 * `acl` for mosquitto, `topicPermissions` for rabbitmq; nothing when the section has none for it.
 * A Mosquitto ACL also lets every user use the reserved space: the orchestrators keep persistent
 * sessions' records there through the clients' own links, and clients cannot reach it through an
 * orchestrator (it refuses them), so without this line an ACL would close every persistent session.
 */
/** The reserved topic space (orchestrator/registry/reserved.ts; the manager does not import the orchestrator). */
const RESERVED = '$brokel/#';

export function brokerParams(
  brokers: Pick<BrokelConfig['brokers'], 'acl' | 'topicPermissions'>,
  template: string,
): Record<string, unknown> {
  if (template === 'mosquitto' && brokers.acl)
    return { acl: [`pattern readwrite ${RESERVED}`, ...brokers.acl] };
  if (template === 'rabbitmq' && brokers.topicPermissions)
    return { topicPermissions: brokers.topicPermissions.map((p) => ({ ...p })) };
  return {};
}
