import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEd25519, parseCertificate, sshPublicKeyLine } from "../../crypto/index.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { validateResource } from "../validate.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const refused = async (p: Promise<unknown>, kind: string, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
};

describe("forwarding certificates (recording at the proxy)", () => {
  let f: Fixture;
  let api: Api;
  const key = sshPublicKeyLine(generateEd25519().publicKey);
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.ctx.stores.nodes.create(
      validateResource({
        kind: "node",
        version: "v2",
        sub_kind: "openssh",
        metadata: { name: "legacy", labels: { env: "legacy" } },
        spec: { addr: "127.0.0.1:22", hostname: "legacy-db" },
      }),
    );
    await f.addUser("ann", ["access"], { logins: ["ann", "root"] });
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("the proxy gets a short certificate for exactly the login asked for", async () => {
    const proxy = await api.asHost("proxy");
    const r = await proxy.generateForwardingUserCert({ user: "ann", login: "root", hostId: "legacy", sshPublicKey: key });
    const cert = parseCertificate(r.sshCert);
    assert.equal(cert.type, "user");
    assert.equal(cert.keyId, "ann");
    assert.deepEqual(cert.principals, ["root"]);
    assert.ok(cert.validBefore.getTime() - Date.now() <= 5 * 60_000 + 1000, "five minutes by default");
    const ev = await f.auditEvents("cert.create");
    assert.ok(ev.some((e) => e.user === "ann" && e.forwarding === true && e.login === "root"));
  });

  test("it never outlives the user's own certificate, and needs a login his roles allow on that node", async () => {
    const proxy = await api.asHost("proxy");
    const soon = new Date(Date.now() + 90_000);
    const r = await proxy.generateForwardingUserCert({ user: "ann", login: "ann", hostId: "legacy", sshPublicKey: key, notAfter: soon.toISOString() });
    assert.ok(parseCertificate(r.sshCert).validBefore.getTime() <= soon.getTime() + 1000);
    await refused(
      proxy.generateForwardingUserCert({ user: "ann", login: "admin", hostId: "legacy", sshPublicKey: key }),
      "access-denied",
      /login "admin" is not allowed on legacy-db/,
    );
    await refused(proxy.generateForwardingUserCert({ user: "ann", login: "root", hostId: "nowhere", sshPublicKey: key }), "bad-parameter", /not registered/);
    await refused(proxy.generateForwardingUserCert({ user: "ghost", login: "root", hostId: "legacy", sshPublicKey: key }), "access-denied", /no longer exists/);
  });

  test("the host certificate carries the node's names, not the proxy's", async () => {
    const proxy = await api.asHost("proxy");
    const r = await proxy.generateForwardingHostCert({ hostId: "legacy", sshPublicKey: key });
    const cert = parseCertificate(r.sshCert);
    assert.equal(cert.type, "host");
    assert.deepEqual(new Set(cert.principals), new Set(["legacy", "legacy.unit.test", "legacy-db", "legacy-db.unit.test"]));
  });

  test("only the proxy may ask", async () => {
    const node = await api.asHost("node", "legacy");
    const ann = await api.asUser("ann");
    for (const c of [node, ann]) {
      await refused(c.generateForwardingHostCert({ hostId: "legacy", sshPublicKey: key }), "access-denied", /only the proxy/);
      await refused(c.generateForwardingUserCert({ user: "ann", login: "root", hostId: "legacy", sshPublicKey: key }), "access-denied", /only the proxy/);
    }
  });
});
