import { readFileSync } from 'node:fs';
import { chown, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface OsUser {
  uid: number;
  gid: number;
}

/** Looks a system user up in /etc/passwd (no native module). */
export function lookupUser(name: string, passwd = '/etc/passwd'): OsUser | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined)
      return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Hands a directory tree to a service user, when we are root and the user exists; else a no-op. */
export async function chownTree(dir: string, userName: string): Promise<boolean> {
  const user = isRoot() ? lookupUser(userName) : undefined;
  if (!user) return false;
  const walk = async (path: string): Promise<void> => {
    await chown(path, user.uid, user.gid);
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else await chown(child, user.uid, user.gid);
    }
  };
  await walk(dir);
  return true;
}
