import { readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface OsUser {
  uid: number;
  gid: number;
  /** Supplementary groups (/etc/group lists the user as a member). */
  groups: number[];
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Looks a system user up in /etc/passwd and its groups in /etc/group (no native module). */
export function lookupUser(name: string, passwd = '/etc/passwd', group = '/etc/group'): OsUser | undefined {
  for (const line of readLines(passwd)) {
    const [user, , uid, gid] = line.split(':');
    if (user !== name || uid === undefined || gid === undefined) continue;
    const groups: number[] = [];
    for (const entry of readLines(group)) {
      const [, , id, members] = entry.split(':');
      if (id !== undefined && members?.split(',').includes(name)) groups.push(Number(id));
    }
    return { uid: Number(uid), gid: Number(gid), groups };
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** A folder's owner and permission bits, as stat(2) gives them. */
export interface FolderMode {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Whether `user` may cross (search) a folder (pure): the owner's, the group's or the others' execute
 * bit, in the kernel's order (the first class the user is in decides). POSIX ACLs are not read.
 */
export function maySearch(user: OsUser, folder: FolderMode): boolean {
  if (user.uid === 0) return true;
  if (folder.uid === user.uid) return (folder.mode & 0o100) !== 0;
  if (folder.gid === user.gid || user.groups.includes(folder.gid)) return (folder.mode & 0o010) !== 0;
  return (folder.mode & 0o001) !== 0;
}

/** The first folder on the way from / to `dir` (dir excluded) that `user` may not cross, or undefined. */
export async function firstClosedFolder(
  dir: string,
  user: OsUser,
): Promise<(FolderMode & { path: string }) | undefined> {
  const above: string[] = [];
  for (let path = dirname(resolve(dir)); ; path = dirname(path)) {
    above.unshift(path);
    if (dirname(path) === path) break;
  }
  for (const path of above) {
    const { uid, gid, mode } = await stat(path);
    if (!maySearch(user, { uid, gid, mode })) return { path, uid, gid, mode };
  }
  return undefined;
}

/**
 * Hands a directory tree to a service user, when we are root and the user exists; else a no-op. A
 * service run as root that drops to that user (Mosquitto) opens its files there afterwards, so a
 * folder above the tree it may not cross is refused here, with what to do, rather than found by the
 * service later (it failed with "Unable to open pwfile", or saved no persistence file without a word).
 */
export async function chownTree(dir: string, userName: string): Promise<boolean> {
  const user = isRoot() ? lookupUser(userName) : undefined;
  if (!user) return false;
  const closed = await firstClosedFolder(dir, user);
  if (closed !== undefined) {
    const mode = (closed.mode & 0o7777).toString(8).padStart(4, '0');
    throw new Error(
      `the ${userName} user cannot reach ${dir}: ${closed.path} (owner uid ${closed.uid}, gid ${closed.gid}, ` +
        `mode ${mode}) does not let it cross. Started as root, the service drops to that user and then ` +
        `opens its files there. Let it cross (chmod o+x ${closed.path}) or put the state folder ` +
        `(provider.local.stateDir) under folders every user may cross`,
    );
  }
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

/**
 * A fresh folder in the temp folder that every user may cross (mkdtemp makes it 0700): for a local
 * deployment's state folder, whose brokers open their files after dropping to their own user.
 */
export async function crossableTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}
