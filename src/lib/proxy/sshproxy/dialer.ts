import net from "node:net";
import type { Duplex } from "node:stream";
import { connectionProblem } from "../../../api/errors.ts";

/** A node the SSH proxy may route to, as `resolveNode` found it. */
export interface ResolvedNode {
  hostId: string;
  name: string;
  /** `host:port` of its SSH server, for nodes dialled directly (agentless OpenSSH, or `ssh_service.listen_addr`). */
  addr?: string;
  /** True when the node keeps a reverse tunnel to the proxy. */
  viaTunnel: boolean;
  /** A stock OpenSSH sshd (node sub_kind `openssh`): the proxy terminates, checks and records its sessions. */
  agentless?: boolean;
  labels: Record<string, string>;
}

/** Opens a raw byte stream to a node's SSH server. Throws `connection-problem` with a message for the user. */
export interface NodeDialer {
  dial(node: ResolvedNode, clientAddr: string): Promise<Duplex>;
}

/** The part of TunnelServer a dialer needs. */
export interface TunnelDialer {
  dial(hostId: string, info: { clientAddr: string; target?: string }): Promise<Duplex>;
}

export interface DirectDialOptions {
  /** TCP connect deadline; default 10 s. */
  connectTimeoutMs?: number;
}

/** Dials through the node's reverse tunnel when it has one, else TCP to its address. */
export function tunnelOrDirectDialer(tunnels: TunnelDialer, opts: DirectDialOptions = {}): NodeDialer {
  return {
    dial: (node, clientAddr) => {
      if (node.viaTunnel) return tunnels.dial(node.hostId, { clientAddr, target: node.name });
      if (node.addr === undefined) return Promise.reject(connectionProblem(`node ${node.name} has no address to dial`));
      return dialTcp(node.addr, opts.connectTimeoutMs ?? 10_000, node.name);
    },
  };
}

/** TCP to `host:port` with Nagle off (DESIGN §7b). */
export function dialTcp(addr: string, timeoutMs: number, what = addr): Promise<net.Socket> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !(port > 0 && port <= 65_535)) return Promise.reject(connectionProblem(`node ${what} has an invalid address`));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(connectionProblem(`timed out connecting to node ${what}`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => socket.destroy());
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(connectionProblem(`cannot connect to node ${what}`, e));
    });
  });
}
