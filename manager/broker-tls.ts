import { access, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa } from '../common/tls/certs.ts';

/** The deployment's broker CA (brokers.tls): files the templates sign with, and its PEM. */
export interface BrokerTlsFiles {
  caCertFile: string;
  caKeyFile: string;
  /** The CA certificate (PEM), what the manager's own broker connections verify against. */
  ca: Buffer;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/**
 * `brokers.tls: true` (issue 17): the deployment's CA, made once with openssl and kept in the state dir
 * (`<stateDir>/tls/ca.crt`, `ca.key` mode 0600), so a restarted manager and the replicas it adopts
 * keep trusting one another. Made in a temporary folder renamed into place: a manager killed halfway
 * leaves no half CA behind. Each broker replica gets its own certificate from the template, for its
 * own address (common/tls/certs.ts issueServerCert).
 */
export async function deploymentBrokerTls(stateDir: string, deployment: string): Promise<BrokerTlsFiles> {
  const dir = join(stateDir, 'tls');
  const caCertFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  if (!((await exists(caCertFile)) && (await exists(caKeyFile)))) {
    const tmp = join(stateDir, `tls.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await createCa(tmp, `brokel ${deployment} brokers CA`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  }
  return { caCertFile, caKeyFile, ca: await readFile(caCertFile) };
}

/** Removes the CA when the deployment ends for good (every replica it signed for is gone). */
export async function forgetDeploymentBrokerTls(stateDir: string): Promise<void> {
  await rm(join(stateDir, 'tls'), { recursive: true, force: true });
}
