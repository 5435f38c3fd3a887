/**
 * OS logins: resolve a login to its uid, gid, home and shell (through
 * `getent passwd`, so NSS sources such as LDAP count), and build the command
 * line and environment that run a program as that user.
 */
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { accessDenied } from "../../../api/errors.ts";

export interface OsLogin {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** POSIX-ish user names (as useradd accepts them); anything else is refused before getent sees it. */
const LOGIN_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/;

const ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/games";
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) ?? "setpriv";

/** Parses one `getent passwd` line: name:x:uid:gid:gecos:home:shell. */
export function parsePasswdLine(line: string): OsLogin | undefined {
  const f = line.trim().split(":");
  if (f.length < 7) return undefined;
  const [name, , uid, gid, , home, shell] = f;
  const u = Number(uid);
  const g = Number(gid);
  if (!name || !Number.isInteger(u) || !Number.isInteger(g) || u < 0 || g < 0) return undefined;
  return { name, uid: u, gid: g, home: home || "/", shell: shell || "/bin/sh" };
}

export type LoginLookup = (login: string) => Promise<OsLogin>;

/**
 * Resolves a login, or throws `accessDenied` with a reason for people
 * (`login "x" does not exist on NODE`).
 */
export function lookupLogin(login: string, nodeName: string): Promise<OsLogin> {
  if (!LOGIN_RE.test(login)) return Promise.reject(accessDenied(`login ${JSON.stringify(login)} is not a valid user name`));
  return new Promise((resolve, reject) => {
    execFile("getent", ["passwd", login], { timeout: 10_000 }, (err, stdout) => {
      const parsed = err ? undefined : parsePasswdLine(stdout.split("\n")[0] ?? "");
      if (!parsed || parsed.name !== login) {
        reject(accessDenied(`login ${JSON.stringify(login)} does not exist on ${nodeName}`));
        return;
      }
      resolve(parsed);
    });
  });
}

/**
 * Can this process start programs as `user`? As root, yes; otherwise only as
 * itself. Throws `accessDenied` with the reason.
 */
export function checkCanRunAs(user: OsLogin, nodeName: string): void {
  const me = process.getuid?.();
  if (me === undefined || me === 0 || me === user.uid) return;
  throw accessDenied(`${nodeName} runs without root and can only start sessions as uid ${me}, not as ${JSON.stringify(user.name)}`);
}

/** The environment every session starts from (sshd's, minus what PAM would add). */
export function baseEnv(user: OsLogin): Record<string, string> {
  return {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    PATH: user.uid === 0 ? ROOT_PATH : USER_PATH,
  };
}

/** The working directory: the home directory when it exists, else `/`. */
export function homeOrRoot(user: OsLogin): string {
  try {
    return statSync(user.home).isDirectory() ? user.home : "/";
  } catch {
    return "/";
  }
}

/**
 * The program and arguments that run `argv` as `user`. As root starting a
 * non-root user's program, `setpriv` switches uid and gid and sets the
 * supplementary groups from the group database (Node's and node-pty's own
 * uid/gid options would keep root's groups).
 */
export function asUser(user: OsLogin, argv: readonly string[]): { file: string; args: string[] } {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  const me = process.getuid?.();
  if (me !== 0 || user.uid === 0) return { file, args };
  return { file: SETPRIV, args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", file, ...args] };
}
