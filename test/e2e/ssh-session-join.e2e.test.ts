import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pty from "node-pty";
import { BIN_PATH, cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let owner: LoggedIn;
let watcher: LoggedIn;
let stranger: LoggedIn;
let node = "";
const work = tempDir("join");

const ROLES = `kind: role
version: v7
metadata: {name: session-watcher}
spec:
  allow:
    join_sessions:
      - {name: watch access sessions, roles: [access], kinds: [ssh], modes: [observer]}
`;

before(async () => {
  d = await startDaemon();
  writeFileSync(join(work, "roles.yaml"), ROLES);
  const c = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "roles.yaml")]);
  assert.equal(c.code, 0, c.stderr);
  [owner, watcher, stranger] = await Promise.all([
    userLoggedIn(d, "owner", "access", "root"),
    userLoggedIn(d, "watcher", "access,session-watcher", "root"),
    userLoggedIn(d, "stranger", "access", "root"),
  ]);
  const ls = JSON.parse((await owner.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[];
  node = ls[0]?.hostname ?? "";
  assert.ok(node, "the demo process runs a node");
});
after(async () => {
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, owner?.home ?? "", watcher?.home ?? "", stranger?.home ?? "");
});

interface Term {
  t: pty.IPty;
  screen(): string;
  waitFor(re: RegExp): Promise<void>;
  exited: Promise<number>;
}

function jshTerm(u: LoggedIn, args: string[]): Term {
  const t = pty.spawn(process.execPath, [BIN_PATH("jsh"), ...args], { cols: 100, rows: 30, env: { ...process.env, ...u.env, TERM: "xterm" } });
  let screen = "";
  t.onData((s) => {
    screen += s;
  });
  const exited = new Promise<number>((r) => t.onExit(({ exitCode }) => r(exitCode)));
  return {
    t,
    screen: () => screen,
    exited,
    waitFor: async (re) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(screen)) {
        assert.ok(Date.now() < deadline, `${u.name}'s terminal never showed ${re}:\n${screen}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

interface Row {
  session_id: string;
  user: string;
  login: string;
  node: string;
  participants: { user: string; mode: string }[];
}

const sessionsOf = async (u: LoggedIn): Promise<Row[]> => JSON.parse((await u.jsh(["sessions", "ls", "--format=json"])).stdout) as Row[];

test("an observer lists and joins a session, sees it, cannot type into it; others are refused", async () => {
  const o = jshTerm(owner, ["ssh", `root@${node}`]);
  let obs: Term | undefined;
  try {
    await o.waitFor(/[#$] $/m);

    // The watcher's roles allow observing sessions of `access` users: the session is listed.
    let row: Row | undefined;
    await eventually(
      async () => {
        row = (await sessionsOf(watcher)).find((s) => s.user === "owner");
        return row !== undefined;
      },
      10_000,
      "the session in the watcher's jsh sessions ls",
    );
    const sid = row?.session_id ?? "";
    assert.equal(row?.login, "root");
    assert.equal(row?.node, node);
    // (CLI runs that do not depend on each other run side by side: each costs a process start.)
    const [table, strangerList, no] = await Promise.all([watcher.jsh(["sessions", "ls"]), sessionsOf(stranger), stranger.jsh(["join", sid])]);
    assert.match(table.stdout, /Session ID +User +Login +Node +Participants +Started/);
    assert.match(table.stdout, new RegExp(`${sid} +owner +root +${node} +owner `));
    assert.deepEqual(strangerList, [], "sessions one may not join are not listed");
    // No join_sessions policy: refused by Auth when resolving the session, one line.
    assert.equal(no.code, 1);
    assert.equal(no.stderr.trim(), `ERROR: access denied: you may not join session ${sid} (no join_sessions policy allows joining ssh sessions as observer)`);

    obs = jshTerm(watcher, ["join", sid]);
    await o.waitFor(/jumpgate: watcher joined the session as observer/);
    await obs.waitFor(/Joining owner's session on .* as observer/);

    o.t.write("echo joined-$((40+2))-visible\r");
    await obs.waitFor(/joined-42-visible/);

    obs.t.write("echo observer-$((6*7))-typed\r");
    await new Promise((r) => setTimeout(r, 500));
    o.t.write("echo probe-$((1+1))-done\r");
    await o.waitFor(/probe-2-done/);
    await obs.waitFor(/probe-2-done/);
    assert.doesNotMatch(o.screen(), /observer-/, "the observer's keys reached the shell");

    const [listed, peer] = await Promise.all([sessionsOf(watcher), watcher.jsh(["join", "--mode=peer", sid])]);
    assert.deepEqual(
      listed.find((s) => s.session_id === sid)?.participants.map((p) => `${p.user}:${p.mode}`),
      ["owner:peer", "watcher:observer"],
    );
    // A mode the roles do not allow: refused by the node, one line.
    assert.equal(peer.code, 1);
    assert.match(
      peer.stderr,
      new RegExp(
        `^jumpgate: access denied: you may not join session ${sid} as peer \\(no join_sessions policy allows joining ssh sessions as peer\\)\\r?$`,
        "m",
      ),
    );
    assert.doesNotMatch(o.screen(), /joined the session as peer/);

    // The session ends for everyone when the owner's shell exits.
    o.t.write("exit\r");
    assert.equal(await obs.exited, 0);
    assert.match(obs.screen(), /owner's session has ended/);

    type Ev = { event: string; user: string; sid?: string; mode?: string; success?: boolean; error?: string; participants?: string[] };
    let events: Ev[] = [];
    await eventually(
      async () => {
        const r = await run("jctl", ["--data-dir", d.dataDir, "audit", "events", "--type=session.end,session.join,auth", "--format=json"]);
        events = JSON.parse(r.stdout) as Ev[];
        return events.some((e) => e.event === "session.end" && e.sid === sid);
      },
      10_000,
      "session.end",
    );
    assert.deepEqual(events.find((e) => e.event === "session.end" && e.sid === sid)?.participants, ["owner", "watcher"]);
    const joins = events.filter((e) => e.event === "session.join" && e.user === "watcher" && e.sid === sid);
    assert.ok(
      joins.some((e) => e.mode === "observer" && e.success === true),
      JSON.stringify(joins),
    );
    assert.ok(
      joins.some((e) => e.mode === "peer" && e.success === false),
      JSON.stringify(joins),
    );
    assert.ok(events.some((e) => e.event === "auth" && e.user === "stranger" && /may not join session/.test(e.error ?? "")));
  } finally {
    obs?.t.kill();
    o.t.kill();
  }
});
