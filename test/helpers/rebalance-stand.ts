import type { TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.ts';
import { OrchestratorClient } from '../../manager/orchestrator-client.ts';
import {
  type RebalancePorts,
  Rebalancer,
  type RebalanceSettings,
} from '../../manager/rebalance/rebalancer.ts';
import { startAdminServer } from '../../orchestrator/admin/admin-server.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { type FollowStats, followRedirects } from '../../workload/taxi-rome/follow-redirects.ts';
import { resolveA } from '../../workload/taxi-rome/target.ts';
import { startTestDns } from './dns.ts';
import { type Tally, tally } from './orchestrator.ts';
import { startProvider } from './resources.ts';

const TOKEN = 'rebalance-stand-token-0123456789';
const NAME = 'mqtt.brokel.test';

export interface StandOrchestrator {
  id: string;
  host: string;
  port: number;
  adminPort: number;
  orchestrator: Orchestrator;
}

export interface StandClient {
  index: number;
  client: MqttClient;
  version: 4 | 5;
  persistent: boolean;
  follow: FollowStats;
  /** Connections lost after the first CONNACK (each one a move, in these tests). */
  closes: number;
  /** What it received on stream/# (persistent ones subscribe). */
  counts: Tally | undefined;
}

/**
 * Real Mosquitto, real geo-dns, in-process orchestrators with their real admin API on distinct
 * loopback addresses and one MQTT port (so a DNS answer alone says where to go), and a Rebalancer
 * driving them through HTTP the way the manager does.
 */
export async function rebalanceStand(t: TestContext, settings: RebalanceSettings) {
  const provider = await startProvider(t);
  const created = await provider.create('broker', 'mosquitto');
  const broker = await provider.waitReady(created.id, 60_000);
  const geo = await startTestDns(t, { name: NAME, ttlSeconds: 0 });
  const dnsServer = `127.0.0.1:${geo.server.port}`;
  const block = `127.77.${(process.pid % 200) + 1}`;
  const nodes: StandOrchestrator[] = [];
  let mqttPort = 0;

  async function addOrchestrator(n: number): Promise<StandOrchestrator> {
    const orchestrator = new Orchestrator({
      routing: 'round-robin',
      brokers: [{ url: broker.url, state: 'active' }],
      log: silentLogger(),
    });
    const host = `${block}.${n}`;
    const port = await orchestrator.listen(host, mqttPort);
    mqttPort = port;
    const admin = await startAdminServer({
      orchestrator,
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      log: silentLogger(),
    });
    t.after(async () => {
      await admin.close();
      await orchestrator.close();
    });
    const node = { id: `o${n}`, host, port, adminPort: admin.port, orchestrator };
    nodes.push(node);
    await geo.directory.upsert({ id: node.id, host, port, state: 'ready', load: 0 });
    return node;
  }

  const ports: RebalancePorts<StandOrchestrator> = {
    orchestrators: async () => [...nodes],
    client: (o) => new OrchestratorClient(`http://127.0.0.1:${o.adminPort}`, TOKEN),
    holdDns: (o, role) =>
      geo.directory.upsert({
        id: o.id,
        host: o.host,
        port: o.port,
        state: role === 'source' ? 'draining' : 'ready',
        load: 0,
      }),
    releaseDns: async (o) => {
      if (geo.directory.list().some((r) => r.id === o.id))
        await geo.directory.upsert({ id: o.id, host: o.host, port: o.port, state: 'ready', load: 0 });
    },
  };
  const rebalancer = new Rebalancer(ports, () => settings, silentLogger());

  /**
   * `count` clients on `on`, connected one after the other (the evictor takes the oldest first):
   * 3.1.1 and 5.0, clean and persistent in turn, each with a will, all subscribed to stream/# at
   * QoS 1 (so none is idle for long), following moves as a taxi client does.
   */
  async function connectClients(on: StandOrchestrator, count: number): Promise<StandClient[]> {
    const reresolve = async () => (await resolveA(dnsServer, NAME, 1000))[0];
    const out: StandClient[] = [];
    for (let index = 0; index < count; index++) {
      const version = index % 2 === 1 ? 5 : 4;
      const persistent = index % 4 >= 2;
      const options: IClientOptions = {
        clientId: `rb${process.pid}-${index}`,
        protocolVersion: version,
        clean: !persistent,
        reconnectPeriod: 200,
        connectTimeout: 5000,
        will: { topic: `will/${index}`, payload: Buffer.from('gone'), qos: 1, retain: false },
        ...(version === 5 && persistent ? { properties: { sessionExpiryInterval: 300 } } : {}),
      };
      const client = mqtt.connect(`mqtt://${on.host}:${on.port}`, options);
      const c: StandClient = {
        index,
        client,
        version,
        persistent,
        follow: followRedirects(client, reresolve),
        closes: 0,
        counts: persistent ? tally(client) : undefined,
      };
      t.after(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      client.on('close', () => {
        c.closes += 1;
      });
      await client.subscribeAsync('stream/#', { qos: 1 });
      out.push(c);
    }
    return out;
  }

  /** A subscriber straight on the broker: a will that fires shows up here. */
  async function willWatcher(): Promise<string[]> {
    const fired: string[] = [];
    const w = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    t.after(() => w.endAsync(true));
    w.on('message', (topic) => fired.push(topic));
    await w.subscribeAsync('will/#', { qos: 1 });
    return fired;
  }

  return { addOrchestrator, connectClients, willWatcher, rebalancer, geo, nodes };
}

/** QoS 1 stream `stream/1` from `pub` every `everyMs` until stop(), which waits for every acknowledgement. */
export function qos1Stream(pub: MqttClient, everyMs: number) {
  let sent = 0;
  let acked = 0;
  const timer = setInterval(() => {
    const seq = sent++;
    pub.publish('stream/1', `s:${seq}`, { qos: 1 }, (err) => {
      if (!err) acked += 1;
    });
  }, everyMs);
  return {
    async stop(timeoutMs = 10_000): Promise<{ sent: number; acked: number }> {
      clearInterval(timer);
      const deadline = Date.now() + timeoutMs;
      while (acked < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return { sent, acked };
    },
  };
}
