// Regenerates the hex fixtures of the MySQL codec tests from real programs:
// `node capture.mjs` (as root, MariaDB on 127.0.0.1:3306). It creates a
// throwaway database and user, records each scenario's bytes through a relay
// (NAME.client.hex / NAME.server.hex, one line per TCP read), then drops them.
// The `ssl-request` scenario replays the recorded MariaDB greeting with the
// CLIENT_SSL flag added, to capture the SSLRequest a TLS-minded client sends.
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import mysql from "mysql2/promise";

const db = "jg_capture";
const user = "jg_capture";
const password = "capture-secret";
const admin = (sql) => execFileSync("mysql", ["-u", "root"], { input: sql });
admin(`DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; CREATE OR REPLACE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}';
GRANT ALL ON ${db}.* TO '${user}'@'127.0.0.1';`);

function recorder(name, handle) {
  const lines = { client: [], server: [] };
  const srv = net.createServer((c) => handle(c, lines));
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () =>
      resolve({
        port: srv.address().port,
        save() {
          srv.close();
          writeFileSync(`${name}.client.hex`, `${lines.client.join("\n")}\n`);
          writeFileSync(`${name}.server.hex`, `${lines.server.join("\n")}\n`);
        },
      }),
    ),
  );
}

const relay = (name) =>
  recorder(name, (c, lines) => {
    const u = net.connect(3306, "127.0.0.1");
    c.on("data", (d) => {
      lines.client.push(d.toString("hex"));
      u.write(d);
    });
    u.on("data", (d) => {
      lines.server.push(d.toString("hex"));
      c.write(d);
    });
    c.on("close", () => u.destroy());
    u.on("close", () => c.destroy());
    c.on("error", () => {});
    u.on("error", () => {});
  });

const cli = (port, sql, extra = []) =>
  new Promise((resolve) => {
    const p = spawn("mysql", ["-h", "127.0.0.1", "-P", String(port), "-u", user, `-p${password}`, ...extra, db, "-e", sql], { stdio: "inherit" });
    p.on("close", resolve);
  });

// 1. The mysql client: queries, USE (COM_INIT_DB), a multi-row result.
let r = await relay("mysql-cli");
await cli(
  r.port,
  "select 1; create table t (id int primary key, name varchar(20), at datetime); insert into t values (1,'a','2024-01-02 03:04:05'),(2,null,null); select * from t; use " +
    db +
    "; select @@version",
);
r.save();

// 2. mysql2 prepared statements with typed parameters.
r = await relay("mysql2-prepared");
{
  const c = await mysql.createConnection({
    host: "127.0.0.1",
    port: r.port,
    user,
    password,
    database: db,
  });
  await c.execute("select ? as a, ? as b, ? as c, ? as d, ? as e, ? as f", [
    42,
    "héllo",
    null,
    3.5,
    new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
    Buffer.from([0, 1, 255]),
  ]);
  await c.execute("select * from t where id = ?", [-7]);
  await c.query("select 2");
  await c.end();
}
r.save();

// 3. A client insisting on TLS, shown a greeting that offers it.
const greeting = Buffer.from(execFileSync("head", ["-n", "1", "mysql-cli.server.hex"]).toString().trim(), "hex");
const caps = greeting.readUInt16LE(greeting.indexOf(0, 5) + 1 + 4 + 9);
greeting.writeUInt16LE(caps | 0x0800, greeting.indexOf(0, 5) + 1 + 4 + 9);
r = await recorder("ssl-request", (c, lines) => {
  lines.server.push(greeting.toString("hex"));
  c.write(greeting);
  c.on("data", (d) => {
    lines.client.push(d.toString("hex"));
    c.destroy();
  });
  c.on("error", () => {});
});
await cli(r.port, "select 1", ["--ssl", "--ssl-verify-server-cert=0"]);
r.save();

admin(`DROP DATABASE ${db}; DROP USER '${user}'@'127.0.0.1';`);
