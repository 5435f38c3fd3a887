import type { ForwardPlan } from "./forward.ts";

/**
 * Who terminates and records a route (Teleport's rules): agentless OpenSSH
 * nodes are always terminated at the proxy (sshd records nothing and trusts
 * every login in a certificate), and recorded there unless the mode is `off`;
 * in mode `proxy` every route is terminated and recorded at the proxy; in
 * `node` and `off`, routes to Jumpgate nodes are relayed untouched.
 */
export function planRoute(mode: string, node: { agentless?: boolean }): ForwardPlan {
  const agentless = node.agentless === true;
  if (mode === "proxy") return { terminate: true, record: true };
  if (mode === "off") return { terminate: agentless, record: false };
  return { terminate: agentless, record: agentless };
}
