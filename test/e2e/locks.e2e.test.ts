import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, type Daemon, run, startDaemon } from "../harness/cluster.ts";
import { type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let u: LoggedIn;
let node = "";
const jctl = (...a: string[]) => run("jctl", ["--data-dir", d.dataDir, ...a]);

before(async () => {
  d = await startDaemon();
  u = await userLoggedIn(d, "lockme", "access", "root");
  node = (JSON.parse((await u.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[])[0]?.hostname ?? "";
});
after(async () => {
  await d?.stop();
  cleanup(d?.dataDir ?? "", u?.home ?? "");
});

test("a lock stops a user at once, with its message, and lifting it restores access", async () => {
  assert.equal((await u.jsh(["ssh", `root@${node}`, "echo before"])).stdout.trim(), "before");
  const lock = await jctl("lock", "--user=lockme", "--message=under investigation", "--ttl=1h");
  assert.equal(lock.code, 0, lock.stderr);
  const id = /lock\/([0-9a-f-]{36})/.exec(lock.stdout)?.[1] ?? "";
  assert.ok(id, lock.stdout);

  const ssh = await u.jsh(["ssh", `root@${node}`, "true"]);
  assert.notEqual(ssh.code, 0);
  assert.match(ssh.stderr, /user lockme is locked: under investigation/);
  const ls = await u.jsh(["ls"]);
  assert.equal(ls.code, 1);
  assert.match(ls.stderr, /^ERROR: user lockme is locked: under investigation/);

  const created = await jctl("audit", "events", "--type=lock.created", "--format=json");
  assert.equal((JSON.parse(created.stdout) as unknown[]).length, 1);
  const refusals = await jctl("audit", "events", "--type=auth", "--format=json");
  assert.ok((JSON.parse(refusals.stdout) as { error?: string }[]).some((e) => /locked/.test(e.error ?? "")));

  assert.equal((await jctl("rm", `lock/${id}`)).code, 0);
  assert.equal((await u.jsh(["ssh", `root@${node}`, "echo after"])).stdout.trim(), "after");
});
