import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AccessChecker } from "./checker.ts";
import { role } from "./testing.ts";

const dba = role("dba", { allow: { db_labels: { env: "dev" }, db_users: ["{{internal.db_users}}", "reader"], db_names: ["app", "test"] } });
const prodRo = role("prod-ro", { allow: { db_labels: { env: "prod" }, db_users: ["reader"], db_names: ["*"] } });
const noPostgres = role("no-postgres", { deny: { db_users: ["postgres"], db_names: ["billing"] } });
const noSecret = role("no-secret", { deny: { db_labels: { tier: "secret" } } });
const traits = { db_users: ["alice", "postgres"] };

describe("database summaries (jsh db ls, web resources)", () => {
  const c = new AccessChecker([dba, prodRo, noPostgres, noSecret], traits);

  it("lists the users and names of the roles whose db_labels match, minus denied ones", () => {
    assert.deepEqual(c.databaseAccessSummary({ labels: { env: "dev" } }), {
      users: { allowed: ["alice", "reader"], denied: ["postgres"] },
      names: { allowed: ["app", "test"], denied: ["billing"] },
    });
    assert.deepEqual(c.databaseAccessSummary({ labels: { env: "prod" } }).names.allowed, ["*"]);
  });

  it("gives nothing where no role matches or a deny label matches", () => {
    const none = { users: { allowed: [], denied: [] }, names: { allowed: [], denied: [] } };
    assert.deepEqual(c.databaseAccessSummary({ labels: { env: "qa" } }).users.allowed, []);
    assert.deepEqual(c.databaseAccessSummary({ labels: { env: "dev", tier: "secret" } }), none);
    assert.deepEqual(new AccessChecker([]).databaseAccessSummary({ labels: {} }), none);
    assert.deepEqual(new AccessChecker([dba, role("ro", { deny: { db_users: ["*"] } })]).databaseAccessSummary({ labels: { env: "dev" } }).users, {
      allowed: [],
      denied: ["*"],
    });
  });

  it("checkDatabaseLabels decides visibility by labels only, deny first", () => {
    assert.equal(c.checkDatabaseLabels({ labels: { env: "dev" } }).allowed, true);
    assert.deepEqual(c.checkDatabaseLabels({ labels: { env: "dev", tier: "secret" } }), {
      allowed: false,
      reason: 'denied by role "no-secret": its deny db_labels match this database',
    });
    assert.equal(c.checkDatabaseLabels({ labels: { env: "qa" } }).allowed, false);
  });

  it("agrees with checkDatabaseAccess for each user and name it lists", () => {
    const labels = { env: "dev" };
    const s = c.databaseAccessSummary({ labels });
    for (const u of s.users.allowed) for (const n of s.names.allowed) assert.equal(c.checkDatabaseAccess({ labels }, u, n).allowed, true, `${u}/${n}`);
    for (const u of s.users.denied) assert.equal(c.checkDatabaseAccess({ labels }, u, "app").allowed, false, u);
  });
});
