import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import type { Role } from "../../../api/resources/index.ts";
import { generateEd25519, signUserCertificate } from "../../crypto/index.ts";
import { role } from "../../rbac/testing.ts";
import { type AuthorizeResult, RbacAuthorizer } from "./authorizer.ts";

const clock = new FakeClock(new Date("2026-03-01T10:00:00Z"));
const ca = generateEd25519();
const userKey = generateEd25519();

function cert(o: { pf?: boolean; agent?: boolean; pty?: boolean } = {}) {
  return signUserCertificate({
    publicKey: userKey.publicKey,
    caKey: ca.privateKey,
    keyId: "alice",
    principals: ["ubuntu", "root"],
    ttlMs: 8 * 3600_000,
    clock,
    permitPty: o.pty ?? true,
    permitPortForwarding: o.pf ?? true,
    permitAgentForwarding: o.agent ?? true,
    permitX11Forwarding: false,
    roles: ["dev"],
    traits: {},
  });
}

const dev = role("dev", { allow: { logins: ["ubuntu", "{{internal.logins}}"], node_labels: { env: "dev" } } });
const noPf = role("no-pf", { allow: { logins: ["ubuntu"], node_labels: { env: "dev" } }, options: { port_forwarding: false } });
const agent = role("agent", { allow: { logins: ["ubuntu"], node_labels: { "*": "*" } }, options: { forward_agent: true } });
const strict = role("strict", {
  allow: { logins: ["ubuntu"], node_labels: { "*": "*" } },
  options: { client_idle_timeout: "15m", disconnect_expired_cert: true },
});
const denyRoot = role("deny-root", { deny: { logins: ["root"] } });
const denyProd = role("deny-prod", { deny: { node_labels: { env: "prod" } } });

interface Row {
  name: string;
  user?: { roles: string[]; traits?: Record<string, string[]> } | undefined;
  roles: Role[];
  login?: string;
  labels?: Record<string, string>;
  cert?: ReturnType<typeof cert>;
  /** The refusal reason, or the expected policy fields. */
  expect: string | Partial<Extract<AuthorizeResult, { allowed: true }>["policy"]>;
}

const rows: Row[] = [
  {
    name: "allowed: login and labels match one role",
    user: { roles: ["dev"] },
    roles: [dev],
    expect: { permitPty: true, permitPortForwarding: true, permitAgentForwarding: false, clientIdleTimeoutMs: 0, recordSession: true },
  },
  {
    name: "logins from traits",
    user: { roles: ["dev"], traits: { logins: ["deploy"] } },
    roles: [dev],
    login: "deploy",
    expect: { permitPty: true },
  },
  {
    name: "a login no role allows",
    user: { roles: ["dev"] },
    roles: [dev],
    login: "root",
    expect: 'login "root" is not allowed on web-1 (no role allows login "root")',
  },
  {
    name: "a node outside node_labels",
    user: { roles: ["dev"] },
    roles: [dev],
    labels: { env: "prod" },
    expect: 'login "ubuntu" is not allowed on web-1 (no role\'s node_labels match this node (env=prod))',
  },
  {
    name: "a deny on the login",
    user: { roles: ["agent", "deny-root"] },
    roles: [agent, denyRoot],
    login: "root",
    expect: 'login "root" is not allowed on web-1 (denied by role "deny-root": login "root" is denied)',
  },
  {
    name: "a deny on the labels",
    user: { roles: ["agent", "deny-prod"] },
    roles: [agent, denyProd],
    labels: { env: "prod" },
    expect: 'login "ubuntu" is not allowed on web-1 (denied by role "deny-prod": its deny node_labels match this node)',
  },
  {
    name: "a deleted user",
    user: undefined,
    roles: [dev],
    expect: 'login "ubuntu" is not allowed on web-1 (user "alice" does not exist)',
  },
  {
    name: "a deleted role counts as gone at once",
    user: { roles: ["dev"] },
    roles: [],
    expect: 'login "ubuntu" is not allowed on web-1 (no roles assigned)',
  },
  {
    name: "port forwarding off in a role wins over the certificate",
    user: { roles: ["dev", "no-pf"] },
    roles: [dev, noPf],
    expect: { permitPortForwarding: false, permitPty: true },
  },
  {
    name: "port forwarding missing from the certificate wins over the roles",
    user: { roles: ["dev"] },
    roles: [dev],
    cert: cert({ pf: false }),
    expect: { permitPortForwarding: false },
  },
  {
    name: "agent forwarding needs a role and the certificate",
    user: { roles: ["agent"] },
    roles: [agent],
    expect: { permitAgentForwarding: true },
  },
  {
    name: "agent forwarding missing from the certificate",
    user: { roles: ["agent"] },
    roles: [agent],
    cert: cert({ agent: false }),
    expect: { permitAgentForwarding: false },
  },
  {
    name: "PTY missing from the certificate",
    user: { roles: ["dev"] },
    roles: [dev],
    cert: cert({ pty: false }),
    expect: { permitPty: false },
  },
  {
    name: "idle timeout and disconnect at certificate expiry",
    user: { roles: ["strict"] },
    roles: [strict],
    expect: { clientIdleTimeoutMs: 15 * 60_000, disconnectAt: new Date("2026-03-01T18:00:00Z") },
  },
];

describe("RbacAuthorizer", () => {
  for (const row of rows) {
    it(row.name, async () => {
      const byName = new Map(row.roles.map((r) => [r.metadata.name, r]));
      const a = new RbacAuthorizer({
        getUser: async (name) => (name === "alice" && row.user ? { roles: row.user.roles, traits: row.user.traits ?? {} } : undefined),
        getRole: async (name) => byName.get(name),
        labels: () => row.labels ?? { env: "dev" },
        userCaKeys: () => [ca.publicKey],
        clock,
        nodeName: "web-1",
      });
      const r = await a.authorize({ user: "alice", login: row.login ?? "ubuntu", cert: row.cert ?? cert(), remoteAddr: "127.0.0.1" });
      if (typeof row.expect === "string") {
        assert.deepEqual(r, { allowed: false, reason: row.expect });
      } else {
        assert.ok(r.allowed, r.allowed ? "" : r.reason);
        for (const [k, v] of Object.entries(row.expect)) assert.deepEqual(r.policy[k as keyof typeof r.policy], v, k);
        if (!("disconnectAt" in row.expect)) assert.equal(r.policy.disconnectAt, undefined);
      }
    });
  }

  it("reads the user and roles again on every decision (a change takes effect at once)", async () => {
    let roles = ["dev"];
    const a = new RbacAuthorizer({
      getUser: async () => ({ roles, traits: {} }),
      getRole: async (name) => (name === "dev" ? dev : undefined),
      labels: () => ({ env: "dev" }),
      userCaKeys: () => [ca.publicKey],
      clock,
    });
    const req = { user: "alice", login: "ubuntu", cert: cert(), remoteAddr: "127.0.0.1" };
    assert.equal((await a.authorize(req)).allowed, true);
    roles = [];
    assert.deepEqual(await a.authorize(req), { allowed: false, reason: 'login "ubuntu" is not allowed on this node (no roles assigned)' });
    assert.deepEqual(a.trustedUserCaKeys(), [ca.publicKey]);
  });
});

describe("RbacAuthorizer and the cluster's recording mode", () => {
  const withMode = (mode: (() => Promise<string>) | undefined) =>
    new RbacAuthorizer({
      getUser: async () => ({ roles: ["dev"], traits: {} }),
      getRole: async (name) => (name === "dev" ? dev : undefined),
      labels: () => ({ env: "dev" }),
      userCaKeys: () => [ca.publicKey],
      clock,
      ...(mode ? { recordingMode: mode } : {}),
    });
  const recorded = async (a: RbacAuthorizer) => {
    const r = await a.authorize({ user: "alice", login: "ubuntu", cert: cert(), remoteAddr: "127.0.0.1" });
    assert.ok(r.allowed);
    return r.policy.recordSession;
  };

  it("records only in mode node (proxy: the proxy records; off: nobody), and records when the mode cannot be read", async () => {
    assert.equal(await recorded(withMode(undefined)), true);
    assert.equal(await recorded(withMode(async () => "node")), true);
    assert.equal(await recorded(withMode(async () => "proxy")), false);
    assert.equal(await recorded(withMode(async () => "off")), false);
    assert.equal(await recorded(withMode(() => Promise.reject(new Error("auth down")))), true);
  });
});

describe("RbacAuthorizer.authorizeJoin", () => {
  const watcher = role("watcher", { allow: { join_sessions: [{ name: "watch devs", roles: ["dev"], kinds: ["ssh"], modes: ["observer"] }] } });
  const pair = role("pair", { allow: { join_sessions: [{ name: "pair", roles: ["*"], kinds: ["ssh"], modes: ["peer", "observer"] }] } });
  const noAdmins = role("no-admins", { deny: { join_sessions: [{ name: "not admins", roles: ["admin"], kinds: ["*"], modes: ["observer", "peer"] }] } });
  const users: Record<string, string[]> = { alice: ["dev"], root: ["admin"], wendy: ["watcher"], pete: ["pair", "no-admins"], nora: ["dev"] };
  const a = new RbacAuthorizer({
    getUser: async (name) => (users[name] ? { roles: users[name], traits: {} } : undefined),
    getRole: async (name) => [dev, watcher, pair, noAdmins].find((r) => r.metadata.name === name),
    labels: () => ({ env: "dev" }),
    userCaKeys: () => [ca.publicKey],
    clock,
  });
  const cases: { name: string; user: string; owner: string; mode: string; expect: true | string }[] = [
    { name: "an observer policy for the owner's role", user: "wendy", owner: "alice", mode: "observer", expect: true },
    { name: "the mode is checked", user: "wendy", owner: "alice", mode: "peer", expect: "no join_sessions policy allows joining ssh sessions as peer" },
    {
      name: "the owner's roles are checked",
      user: "wendy",
      owner: "root",
      mode: "observer",
      expect: "no join_sessions policy allows joining ssh sessions as observer",
    },
    { name: "a deny policy wins", user: "pete", owner: "root", mode: "peer", expect: 'denied by role "no-admins" (join policy "not admins")' },
    { name: "peer allowed by a wildcard", user: "pete", owner: "alice", mode: "peer", expect: true },
    {
      name: "no join_sessions at all",
      user: "nora",
      owner: "alice",
      mode: "observer",
      expect: "no join_sessions policy allows joining ssh sessions as observer",
    },
    {
      name: "an owner who no longer exists",
      user: "wendy",
      owner: "ghost",
      mode: "observer",
      expect: "no join_sessions policy allows joining ssh sessions as observer",
    },
    { name: "a joiner who no longer exists", user: "ghost", owner: "alice", mode: "observer", expect: 'user "ghost" does not exist' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const d = await a.authorizeJoin({ user: c.user, owner: c.owner, kind: "ssh", mode: c.mode });
      assert.deepEqual(d, c.expect === true ? { allowed: true } : { allowed: false, reason: c.expect });
    });
  }
});
