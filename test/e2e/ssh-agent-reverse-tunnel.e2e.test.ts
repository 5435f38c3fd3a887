import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent | undefined;
let alice: LoggedIn;
const work = tempDir("tunnel");

before(async () => {
  // Auth and proxy only: the SSH node is a separate process that dials out.
  d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  alice = await userLoggedIn(d, "tunnel-alice", "access", "root");
});
after(async () => {
  await agent?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, alice?.home ?? "", agent?.dataDir ?? "");
});

test("an agent joins with a token, keeps a reverse tunnel, and shows its static and command labels", async () => {
  const tok = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--ttl=10m", "--format=json"]);
  assert.equal(tok.code, 0, tok.stderr);
  const { token } = JSON.parse(tok.stdout);
  const config = join(work, "agent.yaml");
  writeFileSync(
    config,
    `version: v3
jumpgate:
  nodename: tunnel-node
ssh_service:
  enabled: yes
  labels: {env: test, team: core}
  commands:
    - name: arch
      command: [uname, -m]
      period: 1m
`,
  );
  // No listen address: the node opens no port, it dials the proxy.
  agent = await startAgent({ proxyAddr: d.proxyAddr, token, config });
  const arch = (await run("uname", ["-m"])).stdout.trim();
  await eventually(
    async () => {
      const ls = await alice.jsh(["ls", "--format=json"]);
      const nodes = JSON.parse(ls.stdout) as { hostname: string; labels: Record<string, string> }[];
      const n = nodes.find((x) => x.hostname === "tunnel-node");
      return n?.labels.env === "test" && n.labels.team === "core" && n.labels.arch === arch;
    },
    15_000,
    "the agent in jsh ls with its labels",
  );
  const text = await alice.jsh(["ls", "env=test"]);
  assert.match(text.stdout, /tunnel-node\s+⟵ Tunnel\s+arch=\S+,env=test,team=core/);
  const none = await alice.jsh(["ls", "env=prod", "--format=json"]);
  assert.deepEqual(JSON.parse(none.stdout), []);
  const r = await alice.jsh(["ssh", "root@tunnel-node", "echo via-tunnel"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "via-tunnel");
  // A used token is not needed again: the agent keeps its identity in its data dir.
  const joins = await run("jctl", ["--data-dir", d.dataDir, "audit", "events", "--type=join", "--format=json"]);
  assert.ok((JSON.parse(joins.stdout) as { success: boolean; node_name: string }[]).some((e) => e.success && e.node_name === "tunnel-node"));
});

test("after the proxy restarts, the agent reconnects by itself within 10 s", async () => {
  const port = Number(d.proxyAddr.split(":")[1]);
  const authPort = Number(d.authAddr.split(":")[1]);
  const connects = () => (agent?.stderr().match(/reverse tunnel: connected/g) ?? []).length;
  const before = connects();
  await d.stop();
  d = await startDaemon({ dataDir: d.dataDir, proxyPort: port, authPort, extraArgs: ["--roles", "auth,proxy"] });
  // The clock starts when the proxy is back; the agent's backoff must bring the tunnel up within 10 s.
  await eventually(async () => connects() > before, 10_000, "the agent's tunnel to come back");
  const back = await alice.jsh(["ssh", "root@tunnel-node", "echo back"]);
  assert.equal(back.stdout.trim(), "back", back.stderr);
  const ls = await alice.jsh(["ls"]);
  assert.match(ls.stdout, /tunnel-node/);
});
