// Records what a real client and server send each other, as hex fixtures for
// the codec tests: `node capture.mjs NAME UPSTREAM_PORT LISTEN_PORT` relays one
// or more connections from 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT and
// writes NAME.N.client.hex / NAME.N.server.hex (one line per TCP read) per
// connection when it ends. Stop it with SIGTERM once the client is done.
import { writeFileSync } from "node:fs";
import net from "node:net";

const [name, upstreamPort, listenPort] = process.argv.slice(2);
let n = 0;
const server = net.createServer((client) => {
  const id = n++;
  const lines = { client: [], server: [] };
  const upstream = net.connect(Number(upstreamPort), "127.0.0.1");
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.on("data", (d) => {
    lines.client.push(d.toString("hex"));
    upstream.write(d);
  });
  upstream.on("data", (d) => {
    lines.server.push(d.toString("hex"));
    client.write(d);
  });
  const done = () => {
    client.destroy();
    upstream.destroy();
    writeFileSync(`${name}.${id}.client.hex`, `${lines.client.join("\n")}\n`);
    writeFileSync(`${name}.${id}.server.hex`, `${lines.server.join("\n")}\n`);
  };
  client.on("close", done);
  upstream.on("close", done);
  client.on("error", () => undefined);
  upstream.on("error", () => undefined);
});
server.listen(Number(listenPort), "127.0.0.1");
process.on("SIGTERM", () => {
  server.close();
  setTimeout(() => process.exit(0), 200);
});
