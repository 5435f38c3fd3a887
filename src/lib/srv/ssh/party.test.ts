import assert from "node:assert/strict";
import { Duplex, Writable } from "node:stream";
import { describe, it } from "node:test";
import pino from "pino";
import type { ServerChannel } from "ssh2";
import { FakeClock } from "../../../api/clock.ts";
import { SessionParty } from "./party.ts";

/** Enough of an ssh2 server channel: what is written to it, and keys "typed" into it. */
class FakeChannel extends Duplex {
  readonly out: Buffer[] = [];
  readonly err: string[] = [];
  exitCode: number | undefined;
  wasClosed = false;
  readonly stderr = new Writable({
    write: (c: Buffer, _e, cb) => {
      this.err.push(c.toString());
      cb();
    },
  });
  constructor(private readonly stuck = false) {
    super();
  }
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.out.push(c);
    if (!this.stuck) cb();
  }
  override _read(): void {}
  type(s: string): void {
    this.push(Buffer.from(s));
  }
  exit(code: number): void {
    this.exitCode = code;
  }
  close(): void {
    if (this.wasClosed) return;
    this.wasClosed = true;
    this.emit("close");
  }
  text(): string {
    return Buffer.concat(this.out).toString();
  }
}

const ch = (c: FakeChannel) => c as unknown as ServerChannel;
const tick = () => new Promise((r) => setImmediate(r));

function party() {
  const notices: string[] = [];
  const input: string[] = [];
  const p = new SessionParty({
    sessionId: "sid-1",
    owner: "alice",
    login: "root",
    started: new Date("2026-03-01T10:00:00Z"),
    hostId: "host-1",
    hostname: "web-1",
    notifyOwner: (t) => notices.push(t),
    input: (d) => input.push(d.toString()),
    clock: new FakeClock(new Date("2026-03-01T10:05:00Z")),
    log: pino({ level: "silent" }),
  });
  return { p, notices, input };
}

describe("SessionParty", () => {
  it("replays recent output from a line start, then streams; observers' keys are dropped, peers' reach the PTY", async () => {
    const { p, notices, input } = party();
    for (let i = 0; i < 200; i++) p.output(Buffer.from(`line ${i} ${"x".repeat(20)}\r\n`));
    const obs = new FakeChannel();
    const peer = new FakeChannel();
    void p.join({ user: "bob", mode: "observer", channel: ch(obs), touch: () => undefined });
    const replay = obs.text();
    assert.ok(replay.length <= 4096 && replay.length > 3000, `replay of ${replay.length} bytes`);
    assert.match(replay, /^line \d+ x+\r\n/);
    assert.match(replay, /line 199 x+\r\n$/);
    void p.join({ user: "carol", mode: "peer", channel: ch(peer), touch: () => undefined });
    assert.deepEqual(notices, ["jumpgate: bob joined the session as observer", "jumpgate: carol joined the session as peer"]);
    assert.match(obs.err.join(""), /carol joined the session as peer/);
    assert.doesNotMatch(peer.err.join(""), /carol joined/);
    p.output(Buffer.from("fresh\r\n"));
    assert.match(obs.text(), /fresh\r\n$/);
    assert.match(peer.text(), /fresh\r\n$/);
    obs.type("rm -rf /\r");
    peer.type("ls\r");
    await tick();
    assert.deepEqual(input, ["ls\r"]);
    assert.deepEqual(
      p.members().map((m) => [m.user, m.mode]),
      [
        ["alice", "peer"],
        ["bob", "observer"],
        ["carol", "peer"],
      ],
    );
  });

  it("a joiner leaving ends only his part; the owner's exit ends everyone's", async () => {
    const { p, notices } = party();
    const obs = new FakeChannel();
    const peer = new FakeChannel();
    const left = p.join({ user: "bob", mode: "observer", channel: ch(obs), touch: () => undefined });
    const ended = p.join({ user: "carol", mode: "peer", channel: ch(peer), touch: () => undefined });
    obs.close();
    await left;
    assert.equal(notices.at(-1), "jumpgate: bob left the session");
    assert.match(peer.err.join(""), /bob left the session/);
    assert.ok(p.isOpen);
    assert.deepEqual(
      p.members().map((m) => m.user),
      ["alice", "carol"],
    );
    await p.end();
    await ended;
    assert.equal(peer.exitCode, 0);
    assert.match(peer.err.join(""), /alice's session has ended/);
    assert.equal(p.isOpen, false);
    assert.equal(p.join({ user: "dave", mode: "observer", channel: ch(new FakeChannel()), touch: () => undefined }), undefined);
    assert.deepEqual(p.participants(), ["alice", "bob", "carol"]);
  });

  it("drops a joiner who cannot keep up instead of holding up the session", async () => {
    const { p, notices } = party();
    const slow = new FakeChannel(true);
    const gone = p.join({ user: "bob", mode: "observer", channel: ch(slow), touch: () => undefined });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 80; i++) p.output(chunk);
    await gone;
    assert.ok(slow.wasClosed);
    assert.match(slow.err.join(""), /could not keep up/);
    assert.equal(notices.at(-1), "jumpgate: bob left the session");
  });
});
