/** bin/build-fresh.js: the build in out/ is newer than the tsconfigs and every source a replica runs. */
export function buildIsFresh(root: URL): boolean;
