import { isIP } from 'node:net';
import { ConfigError, type FieldProblem } from '../../../common/errors.ts';
import { unknownTemplate } from '../../../templates/registry.ts';
import type { ReplicaTemplate } from '../../../templates/template.ts';
import type { CreateOptions, Level } from '../cloud-provider.ts';

/**
 * Checks create() arguments against the machine (pure but for the inputs): every problem names the
 * option, so an operator sees `options.cpuQuota: 3 is above the 2 cores of this machine`.
 */
export function checkCreateOptions(
  level: Level,
  template: ReplicaTemplate | undefined,
  templateName: string,
  options: CreateOptions,
  cores: number,
): void {
  const problems: FieldProblem[] = [];
  if (!template) {
    problems.push(unknownTemplate(templateName, 'template'));
  } else if (template.level !== level) {
    problems.push({
      path: 'template',
      message: `${templateName} is a template of the ${template.level} level, not the ${level} level`,
    });
  }
  const { cpuQuota, bootDelaySeconds, host, port } = options;
  if (cpuQuota !== undefined) {
    if (!Number.isFinite(cpuQuota) || cpuQuota <= 0) {
      problems.push({
        path: 'options.cpuQuota',
        message: `${cpuQuota} is not above 0 (a fraction of one core)`,
      });
    } else if (cpuQuota > cores) {
      problems.push({
        path: 'options.cpuQuota',
        message: `${cpuQuota} is above the ${cores} cores of this machine`,
      });
    }
  }
  if (bootDelaySeconds !== undefined && (!Number.isFinite(bootDelaySeconds) || bootDelaySeconds < 0)) {
    problems.push({ path: 'options.bootDelaySeconds', message: `${bootDelaySeconds} is below 0` });
  }
  if (host !== undefined && isIP(host) === 0) {
    problems.push({ path: 'options.host', message: `${JSON.stringify(host)} is not an IP address` });
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) {
    problems.push({ path: 'options.port', message: `${port} is not a port number (1-65535)` });
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
