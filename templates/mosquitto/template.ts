import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chownTree } from '../../common/os-user.ts';
import { issueServerCert } from '../../common/tls/certs.ts';
import type { ProcessSpec, RenderContext, ReplicaTemplate } from '../template.ts';
import {
  type MosquittoParams,
  mosquittoPasswordLine,
  parseMosquittoParams,
  renderAclFile,
  renderMosquittoConf,
  type TlsListener,
} from './config.ts';

/** MQTT over TLS's standard port (IANA "secure-mqtt"). */
const TLS_PORT = 8883;

/**
 * The TLS listener of a replica: the one the params give, or (params with the deployment's CA) a
 * certificate issued now for the replica's own address, signed by that CA, in its data dir.
 */
async function tlsListener(ctx: RenderContext, params: MosquittoParams): Promise<TlsListener | undefined> {
  const tls = params.tls;
  if (!tls || 'certFile' in tls) return tls;
  const port = ctx.addressing === 'aliases' ? TLS_PORT : await ctx.freePort(ctx.host);
  const ca = { certFile: tls.caCertFile, keyFile: tls.caKeyFile };
  const cert = await issueServerCert(ca, ctx.dataDir, 'tls', [ctx.host]);
  return { port, ...cert };
}

/** Eclipse Mosquitto 2.0 (Debian 12: 2.0.11). MQTT 3.1.1 and 5.0, QoS 0–2. Boots in ~15 ms. */
export const mosquittoTemplate: ReplicaTemplate = {
  name: 'mosquitto',
  level: 'broker',
  standardPort: 1883,
  protocolVersions: [4, 5],
  maxQos: 2,
  retainedWildcardRead: true,
  probe: { kind: 'mqtt' },
  bootTimeoutMs: 10_000,
  packages: ['mosquitto'],
  files: { kubernetesPod: 'k8s/pod.yaml', opennebulaVm: 'opennebula/vm-template.json', readme: 'README.md' },

  async render(ctx: RenderContext): Promise<ProcessSpec> {
    const params = parseMosquittoParams(ctx.params);
    let passwordFile: string | undefined;
    if (ctx.users.length > 0) {
      passwordFile = join(ctx.dataDir, 'passwd');
      await writeFile(passwordFile, `${ctx.users.map((u) => mosquittoPasswordLine(u)).join('\n')}\n`, {
        mode: 0o600,
      });
    }
    let aclFile: string | undefined;
    if (params.acl !== undefined) {
      aclFile = join(ctx.dataDir, 'acl');
      await writeFile(aclFile, renderAclFile(params.acl), { mode: 0o600 });
    }
    const confFile = join(ctx.dataDir, 'mosquitto.conf');
    const { host, port, dataDir } = ctx;
    const tls = await tlsListener(ctx, params);
    const conf = renderMosquittoConf({ host, port, dataDir, passwordFile, aclFile, params, tls });
    await writeFile(confFile, conf);
    // Run as root, Mosquitto drops to the `mosquitto` user: its data dir (its key too) must be that user's.
    await chownTree(ctx.dataDir, 'mosquitto');
    return {
      command: 'mosquitto',
      args: ['-c', confFile],
      ...(tls ? { tlsPort: tls.port, ports: { tls: tls.port } } : {}),
    };
  },
};
