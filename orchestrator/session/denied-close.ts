/**
 * A broker that refuses a publish for authorization and then closes the connection ends the client
 * (Mosquitto 2.0.11 does so for v4 and v5 clients, measured: docs/faults-and-security.md). Through the
 * orchestrator that close hits one upstream link only; without this rule the link would be reopened and
 * the client would never learn. Pure: the session records the refusal and asks on link loss.
 */

/** PUBACK/PUBREC reason 0x87 Not authorized (MQTT 5.0 §3.4.2.1). */
export const NOT_AUTHORIZED = 0x87;

/** A close this long after the refusal counts as the broker's answer to it. */
export const DENIED_CLOSE_WINDOW_MS = 1_000;

/**
 * A 3.1.1 broker's refusal has no reason code: a clean close right after a PUBACK is a refusal only if
 * the broker is still alive (a killed broker's links all close at once). Decided after this delay, when
 * a dead broker's other links have been seen to close too.
 */
export const DENIED_CLOSE_SETTLE_MS = 20;

/** Whether a link lost at `now` for `reason` was the broker ending the client over a refusal at `deniedAt`. */
export function closedForDenial(deniedAt: number | undefined, now: number, reason: string): boolean {
  if (deniedAt === undefined) return false;
  // Only a close by the broker: a keepalive timeout or our own close is something else.
  return reason === 'connection closed' && now - deniedAt <= DENIED_CLOSE_WINDOW_MS;
}
