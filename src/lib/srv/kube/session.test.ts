import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as wsModule from "ws";
import type { SessionRecorder } from "../../events/index.ts";
import { parseKubeRequestUrl } from "./request.ts";
import { ExecTap, execTarget, parseHead, type UpgradeAnswer } from "./session.ts";
import { KubeUpstream } from "./upstream.ts";

const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};
const frame = (data: Buffer, mask = false, opcode = 2) => Buffer.concat(Sender.frame(data, { fin: true, opcode, mask, readOnly: true, rsv1: false }));
const ch = (n: number, s: string) => Buffer.concat([Buffer.from([n]), Buffer.from(s)]);

class FakeRecorder implements SessionRecorder {
  out = "";
  sizes: Array<[number, number]> = [];
  output(d: Buffer): void {
    this.out += d.toString();
  }
  resize(cols: number, rows: number): void {
    this.sizes.push([cols, rows]);
  }
  async close(): Promise<void> {}
}

const HEAD =
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";

function tapWith(): { tap: ExecTap; rec: FakeRecorder; answers: UpgradeAnswer[]; broken: string[] } {
  const rec = new FakeRecorder();
  const answers: UpgradeAnswer[] = [];
  const broken: string[] = [];
  const tap: ExecTap = new ExecTap({
    answered: (a) => {
      answers.push(a);
      tap.record(rec);
    },
    broken: (e) => broken.push(e.message),
  });
  return { tap, rec, answers, broken };
}

describe("execTarget", () => {
  const T = (url: string) => execTarget(parseKubeRequestUrl("GET", url), new URLSearchParams(url.split("?")[1] ?? ""));
  test("exec and attach name the pod, container, command and tty", () => {
    assert.deepEqual(T("/api/v1/namespaces/dev/pods/web/exec?command=ls&command=-l&container=app&tty=true&stdin=true"), {
      kind: "exec",
      namespace: "dev",
      pod: "web",
      container: "app",
      command: ["ls", "-l"],
      tty: true,
    });
    assert.deepEqual(T("/api/v1/namespaces/dev/pods/web/attach?stdin=true"), {
      kind: "attach",
      namespace: "dev",
      pod: "web",
      container: "",
      command: [],
      tty: false,
    });
    assert.equal(T("/api/v1/namespaces/dev/pods/web/portforward?ports=80"), undefined);
    assert.equal(T("/api/v1/namespaces/dev/pods/web/log"), undefined);
    assert.equal(T("/apis/x.io/v1/namespaces/dev/pods/web/exec"), undefined);
  });
});

describe("ExecTap", () => {
  test("reads the 101 head and the channel frames in any chunking; records stdout and stderr, resizes, the exit code", () => {
    const server = Buffer.concat([
      Buffer.from(HEAD),
      frame(ch(1, "$ ")),
      frame(ch(3, '{"metadata":{},"status":"Success"}')),
      frame(ch(2, "err\n")),
      frame(Buffer.from("ping"), false, 9),
      frame(ch(1, "bye\n")),
    ]);
    const client = Buffer.concat([frame(ch(4, '{"Width":132,"Height":43}'), true), frame(ch(0, "secret typed input\n"), true)]);
    for (const piece of [1, 2, 3, 7, 1000]) {
      const { tap, rec, answers, broken } = tapWith();
      for (let i = 0; i < server.length; i += piece) tap.fromServer(server.subarray(i, i + piece));
      for (let j = 0; j < client.length; j += piece) tap.fromClient(client.subarray(j, j + piece));
      assert.deepEqual(answers, [{ status: 101, upgrade: "websocket", subprotocol: "v5.channel.k8s.io" }], `piece ${piece}`);
      assert.equal(rec.out, "$ err\nbye\n", `piece ${piece}`);
      assert.deepEqual(rec.sizes, [[132, 43]], `piece ${piece}`);
      assert.equal(tap.exitCode, 0);
      assert.deepEqual(broken, []);
    }
  });

  test("a refused upgrade is not a session; a non-channel 101 is passed through unread", () => {
    const a = tapWith();
    a.tap.fromServer(Buffer.from('HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\r\n{"kind":"Status"}'));
    assert.deepEqual(a.answers, [{ status: 403, upgrade: "", subprotocol: "" }]);
    assert.equal(a.rec.out, "");
    const b = tapWith();
    b.tap.fromServer(Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n\r\n\x80\x03\x00\x01garbage"));
    assert.equal(b.answers[0]?.upgrade, "SPDY/3.1");
    assert.deepEqual(b.broken, []);
    assert.equal(b.rec.out, "");
  });

  test("frames the protocol forbids from the API server break the session (its output could not be recorded)", () => {
    const { tap, broken, rec } = tapWith();
    tap.fromServer(Buffer.concat([Buffer.from(HEAD), frame(ch(1, "ok")), Buffer.from([0xc2, 0x01, 0x41])]));
    assert.equal(rec.out, "ok");
    assert.equal(broken.length, 1);
    assert.match(broken[0] ?? "", /reserved bits set/);
    assert.match(tap.failure ?? "", /reserved bits set/);
    // Nothing more is read (or thrown).
    tap.fromServer(frame(ch(1, "more")));
    assert.equal(rec.out, "ok");
  });

  test("bad client frames stop the client side only", () => {
    const { tap, rec, broken } = tapWith();
    tap.fromServer(Buffer.from(HEAD));
    tap.fromClient(frame(ch(4, '{"Width":1,"Height":1}'), false));
    tap.fromServer(frame(ch(1, "still recorded")));
    assert.equal(rec.out, "still recorded");
    assert.deepEqual(rec.sizes, []);
    assert.deepEqual(broken, []);
  });

  test("fuzz: whatever the API server or the client sends, the tap never throws", () => {
    for (let i = 0; i < 2000; i++) {
      const { tap } = tapWith();
      const junk = Buffer.from(Array.from({ length: Math.floor(Math.random() * 64) }, () => Math.floor(Math.random() * 256)));
      const server = i % 3 === 0 ? junk : Buffer.concat([Buffer.from(HEAD), frame(ch(1, "x")), junk]);
      assert.doesNotThrow(() => {
        for (let k = 0; k < server.length; k += 5) tap.fromServer(server.subarray(k, k + 5));
        tap.fromClient(junk);
      });
    }
  });

  test("parseHead", () => {
    assert.deepEqual(parseHead("HTTP/1.1 101 Switching Protocols\r\nupgrade:  websocket \r\nSEC-WEBSOCKET-PROTOCOL: v4.channel.k8s.io"), {
      status: 101,
      upgrade: "websocket",
      subprotocol: "v4.channel.k8s.io",
    });
    assert.deepEqual(parseHead("garbage"), { status: 0, upgrade: "", subprotocol: "" });
  });
});

describe("KubeUpstream.bearerToken", () => {
  const base = { name: "dev", server: "https://127.0.0.1:6443", insecureSkipTlsVerify: false } as const;
  test("a token file is read again after the refresh period; a missing file keeps the last token", () => {
    let content: string | undefined = "one\n";
    const u = new KubeUpstream(
      { ...base, credentials: { kind: "token-file", path: "/t" } },
      {
        tokenRefreshMs: 0,
        readFile: () => {
          if (content === undefined) throw new Error("ENOENT");
          return content;
        },
      },
    );
    assert.equal(u.bearerToken(), "one");
    content = "two";
    assert.equal(u.bearerToken(), "two");
    content = undefined;
    assert.equal(u.bearerToken(), "two");
    u.close();
  });
  test("a static token, or none with a client certificate", () => {
    const t = new KubeUpstream({ ...base, credentials: { kind: "token", token: "abc" } });
    assert.equal(t.bearerToken(), "abc");
    t.close();
    const c = new KubeUpstream({ ...base, credentials: { kind: "client-cert", cert: "", key: "" } });
    assert.equal(c.bearerToken(), undefined);
    c.close();
  });
});
