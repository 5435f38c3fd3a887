import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import * as nodePty from "node-pty";
import type { SessionTrackerSpec } from "../../../api/resources/index.ts";
import { joinMode, takeJoinEnv } from "./join.ts";
import { type Kit, run, startKit, waitFor } from "./ssh.test-helpers.ts";

let kit: Kit;
let alice: string[];
let bob: string[];
let carol: string[];
let eve: string[];
const ssh = (id: string[], ...rest: string[]) => [...kit.sshOpts(), ...id, "-p", String(kit.port), ...rest, "root@127.0.0.1"];
const joinOpts = (sid: string, mode: string) => ["-o", `SetEnv=JUMPGATE_SESSION_JOIN=${sid} JUMPGATE_SESSION_MODE=${mode}`];

interface Term {
  p: nodePty.IPty;
  screen(): string;
  waitFor(re: RegExp, what?: string): Promise<RegExpExecArray>;
  exited: Promise<number>;
}

function term(args: string[]): Term {
  const p = nodePty.spawn("ssh", args, { cols: 100, rows: 30, env: { ...process.env, TERM: "xterm" } });
  let out = "";
  p.onData((d) => {
    out += d;
  });
  const exited = new Promise<number>((resolve) => p.onExit(({ exitCode }) => resolve(exitCode)));
  return {
    p,
    screen: () => out,
    waitFor: (re, what) => waitFor(() => re.exec(out) ?? undefined, 10_000, `${what ?? re} in ${JSON.stringify(out.slice(-500))}`),
    exited,
  };
}

/** An owner's interactive session and its ID (from the session's own environment). */
async function ownerSession(): Promise<{ t: Term; sid: string }> {
  const t = term(ssh(alice, "-tt"));
  t.p.write("echo sid=$JUMPGATE_SESSION_ID\r");
  const m = await t.waitFor(/sid=([0-9a-f-]{36})/, "the session id");
  return { t, sid: m[1] ?? "" };
}

const trackersOf = (sid: string) => kit.trackers.filter((t) => t.metadata.name === sid).map((t) => t.spec as SessionTrackerSpec);

before(async () => {
  kit = await startKit();
  alice = kit.identity("alice", ["root"]);
  bob = kit.identity("bob", ["root"]);
  carol = kit.identity("carol", ["root"]);
  eve = kit.identity("eve", ["root"]);
  kit.authorizer.joiners.add("bob:observer");
  kit.authorizer.joiners.add("carol:peer");
});
after(() => kit.close());

test("join variables: taken from env requests, observer by default, moderator refused", () => {
  const req = {};
  assert.equal(takeJoinEnv(req, "LANG", "C"), false);
  assert.equal(takeJoinEnv(req, "JUMPGATE_SESSION_JOIN", " abc "), true);
  assert.equal(takeJoinEnv(req, "JUMPGATE_SESSION_MODE", "PEER"), true);
  assert.deepEqual(req, { sessionId: "abc", mode: "peer" });
  assert.deepEqual(joinMode({}), { mode: "observer" });
  assert.match(JSON.stringify(joinMode({ mode: "moderator" })), /not supported/);
  assert.deepEqual(joinMode({ mode: "boss" }), { problem: 'unknown join mode "boss"; use observer or peer' });
});

test("an observer sees the session from then on, his keys go nowhere, and the owner sees him come and go", async () => {
  const { t: owner, sid } = await ownerSession();
  try {
    await waitFor(() => trackersOf(sid)[0], 5000, "the tracker");
    const first = trackersOf(sid)[0];
    assert.equal(first?.state, "active");
    assert.equal(first?.owner, "alice");
    assert.equal(first?.login, "root");
    assert.equal(first?.hostname, "web-1");
    assert.deepEqual(
      first?.participants.map((p) => [p.user, p.mode]),
      [["alice", "peer"]],
    );

    const obs = term(ssh(bob, "-tt", ...joinOpts(sid, "observer")));
    await owner.waitFor(/jumpgate: bob joined the session as observer/);
    // The replay shows the observer where the session stands.
    await obs.waitFor(/sid=/, "the replay");
    await waitFor(() => trackersOf(sid).find((t) => t.participants.length === 2), 5000, "the tracker with bob");
    assert.deepEqual(
      trackersOf(sid)
        .at(-1)
        ?.participants.map((p) => [p.user, p.mode]),
      [
        ["alice", "peer"],
        ["bob", "observer"],
      ],
    );

    owner.p.write("echo owner-$((40+2))-out\r");
    await obs.waitFor(/owner-42-out/);

    const marker = `/tmp/jg-observer-${process.pid}-${Date.now()}`;
    obs.p.write(`touch ${marker}\r`);
    await new Promise((r) => setTimeout(r, 300));
    owner.p.write("echo check-$((1+1))\r");
    await owner.waitFor(/check-2/);
    assert.ok(!existsSync(marker), "the observer's keys reached the shell");
    assert.doesNotMatch(owner.screen(), /jg-observer/);

    obs.p.kill();
    await owner.waitFor(/jumpgate: bob left the session/);
    owner.p.write("echo still-$((2+3))\r");
    await owner.waitFor(/still-5/);
    await waitFor(() => (trackersOf(sid).at(-1)?.participants.length === 1 ? true : undefined), 5000, "bob gone from the tracker");

    owner.p.write("exit\r");
    assert.equal(await owner.exited, 0);
    const end = await waitFor(() => kit.events.find((e) => e.event === "session.end" && e.sid === sid), 5000, "session.end");
    assert.deepEqual(end.participants, ["alice", "bob"]);
    const join = kit.events.find((e) => e.event === "session.join" && e.sid === sid);
    assert.equal(join?.user, "bob");
    assert.equal(join?.mode, "observer");
    assert.equal(join?.success, true);
    assert.ok(kit.events.some((e) => e.event === "session.leave" && e.sid === sid && e.user === "bob"));
    await waitFor(() => (trackersOf(sid).at(-1)?.state === "terminated" ? true : undefined), 5000, "the tracker terminated");
  } finally {
    owner.p.kill();
  }
});

test("a peer types into the session; when the owner's shell exits the session ends for the peer too", async () => {
  const { t: owner, sid } = await ownerSession();
  try {
    const peer = term(ssh(carol, "-tt", ...joinOpts(sid, "peer")));
    await owner.waitFor(/jumpgate: carol joined the session as peer/);
    peer.p.write("echo peer-$((3*3))-typed\r");
    await owner.waitFor(/peer-9-typed/);
    owner.p.write("exit\r");
    assert.equal(await peer.exited, 0);
    assert.match(peer.screen(), /alice's session has ended/);
    assert.equal(await owner.exited, 0);
  } finally {
    owner.p.kill();
  }
});

test("refusals are one line on stderr, exit status 1 and a session.join event", async () => {
  const { t: owner, sid } = await ownerSession();
  try {
    const noPolicy = await run("ssh", ssh(eve, "-T", ...joinOpts(sid, "observer")));
    assert.equal(noPolicy.status, 1);
    assert.match(
      noPolicy.stderr,
      new RegExp(`jumpgate: access denied: you may not join session ${sid} as observer \\(no join_sessions policy allows joining ssh sessions as observer\\)`),
    );
    const refusal = kit.events.find((e) => e.event === "session.join" && e.user === "eve");
    assert.equal(refusal?.success, false);
    assert.equal(refusal?.sid, sid);

    const wrongMode = await run("ssh", ssh(bob, "-T", ...joinOpts(sid, "peer")));
    assert.equal(wrongMode.status, 1);
    assert.match(wrongMode.stderr, /may not join session .* as peer/);

    const unknown = await run("ssh", ssh(bob, "-T", ...joinOpts("0b5c3f0e-0000-4000-8000-000000000000", "observer")));
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /jumpgate: session 0b5c3f0e-0000-4000-8000-000000000000 is not running on web-1/);

    const exec = await run("ssh", [...ssh(bob, "-T", ...joinOpts(sid, "observer")), "id"]);
    assert.notEqual(exec.status, 0, "a command with the join variables must not run");
    assert.doesNotMatch(exec.stdout, /uid=/);
    assert.doesNotMatch(owner.screen(), /joined the session/);
  } finally {
    owner.p.write("exit\r");
    await owner.exited;
  }
});
