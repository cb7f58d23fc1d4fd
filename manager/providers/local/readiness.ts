import { probeMqtt } from '../../../common/mqtt-probe.ts';
import type { ReadinessProbe } from '../../../templates/template.ts';

/** Runs a template's readiness probe once: true when the replica answers. */
export async function probeOnce(
  probe: ReadinessProbe,
  host: string,
  port: number,
  timeoutMs = 1000,
  http: { port?: number; headers?: Record<string, string> } = {},
): Promise<boolean> {
  try {
    if (probe.kind === 'mqtt') {
      await probeMqtt({ host, port, timeoutMs });
      return true;
    }
    const target = host.includes(':') ? `[${host}]` : host;
    const response = await fetch(`http://${target}:${http.port ?? port}${probe.path}`, {
      signal: AbortSignal.timeout(timeoutMs),
      ...(http.headers ? { headers: http.headers } : {}),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
