/**
 * File transfer: the `sftp` subsystem runs OpenSSH's own sftp-server as the
 * login user, piped to the channel; `scp` runs as an ordinary exec of the real
 * `scp` (legacy protocol) and is recognised here for the audit event. (Since
 * OpenSSH 9, `scp` itself speaks SFTP unless given `-O`.)
 */
import { existsSync } from "node:fs";
import type { ServerChannel } from "ssh2";
import type { OsLogin } from "./oslogin.ts";
import { type ExitInfo, pipeChild, spawnPiped } from "./spawn.ts";

const SFTP_SERVERS = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server", "/usr/lib/sftp-server"];

/** The sftp-server binary on this host, or undefined. */
export function sftpServerPath(): string | undefined {
  return SFTP_SERVERS.find((p) => existsSync(p));
}

export interface SftpResult extends ExitInfo {
  bytesIn: number;
  bytesOut: number;
}

/** Runs sftp-server as `user` on the channel until the client closes it. */
export async function runSftp(user: OsLogin, env: Record<string, string>, channel: ServerChannel, touch: () => void): Promise<SftpResult> {
  const server = sftpServerPath();
  if (!server) throw new Error("sftp-server is not installed");
  const child = spawnPiped(user, [server], env);
  let bytesIn = 0;
  let bytesOut = 0;
  const exit = await pipeChild(child, channel, {
    touch,
    onIn: (n) => {
      bytesIn += n;
    },
    onOut: (n) => {
      bytesOut += n;
    },
  });
  return { ...exit, bytesIn, bytesOut };
}

export interface ScpCommand {
  /** upload: the client sends files (`scp -t`); download: the client receives them (`scp -f`). */
  action: "upload" | "download";
  path: string;
  recursive: boolean;
}

/** Splits a command line the way a POSIX shell would for simple words and quotes (enough to read scp's own commands). */
function words(cmd: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let has = false;
  let i = 0;
  while (i < cmd.length) {
    const ch = cmd[i] ?? "";
    if (ch === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end < 0) return undefined;
      cur += cmd.slice(i + 1, end);
      has = true;
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < cmd.length && cmd[j] !== '"') {
        if (cmd[j] === "\\" && j + 1 < cmd.length) j++;
        cur += cmd[j] ?? "";
        j++;
      }
      if (j >= cmd.length) return undefined;
      has = true;
      i = j + 1;
    } else if (ch === "\\" && i + 1 < cmd.length) {
      cur += cmd[i + 1] ?? "";
      has = true;
      i += 2;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = "";
      has = false;
      i++;
    } else if (";&|<>`$()".includes(ch)) {
      return undefined; // not a plain scp invocation
    } else {
      cur += ch;
      has = true;
      i++;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Recognises `scp [-v] [-r] [-p] [-d] -t|-f [--] PATH` as the scp client sends it; undefined for anything else. */
export function parseScpCommand(cmd: string): ScpCommand | undefined {
  const w = words(cmd.trim());
  if (!w || w.length < 2) return undefined;
  const [prog, ...rest] = w;
  if (prog !== "scp" && !prog?.endsWith("/scp")) return undefined;
  let action: ScpCommand["action"] | undefined;
  let recursive = false;
  const paths: string[] = [];
  let endOfOptions = false;
  for (const a of rest) {
    if (!endOfOptions && a === "--") {
      endOfOptions = true;
    } else if (!endOfOptions && a.startsWith("-") && a.length > 1) {
      for (const f of a.slice(1)) {
        if (f === "t") action = "upload";
        else if (f === "f") action = "download";
        else if (f === "r") recursive = true;
      }
    } else {
      paths.push(a);
    }
  }
  const path = paths.at(-1);
  if (!action || path === undefined) return undefined;
  return { action, path, recursive };
}
