/** Every bound of the data plane, with its documented default (README, "Orchestrator limits"). */
export interface OrchestratorLimits {
  /** Time a new connection has to send CONNECT [MQTT-3.1.0-1 leaves it to the server]. */
  connectTimeoutMs: number;
  /** Time a broker has to answer an upstream CONNECT. */
  upstreamConnectTimeoutMs: number;
  /** Largest packet accepted from a client or a broker. */
  maxPacketBytes: number;
  /** Unacknowledged QoS 1/2 publishes from one client before it is no longer read (v5: receive maximum). */
  maxInflightFromClient: number;
  /**
   * Unacknowledged QoS 2 publishes one session sends to a 3.1.1 broker, which cannot say its receive
   * maximum (a v5 broker's CONNACK value is used instead, for QoS 1 and 2 together). Mosquitto's
   * default is 20, and it drops the 21st QoS 2 publish while answering a 3.1.1 client as if it had
   * accepted it (FIELD-NOTES). QoS 1 ones to a 3.1.1 broker count towards maxInflightFromClient only.
   */
  upstreamReceiveMaximum: number;
  /** Payload bytes of one client's publishes waiting for a broker slot before the client is no longer read. */
  maxWaitingPublishBytes: number;
  /** Unacknowledged QoS 1/2 deliveries to one client (lowered to the client's receive maximum). */
  deliveryWindow: number;
  /** Deliveries held for one client while its window is full, before its brokers are no longer read. */
  maxBufferedDeliveries: number;
  /** Keepalive the orchestrator itself uses towards brokers. */
  upstreamKeepaliveSeconds: number;
  /** Topic aliases a v5 client may use towards the orchestrator. */
  topicAliasMaximum: number;
  /** Back-off between reconnection attempts to a broker that went down (first, cap). */
  reconnectDelayMs: { first: number; max: number };
  /**
   * QoS 1 publishes a broker acknowledged are kept this long, counted back from its last
   * acknowledgement (and at most replayMaxMessages per session and broker): if that broker dies they
   * are re-sent through another one, for subscribers that lagged behind at it (Mosquitto writes a
   * publish to every subscriber with room in its window before it acknowledges it). It is the lag
   * tolerated; every replayed publish is a duplicate for each subscriber that kept up
   * (docs/acknowledgements-and-qos.md: 500 ms cost 3 % duplicates where 2 s cost 12.7 %).
   */
  replayWindowMs: number;
  replayMaxMessages: number;
  /** Grace period for 3.1.1 clients on POST /drain before they are closed. */
  drainGraceMs: number;
  /**
   * A QoS 2 publish PUBREC'd by a broker that then dies: 'resend' it to another broker (no loss, a
   * duplicate when the dead broker had delivered it) or 'drop' it (exactly once or lost).
   */
  qos2OnBrokerLoss: 'resend' | 'drop';
  /**
   * Client CONNECTs admitted per second (token bucket, `connectBurst` at once; 0: no limit). Over it a
   * CONNECT waits its turn, at most `maxQueuedConnects` of them; one more gets CONNACK 0x9F (v5) or
   * 3 (3.1.1). A waiting CONNECT still has to be answered within connectTimeoutMs.
   */
  connectsPerSecond: number;
  connectBurst: number;
  maxQueuedConnects: number;
  /**
   * Connections that have not sent CONNECT yet (each closed after connectTimeoutMs); beyond it a new
   * socket is closed at once, so a flood of silent sockets cannot take every file descriptor. 0: no bound.
   * Keep it above connectBurst + maxQueuedConnects: a storm's sockets are all pending for the moment
   * between their accept and the read of their CONNECTs (the config refuses less).
   */
  maxPendingConnections: number;
  /** Payload bytes one session keeps of PUBREC'd QoS 2 publishes for 'resend'; beyond it they are dropped on loss. */
  maxKeptQos2Bytes: number;
  /**
   * How long a clean session's upstream session on an MQTT 5 broker outlives a lost link (its Session
   * Expiry Interval): the link comes back with Clean Start 0 and the broker sends what it queued
   * meanwhile. Ended for good (expiry 0) when the client leaves. 0: a lost link loses the session.
   */
  upstreamLinkGraceSeconds: number;
  /**
   * How long a PUBACK the orchestrator relays from a client to the broker that delivered may wait for
   * others on the same link, so that they leave in one write (session/held-acks.ts: at most 4 held, and
   * before anything else the link writes). The client has the message meanwhile; the broker counts it
   * in flight that much longer; a link whose broker waits for them stops holding a while (HoldGuard).
   * 0: each leaves with the writes of the read that brought it.
   */
  ackHoldMs: number;
}

export const DEFAULT_LIMITS: OrchestratorLimits = {
  connectTimeoutMs: 10_000,
  upstreamConnectTimeoutMs: 5_000,
  maxPacketBytes: 1024 * 1024,
  maxInflightFromClient: 100,
  upstreamReceiveMaximum: 20,
  maxWaitingPublishBytes: 1024 * 1024,
  deliveryWindow: 100,
  maxBufferedDeliveries: 1000,
  upstreamKeepaliveSeconds: 30,
  topicAliasMaximum: 64,
  reconnectDelayMs: { first: 250, max: 5_000 },
  replayWindowMs: 2_000,
  replayMaxMessages: 2_000,
  drainGraceMs: 5_000,
  qos2OnBrokerLoss: 'resend',
  maxKeptQos2Bytes: 8 * 1024 * 1024,
  connectsPerSecond: 500,
  connectBurst: 500,
  maxQueuedConnects: 2_500,
  maxPendingConnections: 10_000,
  upstreamLinkGraceSeconds: 30,
  ackHoldMs: 20,
};
