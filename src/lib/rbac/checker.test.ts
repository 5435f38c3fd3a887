import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Role } from "../../api/resources/index.ts";
import { AccessChecker, type KubeResourceRequest } from "./checker.ts";
import type { Decision, Labels, Traits } from "./decision.ts";
import { role } from "./testing.ts";

type Request =
  | { op: "node"; labels: Labels; login: string }
  | { op: "db"; labels: Labels; user: string; name?: string }
  | { op: "app"; labels: Labels }
  | { op: "desktop"; labels: Labels; login: string }
  | { op: "kube"; labels: Labels }
  | { op: "kubeResource"; labels: Labels; resource: KubeResourceRequest }
  | { op: "join"; kind: string; hostRoles: string[]; mode: string }
  | { op: "logins" }
  | { op: "ttl" }
  | { op: "perms" };

interface Row {
  name: string;
  roles: Role[];
  traits?: Traits;
  request: Request;
  /** true, the exact refusal reason, or the value returned. */
  expect: unknown;
}

const verdict = (d: Decision) => (d.allowed ? true : d.reason);

function run(c: AccessChecker, r: Request): unknown {
  switch (r.op) {
    case "node":
      return verdict(c.checkNodeAccess({ labels: r.labels }, r.login));
    case "db":
      return verdict(c.checkDatabaseAccess({ labels: r.labels }, r.user, r.name));
    case "app":
      return verdict(c.checkAppAccess({ labels: r.labels }));
    case "desktop":
      return verdict(c.checkDesktopAccess({ labels: r.labels }, r.login));
    case "kube": {
      const d = c.checkKubeAccess({ labels: r.labels });
      return d.allowed ? { groups: d.groups, users: d.users } : d.reason;
    }
    case "kubeResource":
      return verdict(c.checkKubeResource({ labels: r.labels }, r.resource));
    case "join":
      return verdict(c.canJoinSession({ kind: r.kind, hostRoles: r.hostRoles }, r.mode));
    case "logins":
      return c.sshLogins();
    case "ttl":
      return c.maxSessionTtlMs();
    case "perms":
      return c.certPermissions();
  }
}

const H = 3_600_000;
const dev = role("dev", { allow: { logins: ["{{internal.logins}}", "ubuntu"], node_labels: { env: ["dev", "staging"] } } });
const everywhere = role("everywhere", { allow: { logins: ["ubuntu"], node_labels: { "*": "*" } } });
const noProd = role("no-prod", { deny: { node_labels: { env: "prod" } } });
const noRoot = role("no-root", { deny: { logins: ["root"] } });
const rootOnDb = role("root-on-db", { allow: { logins: ["root"], node_labels: { team: "db" } } });
const dba = role("dba", { allow: { db_labels: { engine: "^(postgres|mysql)$" }, db_users: ["{{internal.db_users}}", "reader"], db_names: ["*"] } });
const kube = role("kube", {
  allow: { kubernetes_labels: { env: "dev" }, kubernetes_groups: ["{{internal.kubernetes_groups}}", "viewers"], kubernetes_users: ["{{external.k8s_user}}"] },
});
const alice: Traits = { logins: ["alice", "bad login"], db_users: ["alice_rw"], kubernetes_groups: ["devs"], k8s_user: ["alice@corp"] };

const ROWS: Row[] = [
  // logins
  {
    name: "logins: traits expanded, sorted, invalid trait values dropped",
    roles: [dev],
    traits: alice,
    request: { op: "logins" },
    expect: ["alice", "ubuntu"],
  },
  { name: "logins: union across roles minus denied", roles: [dev, rootOnDb, noRoot], traits: alice, request: { op: "logins" }, expect: ["alice", "ubuntu"] },
  {
    name: "logins: deny removes a templated login",
    roles: [dev, role("no-alice", { deny: { logins: ["{{internal.logins}}"] } })],
    traits: alice,
    request: { op: "logins" },
    expect: ["ubuntu"],
  },
  { name: "logins: missing trait gives only literals", roles: [dev], traits: {}, request: { op: "logins" }, expect: ["ubuntu"] },
  { name: "logins: no roles, no logins", roles: [], request: { op: "logins" }, expect: [] },
  // nodes
  {
    name: "node: allowed login on matching labels",
    roles: [dev],
    traits: alice,
    request: { op: "node", labels: { env: "dev" }, login: "alice" },
    expect: true,
  },
  { name: "node: no roles", roles: [], request: { op: "node", labels: { env: "dev" }, login: "alice" }, expect: "no roles assigned" },
  {
    name: "node: login not allowed",
    roles: [dev],
    traits: alice,
    request: { op: "node", labels: { env: "dev" }, login: "root" },
    expect: 'no role allows login "root"',
  },
  {
    name: "node: labels not matched",
    roles: [dev],
    traits: alice,
    request: { op: "node", labels: { env: "prod", team: "web" }, login: "alice" },
    expect: "no role's node_labels match this node (env=prod, team=web)",
  },
  {
    name: "node: login and labels from different roles do not combine",
    roles: [dev, rootOnDb],
    traits: alice,
    request: { op: "node", labels: { env: "dev" }, login: "root" },
    expect: 'no single role allows login "root" on this node (env=dev)',
  },
  {
    name: "node: deny by label beats allow everywhere",
    roles: [everywhere, noProd],
    request: { op: "node", labels: { env: "prod" }, login: "ubuntu" },
    expect: 'denied by role "no-prod": its deny node_labels match this node',
  },
  {
    name: "node: deny by label leaves other nodes",
    roles: [everywhere, noProd],
    request: { op: "node", labels: { env: "dev" }, login: "ubuntu" },
    expect: true,
  },
  {
    name: "node: deny login beats allow",
    roles: [rootOnDb, noRoot],
    request: { op: "node", labels: { team: "db" }, login: "root" },
    expect: 'denied by role "no-root": login "root" is denied',
  },
  {
    name: "node: deny is greedy ('*': '*' denies every node)",
    roles: [everywhere, role("lockdown", { deny: { node_labels: { "*": "*" } } })],
    request: { op: "node", labels: {}, login: "ubuntu" },
    expect: 'denied by role "lockdown": its deny node_labels match this node',
  },
  { name: "node: '*': '*' allows a node without labels", roles: [everywhere], request: { op: "node", labels: {}, login: "ubuntu" }, expect: true },
  {
    name: "node: regex label",
    roles: [role("r", { allow: { logins: ["a"], node_labels: { host: "^web-[0-9]+$" } } })],
    request: { op: "node", labels: { host: "web-12" }, login: "a" },
    expect: true,
  },
  {
    name: "node: templated label value from a trait",
    roles: [role("t", { allow: { logins: ["a"], node_labels: { team: "{{external.team}}" } } })],
    traits: { team: ["db"] },
    request: { op: "node", labels: { team: "db" }, login: "a" },
    expect: true,
  },
  {
    name: "node: a trait value of * is literal, not a wildcard",
    roles: [role("t", { allow: { logins: ["a"], node_labels: { team: "{{external.team}}" } } })],
    traits: { team: ["*"] },
    request: { op: "node", labels: { team: "db" }, login: "a" },
    expect: "no role's node_labels match this node (team=db)",
  },
  {
    name: "node: templated deny label applies",
    roles: [everywhere, role("not-mine", { deny: { node_labels: { owner: "{{external.blocked}}" } } })],
    traits: { blocked: ["bob"] },
    request: { op: "node", labels: { owner: "bob" }, login: "ubuntu" },
    expect: 'denied by role "not-mine": its deny node_labels match this node',
  },
  {
    name: "node: an over-long value under a deny regex fails closed",
    roles: [everywhere, role("no-weird", { deny: { node_labels: { motd: "^.*evil.*$" } } })],
    request: { op: "node", labels: { motd: "x".repeat(2000) }, login: "ubuntu" },
    expect: 'denied by role "no-weird": its deny node_labels could not be evaluated (value of "motd" too long for a regular expression)',
  },
  // ttl and permissions
  {
    name: "ttl: minimum across roles",
    roles: [role("a", { options: { max_session_ttl: "8h" } }), role("b", { options: { max_session_ttl: "30h" } })],
    request: { op: "ttl" },
    expect: 8 * H,
  },
  { name: "ttl: default 12h", roles: [role("a")], request: { op: "ttl" }, expect: 12 * H },
  { name: "ttl: no roles → 0", roles: [], request: { op: "ttl" }, expect: 0 },
  {
    name: "perms: defaults (agent and X11 off, port forwarding on)",
    roles: [role("a")],
    request: { op: "perms" },
    expect: { permitPty: true, permitPortForwarding: true, permitAgentForwarding: false, permitX11Forwarding: false },
  },
  {
    name: "perms: any role enables agent/X11; any role disabling port forwarding wins",
    roles: [role("a", { options: { forward_agent: true, permit_x11_forwarding: true } }), role("b", { options: { port_forwarding: false } })],
    request: { op: "perms" },
    expect: { permitPty: true, permitPortForwarding: false, permitAgentForwarding: true, permitX11Forwarding: true },
  },
  {
    name: "perms: no roles, nothing",
    roles: [],
    request: { op: "perms" },
    expect: { permitPty: false, permitPortForwarding: false, permitAgentForwarding: false, permitX11Forwarding: false },
  },
  // databases
  {
    name: "db: user from traits on a matching engine",
    roles: [dba],
    traits: alice,
    request: { op: "db", labels: { engine: "postgres" }, user: "alice_rw", name: "orders" },
    expect: true,
  },
  {
    name: "db: unknown user",
    roles: [dba],
    traits: alice,
    request: { op: "db", labels: { engine: "postgres" }, user: "postgres", name: "orders" },
    expect: 'no role allows database user "postgres"',
  },
  {
    name: "db: labels not matched",
    roles: [dba],
    traits: alice,
    request: { op: "db", labels: { engine: "mongodb" }, user: "reader" },
    expect: "no role's db_labels match this database (engine=mongodb)",
  },
  {
    name: "db: deny db_users * beats allow",
    roles: [dba, role("ro", { deny: { db_users: ["*"] } })],
    traits: alice,
    request: { op: "db", labels: { engine: "mysql" }, user: "reader" },
    expect: 'denied by role "ro": database user "reader" is denied',
  },
  {
    name: "db: deny a database name",
    roles: [dba, role("no-billing", { deny: { db_names: ["billing"] } })],
    request: { op: "db", labels: { engine: "mysql" }, user: "reader", name: "billing" },
    expect: 'denied by role "no-billing": database name "billing" is denied',
  },
  {
    name: "db: name not allowed",
    roles: [role("one", { allow: { db_labels: { "*": "*" }, db_users: ["r"], db_names: ["app"] } })],
    request: { op: "db", labels: {}, user: "r", name: "other" },
    expect: 'no role allows database name "other"',
  },
  // apps and desktops
  {
    name: "app: allowed by labels",
    roles: [role("apps", { allow: { app_labels: { env: "dev" } } })],
    request: { op: "app", labels: { env: "dev" } },
    expect: true,
  },
  {
    name: "app: denied by labels",
    roles: [role("apps", { allow: { app_labels: { "*": "*" } }, deny: { app_labels: { sensitive: "true" } } })],
    request: { op: "app", labels: { sensitive: "true" } },
    expect: 'denied by role "apps": its deny app_labels match this app',
  },
  {
    name: "app: role without app_labels grants no app",
    roles: [dev],
    request: { op: "app", labels: { env: "dev" } },
    expect: "no role's app_labels match this app (env=dev)",
  },
  {
    name: "desktop: Windows login",
    roles: [role("win", { allow: { windows_desktop_labels: { "*": "*" }, windows_desktop_logins: ["Administrator"] } })],
    request: { op: "desktop", labels: {}, login: "Administrator" },
    expect: true,
  },
  // kubernetes
  {
    name: "kube: groups and users from traits",
    roles: [kube],
    traits: alice,
    request: { op: "kube", labels: { env: "dev" } },
    expect: { groups: ["devs", "viewers"], users: ["alice@corp"] },
  },
  {
    name: "kube: deny groups are removed",
    roles: [kube, role("no-viewers", { deny: { kubernetes_groups: ["viewers"] } })],
    traits: alice,
    request: { op: "kube", labels: { env: "dev" } },
    expect: { groups: ["devs"], users: ["alice@corp"] },
  },
  {
    name: "kube: no groups or users left",
    roles: [role("k", { allow: { kubernetes_labels: { "*": "*" } } })],
    request: { op: "kube", labels: {} },
    expect: "no kubernetes_groups or kubernetes_users are allowed for this Kubernetes cluster",
  },
  {
    name: "kube: labels not matched",
    roles: [kube],
    traits: alice,
    request: { op: "kube", labels: { env: "prod" } },
    expect: "no role's kubernetes_labels match this Kubernetes cluster (env=prod)",
  },
  {
    name: "kube resource: allowed by v7 default (everything)",
    roles: [kube],
    traits: alice,
    request: { op: "kubeResource", labels: { env: "dev" }, resource: { kind: "secret", namespace: "kube-system", name: "x", verb: "get" } },
    expect: true,
  },
  {
    name: "kube resource: outside the allowed namespaces",
    roles: [
      role("pods", {
        allow: {
          kubernetes_labels: { "*": "*" },
          kubernetes_groups: ["g"],
          kubernetes_resources: [{ kind: "pod", namespace: "dev-*", name: "*", verbs: ["get"] }],
        },
      }),
    ],
    request: { op: "kubeResource", labels: {}, resource: { kind: "pod", namespace: "prod", name: "api", verb: "get" } },
    expect: "no role allows get on pod prod/api",
  },
  {
    name: "kube resource: deny beats allow",
    roles: [kube, role("no-secrets", { deny: { kubernetes_resources: [{ kind: "secret", namespace: "*", name: "*", verbs: ["*"] }] } })],
    traits: alice,
    request: { op: "kubeResource", labels: { env: "dev" }, resource: { kind: "secret", namespace: "default", name: "db", verb: "get" } },
    expect: 'denied by role "no-secrets": get on secret default/db is denied',
  },
  // session joining
  {
    name: "join: observer of dev sessions",
    roles: [role("j", { allow: { join_sessions: [{ name: "watch dev", roles: ["dev*"], kinds: ["ssh"], modes: ["observer"] }] } })],
    request: { op: "join", kind: "ssh", hostRoles: ["developer"], mode: "observer" },
    expect: true,
  },
  {
    name: "join: mode not allowed",
    roles: [role("j", { allow: { join_sessions: [{ name: "watch dev", roles: ["dev*"], kinds: ["ssh"], modes: ["observer"] }] } })],
    request: { op: "join", kind: "ssh", hostRoles: ["developer"], mode: "moderator" },
    expect: "no join_sessions policy allows joining ssh sessions as moderator",
  },
  {
    name: "join: deny policy wins",
    roles: [
      role("j", {
        allow: { join_sessions: [{ name: "all", roles: ["*"], kinds: ["*"], modes: ["peer"] }] },
        deny: { join_sessions: [{ name: "not admins", roles: ["admin"], kinds: ["*"], modes: ["peer"] }] },
      }),
    ],
    request: { op: "join", kind: "k8s", hostRoles: ["admin"], mode: "peer" },
    expect: 'denied by role "j" (join policy "not admins")',
  },
];

describe("AccessChecker", () => {
  for (const row of ROWS) {
    it(row.name, () => assert.deepEqual(run(new AccessChecker(row.roles, row.traits ?? {}), row.request), row.expect));
  }

  it("keeps the reasons it dropped values, for the logs", () => {
    const c = new AccessChecker([dev, role("bad", { allow: { logins: ["{{internal.nope}}"] } })], alice);
    assert.deepEqual(c.warnings, [
      'role "dev": spec.allow.logins: dropped invalid value "bad login"',
      'role "bad": spec.allow.logins: invalid template "{{internal.nope}}": internal.nope is not an internal trait (known: logins, windows_logins, db_users, db_names, db_roles, kubernetes_users, kubernetes_groups, aws_role_arns, azure_identities, gcp_service_accounts)',
    ]);
  });

  it("session options: MFA, idle timeout, expired certs", () => {
    const c = new AccessChecker([
      role("a", { options: { require_session_mfa: true, client_idle_timeout: "30m" } }),
      role("b", { options: { client_idle_timeout: "10m", disconnect_expired_cert: true } }),
    ]);
    assert.equal(c.requireSessionMfa(), true);
    assert.equal(c.clientIdleTimeoutMs(), 10 * 60_000);
    assert.equal(c.disconnectExpiredCert(), true);
  });

  it("access requests: request and review roles, deny wins", () => {
    const c = new AccessChecker([
      role("r", { allow: { request: { roles: ["db-*"] }, review_requests: { roles: ["dev"] } }, deny: { request: { roles: ["db-admin"] } } }),
    ]);
    assert.equal(c.canRequestRole("db-reader").allowed, true);
    assert.equal(verdict(c.canRequestRole("db-admin")), 'denied by role "r": may not request role "db-admin"');
    assert.equal(verdict(c.canRequestRole("admin")), 'no role allows you to request role "admin"');
    assert.equal(c.canReviewRole("dev").allowed, true);
  });
});
