import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { hostOfAddr } from "./errors.ts";
import { asUser, baseEnv, lookupLogin, parsePasswdLine } from "./oslogin.ts";

test("parsePasswdLine reads getent's fields and rejects malformed lines", () => {
  assert.deepEqual(parsePasswdLine("alice:x:1001:1002:Alice,,,:/home/alice:/bin/zsh\n"), {
    name: "alice",
    uid: 1001,
    gid: 1002,
    home: "/home/alice",
    shell: "/bin/zsh",
  });
  assert.deepEqual(parsePasswdLine("svc:x:5:5::/:"), { name: "svc", uid: 5, gid: 5, home: "/", shell: "/bin/sh" });
  assert.equal(parsePasswdLine("broken:x:abc:1::/:/bin/sh"), undefined);
  assert.equal(parsePasswdLine("short:x:1"), undefined);
});

test("lookupLogin resolves root and refuses unknown or malformed logins with a clear reason", async () => {
  const root = await lookupLogin("root", "web-1");
  assert.equal(root.uid, 0);
  assert.equal(root.home, "/root");
  await assert.rejects(lookupLogin("no-such-user-jg", "web-1"), (e) => {
    assert.ok(isJumpgateError(e, "access-denied"));
    assert.equal(e.message, 'login "no-such-user-jg" does not exist on web-1');
    return true;
  });
  await assert.rejects(lookupLogin("-s", "web-1"), /is not a valid user name/);
  await assert.rejects(lookupLogin("a b", "web-1"), /is not a valid user name/);
});

test("asUser wraps in setpriv for non-root logins when running as root", () => {
  const user = { name: "bob", uid: 1500, gid: 1600, home: "/home/bob", shell: "/bin/sh" };
  const r = asUser(user, ["/bin/sh", "-c", "id"]);
  if (process.getuid?.() === 0) {
    assert.match(r.file, /setpriv$/);
    assert.deepEqual(r.args, ["--reuid=1500", "--regid=1600", "--init-groups", "--", "/bin/sh", "-c", "id"]);
  } else {
    assert.deepEqual(r, { file: "/bin/sh", args: ["-c", "id"] });
  }
  assert.deepEqual(asUser({ ...user, uid: 0, gid: 0 }, ["/bin/sh"]), { file: "/bin/sh", args: [] });
  assert.equal(baseEnv(user).PATH, "/usr/local/bin:/usr/bin:/bin:/usr/games");
  assert.equal(baseEnv({ ...user, uid: 0 }).PATH, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
});

test("hostOfAddr strips ports", () => {
  assert.equal(hostOfAddr("10.0.0.1:22"), "10.0.0.1");
  assert.equal(hostOfAddr("10.0.0.1"), "10.0.0.1");
  assert.equal(hostOfAddr("[::1]:22"), "::1");
  assert.equal(hostOfAddr("::1"), "::1");
});
