/**
 * The marker a retained move (manager/retained-move.ts) puts on what it publishes to the brokers: an
 * MQTT 5 user property. A move re-publishes a retained value on its new owner (and, on a join, clears
 * it on the old one); brokers deliver both to live subscribers, who already had that value. Orchestrators
 * drop a marked delivery that arrives as a live message and strip the marker from one sent as retained on
 * a new subscription, so no client ever sees it (orchestrator/session/outbound-delivery.ts). A client
 * cannot publish it (refused by the orchestrator). Brokers spoken to in 3.1.1 (RabbitMQ 3.10) carry no
 * properties: moves to them stay visible to live subscribers (docs/retained-moves.md).
 */
export const MOVE_MARKER = 'brokel-move';

type UserProperties = Record<string, string | string[]>;

/** Whether a PUBLISH's user properties carry the move marker. */
export function hasMoveMarker(userProperties: UserProperties | undefined): boolean {
  return userProperties !== undefined && Object.hasOwn(userProperties, MOVE_MARKER);
}

/** The user properties with the marker added (what the mover publishes). */
export function withMoveMarker(userProperties: UserProperties | undefined): UserProperties {
  return { ...userProperties, [MOVE_MARKER]: '1' };
}

/** PUBLISH properties without the marker (and without user properties when it was the only one). */
export function withoutMoveMarker<P extends { userProperties?: UserProperties }>(properties: P): P {
  const { userProperties, ...rest } = properties;
  const { [MOVE_MARKER]: _marker, ...others } = userProperties ?? {};
  return (Object.keys(others).length > 0 ? { ...rest, userProperties: others } : rest) as P;
}
