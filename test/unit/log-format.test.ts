import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { chooseLogFormat, takeLogFormat } from '../../cli/log-format.ts';
import { ConfigError } from '../../common/errors.ts';
import { createRootLogger, type LogFormat } from '../../common/logger.ts';

function logOnce(format: LogFormat): string {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString();
  });
  createRootLogger({ format, destination: out })
    .child({ component: 'manager' })
    .info({ tick: 7 }, 'observed');
  return text;
}

describe('log format', () => {
  it('pretty writes a readable line, json a JSON object, both with the fields', () => {
    const json = JSON.parse(logOnce('json'));
    assert.deepEqual([json.msg, json.component, json.tick, json.level], ['observed', 'manager', 7, 30]);
    const pretty = logOnce('pretty');
    assert.throws(() => JSON.parse(pretty));
    assert.match(pretty, /INFO.*manager: observed/);
    assert.match(pretty, /"tick":7/);
  });

  it('--log-format is taken from anywhere before --, and checked', () => {
    assert.deepEqual(takeLogFormat(['up', '--log-format', 'json', '-c', 'x']), {
      argv: ['up', '-c', 'x'],
      format: 'json',
    });
    assert.deepEqual(takeLogFormat(['--log-format=pretty', 'dns']), { argv: ['dns'], format: 'pretty' });
    assert.deepEqual(takeLogFormat(['x', '--', '--log-format', 'json']).argv, [
      'x',
      '--',
      '--log-format',
      'json',
    ]);
    assert.throws(() => takeLogFormat(['--log-format', 'xml']), ConfigError);
    assert.throws(() => takeLogFormat(['--log-format']), ConfigError);
  });

  it('the flag wins, then BROKEL_LOG_FORMAT, then pretty on a terminal and JSON otherwise', () => {
    assert.equal(chooseLogFormat('json', 'pretty', true), 'json');
    assert.equal(chooseLogFormat(undefined, 'json', true), 'json');
    assert.equal(chooseLogFormat(undefined, undefined, true), 'pretty');
    assert.equal(chooseLogFormat(undefined, undefined, false), 'json');
  });
});
