import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chownTree } from '../../common/os-user.ts';
import type { ProcessSpec, RenderContext, ReplicaTemplate } from '../template.ts';
import { mosquittoPasswordLine, parseMosquittoParams, renderAclFile, renderMosquittoConf } from './config.ts';

/** Eclipse Mosquitto 2.0 (Debian 12: 2.0.11). MQTT 3.1.1 and 5.0, QoS 0–2. Boots in ~15 ms. */
export const mosquittoTemplate: ReplicaTemplate = {
  name: 'mosquitto',
  level: 'broker',
  standardPort: 1883,
  protocolVersions: [4, 5],
  maxQos: 2,
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
    await writeFile(confFile, renderMosquittoConf({ host, port, dataDir, passwordFile, aclFile, params }));
    // Run as root, Mosquitto drops to the `mosquitto` user: its data dir must be that user's.
    await chownTree(ctx.dataDir, 'mosquitto');
    return { command: 'mosquitto', args: ['-c', confFile] };
  },
};
