import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/**
 * Calls `onChange` when the content of `file` changes, however it changes: written in place, replaced
 * by a rename (editors), or swapped under a symlink (a Kubernetes ConfigMap volume renames `..data`
 * to a new timestamped folder). It watches the file's folder, not the file (a watch on the file
 * follows the old inode and goes quiet after the first replace), and also polls the content every
 * `pollMs` in case the folder's events are lost (network file systems, overlay quirks).
 */
export function watchConfigFile(file: string, onChange: () => void, pollMs = 2000): { close(): void } {
  let last: string | undefined;
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const content = await readFile(file, 'utf8').catch(() => undefined);
      if (content === undefined || content === last) return;
      const first = last === undefined;
      last = content;
      if (!first) onChange();
    } finally {
      checking = false;
    }
  };
  void check();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, name) => {
      // the file itself, or the ConfigMap's `..data` link and its temporary sibling
      if (name === null || name === basename(file) || name.startsWith('..')) void check();
    });
    watcher.on('error', () => undefined); // the poll goes on
    watcher.unref();
  } catch {
    // no watch here (a folder we may not read): the poll alone
  }
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
