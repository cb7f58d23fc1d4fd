import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../common/errors.ts';
import type { TemplateUser } from '../template.ts';

export const PASSWORD_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/**
 * A `password_hash` as RabbitMQ's rabbit_password_hashing_sha256 stores it:
 * base64(salt ++ sha256(salt ++ utf8(password))) with a 4-byte random salt.
 */
export function rabbitmqPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  if (salt.length !== 4) throw new Error(`salt must be 4 bytes, got ${salt.length}`);
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/**
 * RabbitMQ's MQTT plugin reads a username `a:b` as vhost `a`, user `b` (it splits at the last colon),
 * so a configured name with a colon could never log in as itself.
 */
export function checkRabbitmqUsers(users: readonly TemplateUser[]): void {
  const problems = users.flatMap((u, i) => {
    if (!u.username.includes(':')) return [];
    const message = `${JSON.stringify(u.username)} contains ':' (the MQTT plugin reads it as vhost:user)`;
    return [{ path: `brokers.users[${i}].username`, message }];
  });
  if (problems.length > 0) throw new ConfigError(problems, 'rabbitmq template');
}

export interface DefinitionsInput {
  users: readonly TemplateUser[];
  vhost: string;
  /** User tags, e.g. `administrator` for the management UI; none are needed for MQTT. */
  tags: readonly string[];
  /** One salt per user; random when absent (tests pass fixed ones). */
  salt?: () => Buffer;
  /** Per-user topic permissions on amq.topic; none when absent. */
  topicPermissions?: ReadonlyArray<{ user: string; write: string; read: string }>;
}

/**
 * The definitions file imported at every boot (`load_definitions`): the vhost, each user with a
 * precomputed hash (no plain passwords on disk), and full permissions for each on the vhost.
 */
export function renderDefinitions(input: DefinitionsInput): string {
  const salt = input.salt ?? (() => randomBytes(4));
  const definitions = {
    vhosts: [{ name: input.vhost }],
    users: input.users.map((u) => ({
      name: u.username,
      password_hash: rabbitmqPasswordHash(u.password, salt()),
      hashing_algorithm: PASSWORD_HASHING_ALGORITHM,
      tags: [...input.tags],
    })),
    permissions: input.users.map((u) => ({
      user: u.username,
      vhost: input.vhost,
      configure: '.*',
      write: '.*',
      read: '.*',
    })),
    ...(input.topicPermissions
      ? {
          topic_permissions: input.topicPermissions.map((p) => ({
            user: p.user,
            vhost: input.vhost,
            exchange: 'amq.topic',
            // The orchestrators' reserved space ($brokel/, the session registry's records written
            // through each client's own connection) stays writable and readable for every user.
            write: withReservedSpace(p.write),
            read: withReservedSpace(p.read),
          })),
        }
      : {}),
  };
  return `${JSON.stringify(definitions, null, 2)}\n`;
}

/** A topic-permission regex (on routing keys: `/` becomes `.`) that also allows `$brokel.…`. */
export function withReservedSpace(regex: string): string {
  return `^\\$brokel\\.|${regex}`;
}
