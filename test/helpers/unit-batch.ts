import { rmSync, writeFileSync } from 'node:fs';
import { after, beforeEach } from 'node:test';
import { pathToFileURL } from 'node:url';

/**
 * One process for several unit test files (scripts/run-tests.sh writes an entry that calls this). Their
 * tests run in import order, one at a time. Before each test its name goes to `currentFile`, which is
 * removed once the batch's last test is over: when the runner ends the batch (its timeout) or the batch
 * crashes, the file is still there and names the test that was running, which the run then prints.
 */
export async function runBatch(currentFile: string, files: readonly string[]): Promise<void> {
  beforeEach((t) => writeFileSync(currentFile, `${t.name}\n`));
  after(() => rmSync(currentFile, { force: true }));
  for (const file of files) await import(pathToFileURL(file).href);
}
