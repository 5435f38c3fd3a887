/**
 * Forwarding on one connection: `direct-tcpip` (ssh -L), `tcpip-forward`
 * (ssh -R, listening on loopback only) and agent forwarding (a unix socket in
 * a fresh 0700 directory owned by the login user, each connection to it an
 * `auth-agent@openssh.com` channel back to the client). Each is allowed only
 * when the session policy says so; refusals are audited.
 */
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { ServerChannel, TcpipBindInfo, TcpipRequestInfo } from "ssh2";
import type { ConnContext } from "./connection.ts";

/** Joins a channel and a socket both ways; either side's end or failure ends the other. */
export function splice(channel: ServerChannel, sock: Duplex, touch: () => void): void {
  if (sock instanceof net.Socket) sock.setNoDelay(true);
  channel.on("data", touch);
  sock.on("data", touch);
  channel.pipe(sock);
  sock.pipe(channel);
  const destroy = () => {
    sock.destroy();
    channel.destroy();
  };
  sock.on("error", destroy);
  channel.on("error", destroy);
  channel.on("close", () => sock.destroy());
  sock.on("close", () => {
    if (channel.writable) channel.end();
  });
}

const NOT_ALLOWED = "port forwarding is not allowed by your roles";

export class Forwarding {
  private readonly listeners = new Map<string, net.Server>();
  private agent: Promise<{ dir: string; path: string; server: net.Server }> | undefined;
  private closed = false;

  constructor(private readonly c: ConnContext) {}

  /** ssh -L: the client asks the node to connect to destIP:destPort. */
  direct(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): void {
    const addr = `${info.destIP}:${info.destPort}`;
    if (!this.c.policy.permitPortForwarding) {
      this.c.audit("port", { success: false, kind: "local", addr, error: NOT_ALLOWED });
      reject();
      return;
    }
    const sock = net.connect({ host: info.destIP, port: info.destPort });
    const onError = (e: Error) => {
      this.c.audit("port", { success: false, kind: "local", addr, error: e.message });
      reject();
    };
    sock.once("error", onError);
    sock.once("connect", () => {
      sock.off("error", onError);
      if (this.closed) return void sock.destroy();
      this.c.audit("port", { success: true, kind: "local", addr });
      splice(accept(), sock, () => this.c.touch());
    });
  }

  /** Global requests: tcpip-forward and cancel-tcpip-forward (ssh -R); anything else is refused. */
  request(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, info: TcpipBindInfo | undefined): void {
    if (name === "tcpip-forward" && info) {
      this.listen(accept, reject, info);
      return;
    }
    if (name === "cancel-tcpip-forward" && info) {
      const key = `${info.bindAddr}:${info.bindPort}`;
      const srv = this.listeners.get(key);
      if (srv) {
        this.listeners.delete(key);
        srv.close();
        accept?.();
      } else {
        reject?.();
      }
      return;
    }
    reject?.();
  }

  private listen(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, info: TcpipBindInfo): void {
    const requested = `${info.bindAddr}:${info.bindPort}`;
    const refuse = (error: string) => {
      this.c.audit("port", { success: false, kind: "remote", addr: requested, error });
      reject?.();
    };
    const problem = !this.c.policy.permitPortForwarding
      ? NOT_ALLOWED
      : info.bindPort !== 0 && info.bindPort < 1024 && this.c.os.uid !== 0
        ? "only root may forward privileged ports"
        : this.listeners.has(requested)
          ? "already forwarded"
          : undefined;
    if (problem) {
      refuse(problem);
      return;
    }
    const srv = net.createServer((sock) => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : info.bindPort;
      this.c.client.forwardOut(info.bindAddr, port, sock.remoteAddress ?? "127.0.0.1", sock.remotePort ?? 0, (err, ch) => {
        if (err) return void sock.destroy();
        splice(ch, sock, () => this.c.touch());
      });
    });
    srv.once("error", (e) => refuse(e.message));
    // Loopback only, whatever address was asked for (sshd's GatewayPorts=no).
    srv.listen({ host: "127.0.0.1", port: info.bindPort }, () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : info.bindPort;
      if (this.closed) return void srv.close();
      this.listeners.set(`${info.bindAddr}:${info.bindPort}`, srv);
      this.c.audit("port", { success: true, kind: "remote", addr: `127.0.0.1:${port}` });
      accept?.(port);
    });
  }

  /** The agent socket for this connection (created on first use), for SSH_AUTH_SOCK; refusals are audited by the caller. */
  agentSocket(): Promise<string> {
    this.agent ??= this.startAgent();
    return this.agent.then((a) => a.path);
  }

  private async startAgent(): Promise<{ dir: string; path: string; server: net.Server }> {
    const { uid, gid } = this.c.os;
    const dir = await mkdtemp(join(tmpdir(), "jumpgate-agent-"));
    const path = join(dir, "agent.sock");
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(dir, uid, gid);
    await chmod(dir, 0o700);
    const server = net.createServer((sock) => {
      this.c.client.openssh_authAgent((err, ch) => {
        if (err) return void sock.destroy();
        splice(ch, sock, () => this.c.touch());
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    await chmod(path, 0o600);
    if (asRoot) await chown(path, uid, gid);
    this.c.audit("port", { success: true, kind: "agent", addr: path });
    return { dir, path, server };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const srv of this.listeners.values()) srv.close();
    this.listeners.clear();
    const agent = await this.agent?.catch(() => undefined);
    if (agent) {
      agent.server.close();
      await rm(agent.dir, { recursive: true, force: true });
    }
  }
}
