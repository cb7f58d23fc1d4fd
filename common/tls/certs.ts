import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  keyFile: string;
  certFile: string;
}

/** Validity of what is generated here (825 days: what browsers still accept for a server certificate). */
const DAYS = '825';
/** P-256 keys: fast to make (a replica's boot does not wait on RSA prime search) and accepted everywhere. */
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 20_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed (Debian: apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** A self-signed certificate authority in `dir` (ca.key, ca.crt), for one deployment's brokers. */
export async function createCa(dir: string, commonName = 'brokel brokers CA'): Promise<KeyPair> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.crt');
  await openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    DAYS,
    '-subj',
    `/CN=${commonName}`,
  ]);
  await chmod(keyFile, 0o600);
  return { keyFile, certFile };
}

/** subjectAltName entries for the names a server is reached by (RFC 6125: IPs as iPAddress). */
export function subjectAltName(hosts: readonly string[]): string {
  return hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
}

/**
 * A server certificate signed by `ca` for `hosts` (its subjectAltName, which clients verify), in `dir`
 * as `<name>.key` and `<name>.crt`. The key is readable by everyone in `dir`'s owner's group only if
 * `keyMode` says so: Mosquitto started as root reads it after dropping to the mosquitto user.
 */
export async function issueServerCert(
  ca: KeyPair,
  dir: string,
  name: string,
  hosts: readonly string[],
  keyMode = 0o600,
): Promise<KeyPair> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(
    ext,
    [
      `subjectAltName=${subjectAltName(hosts)}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl(['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${hosts[0] ?? name}`]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    // A random serial (RFC 5280 §4.1.2.2: unique per CA) instead of -CAcreateserial: no ca.srl written
    // beside the CA, so replicas issued at the same moment do not race on one serial file.
    '-set_serial',
    `0x${randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '7')}`,
    '-out',
    certFile,
    '-days',
    DAYS,
    '-extfile',
    ext,
  ]);
  await chmod(keyFile, keyMode);
  return { keyFile, certFile };
}
