/**
 * Node flags for a child process that runs TypeScript through tsx, as the CLI does (bin/brokel.js).
 * `--import tsx` alone is resolved from the child's working directory, so a command started outside
 * the checkout (`cd /tmp && brokel simulate`) had children that died with ERR_MODULE_NOT_FOUND; tsx is
 * resolved here instead, from this file, as an absolute URL.
 */
export function tsxExecArgv(): string[] {
  return ['--import', import.meta.resolve('tsx')];
}
