import assert from "node:assert/strict";
import { test } from "node:test";
import { parseScpCommand, sftpServerPath } from "./subsystems.ts";

test("parseScpCommand recognises what scp clients send", () => {
  const rows: [string, ReturnType<typeof parseScpCommand>][] = [
    ["scp -t /tmp/x", { action: "upload", path: "/tmp/x", recursive: false }],
    ["scp -f /tmp/x", { action: "download", path: "/tmp/x", recursive: false }],
    ["scp -v -r -p -t -- '/tmp/dir with space'", { action: "upload", path: "/tmp/dir with space", recursive: true }],
    ["scp -rf dir", { action: "download", path: "dir", recursive: true }],
    ['/usr/bin/scp -t "a\\"b"', { action: "upload", path: 'a"b', recursive: false }],
    ["scp -d -t .", { action: "upload", path: ".", recursive: false }],
    ["scp /tmp/x", undefined],
    ["scp -t", undefined],
    ["echo scp -t x", undefined],
    ["scp -t x; rm -rf /", undefined],
    ["scp -t 'unterminated", undefined],
    ["", undefined],
  ];
  for (const [cmd, want] of rows) assert.deepEqual(parseScpCommand(cmd), want, cmd);
});

test("sftp-server is found on this host", () => {
  assert.equal(sftpServerPath(), "/usr/lib/openssh/sftp-server");
});
