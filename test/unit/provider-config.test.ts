import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../common/config/load.ts';
import { problemsOf } from '../helpers/config.ts';

describe('provider config: kubernetes and opennebula', () => {
  it('has defaults for both remote providers (an empty file stays valid)', () => {
    const { provider } = parseConfig('', 'empty.yaml');
    assert.equal(provider.kind, 'local');
    assert.deepEqual(provider.kubernetes, {
      namespace: 'default',
      deleteGraceSeconds: 10,
      expose: 'pod-ip',
      readyTimeoutSeconds: 180,
      pollIntervalMs: 1000,
      requestTimeoutMs: 10_000,
      placeholders: {},
    });
    assert.deepEqual(provider.opennebula, {
      timeoutMs: 10_000,
      retries: 3,
      retryBaseMs: 200,
      pollIntervalMs: 1000,
    });
  });

  it('accepts a full kubernetes section', () => {
    const { provider } = parseConfig(
      [
        'provider:',
        '  kind: kubernetes',
        '  kubernetes:',
        '    kubeconfig: /etc/kube/config',
        '    context: kind-brokel',
        '    namespace: brokel',
        '    expose: service',
        '    deleteGraceSeconds: 0',
        '    placeholders: { BROKEL_IMAGE: "registry.example/brokel:0.1.0" }',
      ].join('\n'),
    );
    assert.equal(provider.kind, 'kubernetes');
    assert.equal(provider.kubernetes.namespace, 'brokel');
    assert.equal(provider.kubernetes.expose, 'service');
    assert.equal(provider.kubernetes.deleteGraceSeconds, 0);
    assert.equal(provider.kubernetes.placeholders.BROKEL_IMAGE, 'registry.example/brokel:0.1.0');
  });

  it('names the path of bad kubernetes fields', () => {
    const problems = problemsOf(
      [
        'provider:',
        '  kubernetes:',
        '    namespace: Not_A_Namespace',
        '    expose: node-port',
        '    deleteGraceSeconds: -1',
        '    placeholders: { lower: x }',
        '    watch: true',
      ].join('\n'),
    );
    const paths = problems.map((p) => p.split(':')[0]);
    for (const path of [
      'provider.kubernetes.namespace',
      'provider.kubernetes.expose',
      'provider.kubernetes.deleteGraceSeconds',
      'provider.kubernetes.placeholders.lower',
    ])
      assert.ok(paths.includes(path), `${path} in ${problems.join(' | ')}`);
    assert.ok(
      problems.some((p) => p.includes('watch')),
      'an unknown key is named',
    );
  });

  it('requires opennebula.url and a token when kind is opennebula, with path-qualified messages', () => {
    assert.deepEqual(problemsOf('provider: { kind: opennebula }'), [
      'provider.opennebula.url: is required when kind is opennebula',
      'provider.opennebula.token: token or tokenFile is required when kind is opennebula',
    ]);
    assert.deepEqual(
      problemsOf(
        'provider: { kind: opennebula, opennebula: { url: "http://c:8080", token: t, tokenFile: /f } }',
      ),
      ['provider.opennebula.tokenFile: give token or tokenFile, not both'],
    );
    // Not required while another provider is used.
    assert.equal(parseConfig('provider: { kind: local }').provider.opennebula.url, undefined);
  });

  it('accepts an opennebula section and refuses a non-HTTP URL or a bad retry count', () => {
    const { provider } = parseConfig(
      'provider: { kind: opennebula, opennebula: { url: "https://cloud.example:8443", tokenFile: /run/t, retries: 0 } }',
    );
    assert.equal(provider.opennebula.url, 'https://cloud.example:8443');
    assert.equal(provider.opennebula.tokenFile, '/run/t');
    assert.equal(provider.opennebula.retries, 0);
    const problems = problemsOf(
      'provider: { kind: opennebula, opennebula: { url: "ftp://cloud", token: t, retries: 11, timeoutMs: 0 } }',
    );
    const paths = problems.map((p) => p.split(':')[0]);
    assert.ok(paths.includes('provider.opennebula.url'), problems.join(' | '));
    assert.ok(paths.includes('provider.opennebula.retries'), problems.join(' | '));
    assert.ok(paths.includes('provider.opennebula.timeoutMs'), problems.join(' | '));
  });
});
