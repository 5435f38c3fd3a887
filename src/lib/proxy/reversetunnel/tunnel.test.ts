import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { FakeClock, systemClock } from "../../../api/clock.ts";
import { ALPN } from "../../../api/constants.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEd25519 } from "../../crypto/index.ts";
import { ReverseTunnelAgent } from "../../tunnel/index.ts";
import { Multiplexer } from "../mux.ts";
import { hostIdentity, roundTrip, startEcho, testLog, testTls, waitFor } from "../proxy.test-helpers.ts";
import { relay } from "../relay.ts";
import { type AgentRefusal, TunnelServer } from "./index.ts";

const log = testLog();
const hostCa = generateEd25519();
const refusals: AgentRefusal[] = [];
const events: string[] = [];
let tlsPair: Awaited<ReturnType<typeof testTls>>;
let echo: Awaited<ReturnType<typeof startEcho>>;
let tunnels: TunnelServer;
let mux: Multiplexer;
let port: number;
const agents: ReverseTunnelAgent[] = [];

async function startMux(p: number): Promise<number> {
  mux = new Multiplexer({ tls: tlsPair, log, handshakeTimeoutMs: 2000 });
  mux.handleAlpn(ALPN.reverseTunnel, (s, info) => tunnels.handle(s, info));
  return (await mux.listen("127.0.0.1", p)).port;
}

function agent(hostId: string, identity = hostIdentity(hostCa, hostId)): ReverseTunnelAgent {
  const a = new ReverseTunnelAgent({
    proxyAddr: `127.0.0.1:${port}`,
    tls: { insecure: false, cas: [tlsPair.ca], serverName: "localhost" },
    hostId,
    ...identity,
    onDial: (stream, info) => {
      assert.equal(info.target, "echo-target");
      const upstream = net.connect(echo.port, "127.0.0.1");
      upstream.setNoDelay(true);
      relay(stream, upstream);
    },
    clock: systemClock,
    log,
    backoff: { baseMs: 50, capMs: 300, minMs: 20 },
    keepaliveIntervalMs: 1000,
    keepaliveCountMax: 2,
  });
  agents.push(a);
  return a.start();
}

before(async () => {
  tlsPair = await testTls();
  echo = await startEcho();
  tunnels = new TunnelServer({
    ...hostIdentity(hostCa, "proxy-uuid"),
    trustedHostCaKeys: () => [hostCa.publicKey],
    clock: systemClock,
    log,
    onAgentConnected: (a) => events.push(`+${a.hostId}`),
    onAgentDisconnected: (a) => events.push(`-${a.hostId}`),
    onAgentRefused: (r) => refusals.push(r),
  });
  port = await startMux(0);
});

after(async () => {
  await Promise.all(agents.map((a) => a.close()));
  tunnels.close();
  await mux.close();
  await echo.close();
});

test("an agent with a host certificate connects and dial() reaches a server behind it", async () => {
  const a = agent("node-1");
  await waitFor(() => a.connected && tunnels.connectedAgents().includes("node-1"), 5000, "the agent to connect");
  const info = tunnels.agent("node-1");
  assert.equal(info?.role, "node");
  assert.equal(info?.clusterName, "test-cluster");
  const streams = await Promise.all([1, 2, 3].map(() => tunnels.dial("node-1", { clientAddr: "10.1.2.3:4444", target: "echo-target" })));
  const replies = await Promise.all(streams.map((s, i) => roundTrip(s, `hello through the tunnel ${i}`)));
  assert.deepEqual(
    replies,
    [0, 1, 2].map((i) => `hello through the tunnel ${i}`),
  );
  for (const s of streams) s.destroy();
  assert.ok(events.includes("+node-1"));
});

test("dial to a host without a tunnel fails with connection-problem", async () => {
  await assert.rejects(tunnels.dial("no-such-node", { clientAddr: "1.2.3.4:5" }), (e) => {
    assert.ok(isJumpgateError(e, "connection-problem"));
    assert.match(e.message, /no-such-node is not connected to this proxy/);
    return true;
  });
});

test("agents with a foreign CA, an expired certificate or someone else's id are refused", async () => {
  const foreign = agent("node-foreign", hostIdentity(generateEd25519(), "node-foreign"));
  const past = new FakeClock(new Date(Date.now() - 48 * 3600_000));
  const expired = agent("node-expired", hostIdentity(hostCa, "node-expired", { clock: past, ttlMs: 3600_000 }));
  // A valid certificate for node-x, presented as node-y.
  const impostor = agent("node-y", hostIdentity(hostCa, "node-x"));
  const reasons = (id: string) => refusals.filter((r) => r.hostId === id).map((r) => r.reason);
  await waitFor(() => ["node-foreign", "node-expired", "node-y"].every((id) => reasons(id).length > 0), 5000, "refusals of all three agents");
  assert.match(reasons("node-foreign")[0] ?? "", /unknown authority/);
  assert.match(reasons("node-expired")[0] ?? "", /expired/);
  assert.match(reasons("node-y")[0] ?? "", /not valid for principal "node-y"/);
  assert.ok(refusals.every((r) => r.remoteAddr.startsWith("127.0.0.1:")));
  for (const a of [foreign, expired, impostor]) assert.equal(a.connected, false);
  assert.deepEqual(
    tunnels.connectedAgents().filter((id) => id !== "node-1"),
    [],
  );
  await Promise.all([foreign.close(), expired.close(), impostor.close()]);
});

test("a reconnecting agent replaces its old tunnel", async () => {
  const first = agent("node-dup");
  await waitFor(() => first.connected, 5000, "the first agent");
  const firstDropped = new Promise<void>((r) => first.once("disconnected", () => r()));
  const second = agent("node-dup");
  await firstDropped;
  await first.close();
  await waitFor(() => second.connected, 5000, "the second agent");
  assert.deepEqual(tunnels.connectedAgents(), ["node-1", "node-dup"]);
  const s = await tunnels.dial("node-dup", { clientAddr: "1.1.1.1:1", target: "echo-target" });
  assert.equal(await roundTrip(s, "via the newest tunnel"), "via the newest tunnel");
  s.destroy();
  await second.close();
  await waitFor(() => !tunnels.connectedAgents().includes("node-dup"), 5000, "node-dup to go away");
  // The replaced connection's close does not count as the agent leaving.
  assert.deepEqual(
    events.filter((e) => e.endsWith("node-dup")),
    ["+node-dup", "+node-dup", "-node-dup"],
  );
});

test("an agent notices a proxy that stopped answering (keepalives) and reconnects", async () => {
  // A TCP hop between agent and proxy that can freeze: no data either way, no FIN.
  let frozen = false;
  const hops = new Set<net.Socket>();
  const hop = net.createServer((inbound) => {
    const outbound = net.connect(port, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      hops.add(s);
      s.on("error", () => s.destroy());
    }
    inbound.on("data", (d) => frozen || outbound.write(d));
    outbound.on("data", (d) => frozen || inbound.write(d));
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((r) => hop.listen(0, "127.0.0.1", r));
  const hopAddr = hop.address();
  const hopPort = typeof hopAddr === "object" && hopAddr !== null ? hopAddr.port : 0;
  const a = new ReverseTunnelAgent({
    proxyAddr: `127.0.0.1:${hopPort}`,
    tls: { insecure: true },
    hostId: "node-frozen",
    ...hostIdentity(hostCa, "node-frozen"),
    onDial: (stream) => stream.destroy(),
    clock: systemClock,
    log,
    backoff: { baseMs: 50, capMs: 200, minMs: 20 },
    keepaliveIntervalMs: 500,
    keepaliveCountMax: 2,
  }).start();
  try {
    await waitFor(() => a.connected, 5000, "the agent to connect through the hop");
    frozen = true;
    const frozenAt = Date.now();
    await new Promise<void>((r) => a.once("disconnected", () => r()));
    const noticedAfter = Date.now() - frozenAt;
    assert.ok(noticedAfter < 3000, `noticed after ${noticedAfter} ms`);
    frozen = false;
    await waitFor(() => a.connected, 5000, "the agent to reconnect");
  } finally {
    await a.close();
    for (const s of hops) s.destroy();
    await new Promise<void>((r) => hop.close(() => r()));
  }
});

test("after the proxy's listener dies and comes back, the agent reconnects by itself", async () => {
  const a = agents[0];
  assert.ok(a?.connected);
  const disconnected = new Promise<void>((r) => a.once("disconnected", () => r()));
  await mux.close();
  await disconnected;
  await waitFor(() => !tunnels.connectedAgents().includes("node-1"), 5000, "the proxy to drop node-1");
  await assert.rejects(tunnels.dial("node-1", { clientAddr: "1.2.3.4:5" }), (e) => isJumpgateError(e, "connection-problem"));
  // Restart on the same port after a moment of down time with failed attempts.
  await new Promise((r) => setTimeout(r, 400));
  const restartedAt = Date.now();
  await startMux(port);
  await waitFor(() => a.connected && tunnels.connectedAgents().includes("node-1"), 3000, "the agent to reconnect");
  assert.ok(Date.now() - restartedAt < 3000);
  const s = await tunnels.dial("node-1", { clientAddr: "1.2.3.4:5", target: "echo-target" });
  assert.equal(await roundTrip(s, "back again"), "back again");
  s.destroy();
});

test("close() stops the agent for good", async () => {
  const a = agents[0];
  assert.ok(a);
  await a.close();
  assert.equal(a.connected, false);
  await waitFor(() => !tunnels.connectedAgents().includes("node-1"), 5000, "node-1 to disappear");
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!tunnels.connectedAgents().includes("node-1"), "a closed agent does not come back");
});
