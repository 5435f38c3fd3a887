import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createAuthClient } from "../../src/api/authclient.ts";
import { toProto } from "../../src/api/convert.ts";
import { parseIdentityFile } from "../../src/lib/client/identityfile.ts";
import { cleanup, run, startDaemon } from "../harness/cluster.ts";

function adminClient(dataDir: string, addr: string) {
  const id = parseIdentityFile(readFileSync(join(dataDir, "admin", "identity"), "utf8"));
  return createAuthClient({
    addr,
    identity: { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas },
  });
}

test("kill -9 during 1 000 concurrent writes: the store stays readable and every acknowledged write is there", async () => {
  const d = await startDaemon();
  const client = adminClient(d.dataDir, d.authAddr);
  const acked = new Set<string>();
  let killed = false;
  const killedAt = new Promise<void>((resolve) => {
    const writes = Array.from({ length: 1000 }, (_, i) => {
      const name = `crash-${i}`;
      const role = toProto({
        kind: "role",
        version: "v7",
        metadata: { name },
        spec: { allow: { logins: [`l${i}`] }, deny: {} },
      });
      return client
        .upsertResource({ resource: role })
        .then(() => {
          if (killed) return;
          acked.add(name);
          if (acked.size === 300) {
            killed = true;
            d.child.kill("SIGKILL");
            resolve();
          }
        })
        .catch(() => undefined);
    });
    void Promise.all(writes).then(() => resolve());
  });
  await killedAt;
  await d.kill9();
  client.close();
  assert.ok(acked.size >= 300, `only ${acked.size} writes acknowledged`);

  const again = await startDaemon({ dataDir: d.dataDir });
  try {
    const r = await run("jctl", ["--data-dir", d.dataDir, "get", "roles", "--format=json"]);
    assert.equal(r.code, 0, r.stderr);
    const names = new Set((JSON.parse(r.stdout) as { metadata: { name: string } }[]).map((x) => x.metadata.name));
    const missing = [...acked].filter((n) => !names.has(n));
    assert.deepEqual(missing, [], `${missing.length} acknowledged writes lost`);
    for (const preset of ["access", "editor", "auditor"]) assert.ok(names.has(preset));
    // And the store still takes writes.
    const w = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--format=json"]);
    assert.equal(w.code, 0, w.stderr);
  } finally {
    await again.stop();
    cleanup(d.dataDir);
  }
});
