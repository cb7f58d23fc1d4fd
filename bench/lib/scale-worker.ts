// One load-generator process of the connection-scale run (bench/lib/connection-scale.ts): opens
// `count` MQTT 3.1.1 clients (raw sockets, mqtt-packet), as subscribers (one filter each) or as
// publishers (QoS 1, once a second each, to one subscriber's filter). Talks JSON lines: it prints
// {event:'connected'|'ready'|'done'} and reads 'go' and 'stop' on stdin. Exits once done.
import { connect as netConnect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import mqttPacket, { type Packet } from 'mqtt-packet';

export interface ScaleWorkerConfig {
  host: string;
  port: number;
  role: 'sub' | 'pub';
  /** Index of the first client of this worker (publisher or subscriber number), and how many. */
  first: number;
  count: number;
  /** Subscribers in the whole run (a publisher i publishes to subscriber i mod subscribers). */
  subscribers: number;
  prefix: string;
  connectConcurrency: number;
  publishMs: number;
}

const TIMEOUT_MS = 30_000;
// After the last publish, how long a publisher waits for the acknowledgements still owed to it.
const ACK_WAIT_MS = Number(process.env.BROKEL_SCALE_ACK_WAIT_MS ?? 10_000);
const config = JSON.parse(process.argv[2] ?? '{}') as ScaleWorkerConfig;
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

interface Client {
  socket: Socket;
  index: number;
  /** When each unacknowledged publish was written, by packet id (empty: owed nothing). */
  sentAt: Map<number, number>;
}

/** Publish → PUBACK times, ms (publishers). */
const ackMs: number[] = [];

let received = 0;
let acked = 0;

function open(index: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: config.host, port: config.port, noDelay: true });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const client: Client = { socket, index, sentAt: new Map() };
    const timer = setTimeout(() => reject(new Error(`client ${index}: no CONNACK`)), TIMEOUT_MS);
    let subscribed = config.role === 'pub';
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connack') {
        if ((p.returnCode ?? 0) !== 0) return reject(new Error(`client ${index}: refused ${p.returnCode}`));
        if (subscribed) {
          clearTimeout(timer);
          resolve(client);
        } else {
          socket.write(
            mqttPacket.generate({
              cmd: 'subscribe',
              messageId: 1,
              subscriptions: [{ topic: `${config.prefix}/${index}/#`, qos: 1 }],
            }),
          );
        }
      } else if (p.cmd === 'suback') {
        subscribed = true;
        clearTimeout(timer);
        resolve(client);
      } else if (p.cmd === 'publish') {
        received += 1;
        if (p.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId ?? 0 }));
      } else if (p.cmd === 'puback') {
        acked += 1;
        const at = client.sentAt.get(p.messageId ?? 0);
        if (at !== undefined) ackMs.push(Math.round(performance.now() - at));
        client.sentAt.delete(p.messageId ?? 0);
      }
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', (err) => reject(err));
    socket.once('connect', () =>
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: `${config.prefix}-${config.role}-${index}`,
          keepalive: 120,
        }),
      ),
    );
  });
}

const clients: Client[] = [];
const startedAt = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(config.connectConcurrency, config.count) }, async () => {
    while (next < config.count) {
      const index = config.first + next++;
      clients.push(await open(index));
    }
  }),
);
say({ event: 'connected', clients: clients.length, startedAt, endedAt: Date.now() });

const publishAll = async (): Promise<number> => {
  let sent = 0;
  const ids = new Map<Client, number>();
  const end = Date.now() + config.publishMs;
  // Each publisher once a second, spread over the second in 10 ms slices.
  const slices = 100;
  for (let tick = 0; Date.now() < end; tick++) {
    for (let i = tick % slices; i < clients.length; i += slices) {
      const c = clients[i];
      if (!c) continue;
      const id = ((ids.get(c) ?? 0) % 65_535) + 1;
      ids.set(c, id);
      const topic = `${config.prefix}/${c.index % config.subscribers}/p${c.index}`;
      c.socket.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic,
          payload: Buffer.alloc(100, 120),
          qos: 1,
          messageId: id,
          retain: false,
          dup: false,
        }),
      );
      sent += 1;
      c.sentAt.set(id, performance.now());
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const deadline = Date.now() + ACK_WAIT_MS;
  while (acked < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return sent;
};

const close = (): void => {
  for (const c of clients) c.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  setTimeout(() => process.exit(0), 1000).unref();
};

if (config.role === 'sub') {
  say({ event: 'ready' });
  // What arrived so far, twice a second: the run waits for deliveries to settle before it stops us.
  setInterval(() => say({ event: 'received', received }), 500).unref();
}
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go' && config.role === 'pub') {
    const sent = await publishAll();
    // Publishers still owed acknowledgements (a few names, for the orchestrator's log).
    const owed = clients.filter((c) => c.sentAt.size > 0);
    say({
      event: 'done',
      sent,
      acked,
      owedClients: owed.length,
      owedSample: owed.slice(0, 3).map((c) => `${config.prefix}-${config.role}-${c.index}`),
      ackMs,
    });
    close();
    break;
  }
  if (line === 'stop') {
    say({ event: 'done', received });
    close();
    break;
  }
}
