import assert from "node:assert/strict";
import { test } from "node:test";
import { AUDIT_KEEP, auditKeep, QueryAuditor } from "./audit.ts";
import { FrontendReader, type PgMessage } from "./codec.ts";
import { message } from "./messages.ts";

const z = (s: string) => Buffer.from(`${s}\0`);
const i16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const parse = (name: string, q: string) => message("P", z(name), z(q), i16(0));
const bind = (portal: string, stmt: string, params: string[]) =>
  message("B", z(portal), z(stmt), i16(0), i16(params.length), ...params.flatMap((p) => [i32(Buffer.byteLength(p)), Buffer.from(p)]), i16(0));
const execute = (portal: string) => message("E", z(portal), i32(0));
const close = (kind: "S" | "P", name: string) => message("C", Buffer.from(kind), z(name));

function run(...msgs: Buffer[]) {
  const r = new FrontendReader({ typed: true, keep: auditKeep });
  const a = new QueryAuditor();
  return r.feed(Buffer.concat(msgs)).flatMap((i) => ("message" in i ? (a.onMessage(i.message as PgMessage) ?? []) : []));
}

test("one record per Execute, the portal's statement text and parameters", () => {
  const recs = run(parse("s1", "select $1"), bind("", "s1", ["a"]), execute(""), execute(""), bind("p", "s1", ["b"]), execute("p"));
  assert.deepEqual(recs, [
    { db_query: "select $1", db_query_parameters: ["a"], db_statement: "s1" },
    { db_query: "select $1", db_query_parameters: ["a"], db_statement: "s1" },
    { db_query: "select $1", db_query_parameters: ["b"], db_statement: "s1" },
  ]);
});

test("the unnamed statement is replaced by the next Parse and ended by a simple Query", () => {
  const recs = run(parse("", "select 1"), parse("", "select 2"), bind("", "", []), execute(""), message("Q", z("select 3")), execute(""));
  assert.deepEqual(recs, [{ db_query: "select 2" }, { db_query: "select 3" }, { db_query: "", truncated: true }]);
});

test("a statement prepared with SQL PREPARE is named; Close forgets", () => {
  assert.deepEqual(run(bind("", "plan1", ["x"]), execute("")), [
    {
      db_query: "EXECUTE plan1",
      db_query_parameters: ["x"],
      db_statement: "plan1",
    },
  ]);
  const recs = run(parse("s", "select 1"), close("S", "s"), bind("", "s", []), execute(""));
  assert.deepEqual(recs, [{ db_query: "EXECUTE s", db_statement: "s" }]);
});

test("oversized messages are audited truncated, long parameters clipped", () => {
  const long = "x".repeat(AUDIT_KEEP + 10);
  const recs = run(message("Q", z(`select '${long}'`)), parse("", "select $1"), bind("", "", ["y".repeat(5000)]), execute(""));
  assert.equal(recs[0]?.truncated, true);
  assert.equal(recs[0]?.db_query.length, AUDIT_KEEP);
  assert.match(recs[1]?.db_query_parameters?.[0] ?? "", /… \(5000 characters\)$/);
  const big = run(parse("", `select '${long}'`), bind("", "", []), execute(""));
  assert.equal(big[0]?.truncated, true);
});
