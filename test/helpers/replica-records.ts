import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A local provider replica record on disk (what a restarted manager adopts). */
export interface BrokerRecord {
  id: string;
  url: string;
  pid: number;
  state: string;
}

/** The local provider's records of a deployment's brokers, by id (b2 before b10). */
export async function brokerRecords(deployment: string): Promise<BrokerRecord[]> {
  const folder = join(tmpdir(), 'brokel', deployment, 'replicas');
  const names = (await readdir(folder)).filter((n) => n.endsWith('.json'));
  const records = await Promise.all(
    names.map(
      async (n) => JSON.parse(await readFile(join(folder, n), 'utf8')) as BrokerRecord & { level: string },
    ),
  );
  return records
    .filter((r) => r.level === 'broker')
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}
