import net from "node:net";
import os from "node:os";
import type ssh2 from "ssh2";
import { badParameter } from "../../api/errors.ts";
import { connectNode, currentProfile, loadCredentials, userAuthClient } from "../../lib/client/index.ts";
import { listNodes, parseSelector } from "./nodes.ts";

export interface SshFlags {
  login?: string;
  tty?: boolean;
  noCommand?: boolean;
  forwardAgent?: boolean;
  local?: string[];
  remote?: string[];
  proxy?: string;
  user?: string;
}

/** `[LOGIN@]HOST`, with -l as the default login and the profile's user last. */
export function parseTarget(spec: string, flags: SshFlags, fallback: string): { login: string; host: string } {
  const at = spec.lastIndexOf("@");
  const login = at >= 0 ? spec.slice(0, at) : (flags.login ?? fallback);
  const host = at >= 0 ? spec.slice(at + 1) : spec;
  if (!host || !login) throw badParameter(`"${spec}" is not [LOGIN@]HOST`);
  return { login, host };
}

interface Forward {
  bindHost: string;
  bindPort: number;
  host: string;
  port: number;
}

/** OpenSSH's -L/-R form: [BIND:]PORT:HOST:HOSTPORT. */
export function parseForward(spec: string): Forward {
  const parts = spec.split(":");
  const [bindHost, bindPort, host, port] = parts.length === 4 ? parts : ["127.0.0.1", ...parts];
  const f = { bindHost: bindHost ?? "", bindPort: Number(bindPort), host: host ?? "", port: Number(port) };
  if (!f.host || !Number.isInteger(f.bindPort) || !Number.isInteger(f.port) || f.port <= 0) {
    throw badParameter(`"${spec}" is not [BIND:]PORT:HOST:HOSTPORT`);
  }
  return f;
}

function localForward(node: ssh2.Client, f: Forward): Promise<net.Server> {
  const server = net.createServer((sock) => {
    node.forwardOut(sock.remoteAddress ?? "127.0.0.1", sock.remotePort ?? 0, f.host, f.port, (err, ch) => {
      if (err) {
        process.stderr.write(`jsh: forwarding to ${f.host}:${f.port} refused: ${err.message}\n`);
        sock.destroy();
        return;
      }
      sock.pipe(ch).pipe(sock);
      sock.on("error", () => ch.destroy());
      ch.on("error", () => sock.destroy());
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(f.bindPort, f.bindHost, () => resolve(server));
  });
}

function remoteForward(node: ssh2.Client, f: Forward): Promise<void> {
  node.on("tcp connection", (info, accept) => {
    if (info.destPort !== f.bindPort) return;
    const ch = accept();
    const sock = net.connect(f.port, f.host);
    sock.pipe(ch).pipe(sock);
    sock.on("error", () => ch.destroy());
  });
  return new Promise((resolve, reject) =>
    node.forwardIn(f.bindHost, f.bindPort, (err) => (err ? reject(badParameter(`remote forwarding refused: ${err.message}`)) : resolve())),
  );
}

/** Runs a command or a shell on one node; resolves with its exit code. */
async function runOn(target: { login: string; host: string }, command: string, flags: SshFlags, prefix: string | undefined): Promise<number> {
  const p = currentProfile(flags.proxy);
  const creds = loadCredentials(p);
  const agent = flags.forwardAgent ? process.env.SSH_AUTH_SOCK : undefined;
  if (flags.forwardAgent && !agent) throw badParameter("-A needs a running ssh-agent (SSH_AUTH_SOCK is not set)");
  const { node, proxy } = await connectNode(p, creds, { host: target.host, port: 0, login: target.login }, agent);
  const servers: net.Server[] = [];
  try {
    for (const l of flags.local ?? []) servers.push(await localForward(node, parseForward(l)));
    for (const r of flags.remote ?? []) await remoteForward(node, parseForward(r));
    if (flags.noCommand) {
      await new Promise<void>((resolve) => {
        node.once("close", () => resolve());
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      return 0;
    }
    const interactive = command === "";
    const wantPty = flags.tty ?? (interactive && process.stdin.isTTY === true);
    const ptyOpts = wantPty ? { term: process.env.TERM ?? "xterm-256color", rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } : undefined;
    return await new Promise<number>((resolve, reject) => {
      const onStream = (err: Error | undefined, ch: ssh2.ClientChannel) => {
        if (err) return reject(badParameter(err.message));
        // Like OpenSSH: 255 when the connection ends without an exit status (node gone, idle timeout).
        let code = 255;
        ch.on("exit", (c: number | null, signal?: string) => {
          const num = signal ? (os.constants.signals as Record<string, number>)[`SIG${signal}`] : undefined;
          code = c ?? (num !== undefined ? 128 + num : 255);
        });
        ch.on("close", () => {
          if (wantPty && process.stdin.isTTY) process.stdin.setRawMode(false);
          process.stdin.unpipe(ch);
          process.stdin.pause();
          resolve(code);
        });
        const out = (stream: NodeJS.WriteStream) => (d: Buffer) => {
          if (!prefix) stream.write(d);
          else for (const line of d.toString().split(/(?<=\n)/)) stream.write(`[${prefix}] ${line}`);
        };
        ch.on("data", out(process.stdout));
        ch.stderr.on("data", out(process.stderr));
        if (wantPty && process.stdin.isTTY) {
          process.stdin.setRawMode(true);
          process.stdout.on("resize", () => ch.setWindow(process.stdout.rows, process.stdout.columns, 0, 0));
        }
        if (!prefix) process.stdin.pipe(ch);
        else ch.end();
      };
      if (interactive) node.shell(ptyOpts ?? false, onStream);
      else node.exec(command, ptyOpts ? { pty: ptyOpts } : {}, onStream);
    });
  } finally {
    for (const s of servers) s.close();
    node.end();
    proxy.end();
  }
}

/** `jsh ssh`: one node by name or UUID, or every node matching KEY=VALUE labels. */
export async function jshSsh(spec: string, command: string[], flags: SshFlags): Promise<number> {
  const p = currentProfile(flags.proxy);
  const t = parseTarget(spec, flags, p.user);
  const cmd = command.join(" ");
  if (!t.host.includes("=")) return runOn(t, cmd, flags, undefined);
  if (!cmd) throw badParameter("a label selector runs a command on every match: give the command");
  const auth = userAuthClient(p);
  const nodes = await listNodes(auth, parseSelector(t.host.split(","))).finally(() => auth.close());
  if (nodes.length === 0) throw badParameter(`no node matches ${t.host}`);
  const codes = await Promise.all(nodes.map((n) => runOn({ login: t.login, host: n.name }, cmd, flags, n.hostname)));
  return codes.find((c) => c !== 0) ?? 0;
}
