// test-timeout-ms: 400000
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runMatrixCommand } from '../../cli/scenario-matrix.ts';
import { silentLogger } from '../../common/logger.ts';
import type { MatrixMeta } from '../../workload/taxi-rome/matrix-md.ts';
import type { Matrix } from '../../workload/taxi-rome/matrix-report.ts';
import { mdTable } from '../helpers/markdown.ts';
import { processesOf } from '../helpers/resources.ts';

const TRACE_HEAD_LINES = 462;

describe('brokel scenario matrix --quick (CI): the real trace head through every scenario kind', () => {
  it('runs s1 per kind, every s2 group and s3 with 0 QoS 1 loss, and writes matrix.md/json and figures that agree', async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'scenario-matrix-'));
    t.after(() => rm(out, { recursive: true, force: true }));
    const started = Date.now();
    const code = await runMatrixCommand(
      ['--quick', '--out', out, '--address-block', '127.50'],
      silentLogger(),
    );
    const seconds = (Date.now() - started) / 1000;
    const { matrix, meta } = JSON.parse(await readFile(join(out, 'matrix.json'), 'utf8')) as {
      matrix: Matrix;
      meta: MatrixMeta;
    };
    assert.equal(code, 0, 'no run failed and nothing was lost');
    assert.deepEqual(
      [...new Set(matrix.rows.map((r) => r.group))],
      ['s1', 's2-mosquitto', 's2-rabbitmq', 's2-mixed', 's3'],
      'every scenario kind ran',
    );
    assert.deepEqual(
      matrix.rows.filter((r) => r.group === 's1').map((r) => r.kind),
      ['mosquitto', 'rabbitmq'],
    );
    assert.equal(meta.size.file?.endsWith('test/fixtures/taxi-rome-head.txt'), true, 'the real trace head');
    for (const r of matrix.rows) {
      assert.equal(r.ok, true, `${r.key}: ${r.error}`);
      assert.equal(r.sent, TRACE_HEAD_LINES, `${r.key} replayed the whole trace head`);
      assert.equal(r.received, TRACE_HEAD_LINES, `${r.key}: every QoS 1 message arrived`);
      assert.equal(r.lost, 0, `${r.key}: 0 QoS 1 messages lost`);
      for (const name of ['report.json', 'report.md', 'replicas.svg', 'decisions.jsonl'])
        assert.ok(existsSync(join(out, r.key, name)), `${r.key}/${name}`);
    }
    assert.equal(matrix.totals.lost, 0);
    // matrix.md's main table is matrix.json's rows.
    const md = await readFile(join(out, 'matrix.md'), 'utf8');
    const rows = mdTable(md, '## Every run');
    assert.deepEqual(
      rows.map((r) => r.Run),
      matrix.rows.map((r) => r.key),
    );
    for (const [i, row] of rows.entries()) {
      const r = matrix.rows[i];
      assert.equal(Number(row['Time (s)']), Number(r?.applicationSeconds?.toFixed(2)));
      assert.equal(Number(row['Msg/s']), Number(r?.messagesPerSecond?.toFixed(1)));
      assert.equal(Number(row.Lost), 0);
    }
    assert.match(md, /\*\*Reduced:\*\* --quick runs/, 'says what --quick leaves out');
    assert.match(md, /\| rabbitmq \| 1 core: not measured/, 'states the quotas it used');
    for (const svg of ['time.svg', 'reduction.svg', 'throughput.svg', 'cost.svg', 'load-status.svg'])
      assert.match(
        await readFile(join(out, svg), 'utf8'),
        /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
      );
    t.diagnostic(`--quick: ${matrix.rows.length} runs in ${seconds.toFixed(1)} s`);
    assert.deepEqual(processesOf(`/brokel/sc${process.pid}-`), [], 'nothing left running');
  });
});
