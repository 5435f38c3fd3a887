import { mkdirSync } from "node:fs";
import { isIP } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { createAuthClient } from "../../api/authclient.ts";
import { systemClock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import { kubeSni } from "../../api/kubewire.ts";
import { type AuthServer, createUser, resetUser } from "../auth/index.ts";
import { type ProxyService, startProxy } from "../proxy/index.ts";
import type { CommandLabelSpec } from "../srv/agent/index.ts";
import { type AppPartOptions, startAppPart } from "./app-part.ts";
import { type AuthPart, localHostIdentity, startAuthPart } from "./auth-part.ts";
import { type DbPartOptions, startDbPart } from "./db-part.ts";
import { hostUuid } from "./identity.ts";
import { type KubePartOptions, startKubePart } from "./kube-part.ts";
import { startNodePart } from "./node-part.ts";
import { startProxyApp } from "./proxy-app.ts";
import { startProxyDb } from "./proxy-db.ts";
import { startProxyKube } from "./proxy-kube.ts";
import { startProxySsh } from "./proxy-part.ts";
import { proxyKeyPair } from "./proxy-tls.ts";
import { renewingAuthClient } from "./renewing.ts";

/** Host certificates live 24 h (DESIGN §2); renew at half-life. */
const HOST_RENEW_MS = 12 * 3600_000;

export interface ProcessOptions {
  dataDir: string;
  clusterName: string;
  nodeName: string;
  auth?: {
    listen: { host: string; port: number };
    storage: { type: "sqlite" } | { type: "memory" } | { type: "postgres"; connString: string };
    auditUris: string[];
    secondFactor: "off" | "otp" | "webauthn" | "on";
    lockout: { maxAttempts: number; lockoutMs: number };
    staticTokens: { token: string; roles: string[] }[];
    /** Where sessions are recorded (`auth_service.session_recording`); default `node`. */
    sessionRecording?: "node" | "proxy" | "off";
  };
  proxy?: {
    listen: { host: string; port: number };
    publicAddr: string;
    httpsKeyPairs: { cert_file: string; key_file: string }[];
    /** Load balancers that must send a PROXY protocol header (IPs and CIDRs). */
    trustedProxyProtocolAddrs?: string[];
    /** Idle expiry of web sessions; default 30 min. */
    webIdleTimeoutMs?: number;
  };
  node?: {
    labels: Record<string, string>;
    commands: CommandLabelSpec[];
    /** Dialled directly here instead of through a reverse tunnel. */
    listen?: { host: string; port: number };
    /** host:port the proxy dials when `listen` is set (`ssh_service.public_addr`). */
    publicAddr?: string;
  };
  /** The Database Service (`db_service`). */
  db?: Pick<DbPartOptions, "databases" | "resources">;
  /** The Application Service (`app_service`). */
  app?: Pick<AppPartOptions, "apps" | "resources" | "auditRequests">;
  /** The Kubernetes Service (`kubernetes_service`). */
  kube?: Pick<KubePartOptions, "kubeconfigFile" | "kubeClusterName" | "staticLabels" | "dynamicLabels">;
  /** Agents without a local Auth Service join through this proxy. */
  join?: { proxyAddr: string; token?: string; insecure: boolean };
  /** Demo mode: create the first admin and print the sign-up link. */
  demo: boolean;
  log: Logger;
  /** Where to print what a person must read (sign-up link); stdout by default. */
  announce?: (line: string) => void;
}

export interface RunningProcess {
  authAddr?: string;
  proxyAddr?: string;
  adminIdentityPath?: string;
  clusterName: string;
  ready(): boolean;
  close(): Promise<void>;
}

/** Starts the services this process runs, in dependency order, and stops them in reverse. */
export async function startProcess(opts: ProcessOptions): Promise<RunningProcess> {
  const { log } = opts;
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      await c().catch((e: unknown) => log.warn({ err: e }, "error while stopping"));
    }
  };
  let ready = false;
  try {
    const hostId = hostUuid(opts.dataDir);
    let auth: AuthPart | undefined;
    if (opts.auth) {
      auth = await startAuthPart({ ...opts, auth: opts.auth }, hostId, log);
      closers.push(...auth.closers);
    }

    let proxy: ProxyService | undefined;
    let proxyCert: string | undefined;
    if (opts.proxy) {
      if (!auth) throw badParameter("a proxy runs in the same process as the Auth Service in this version");
      const p = opts.proxy;
      const host = p.publicAddr.replace(/:\d+$/, "");
      const server = auth.server;
      const addr = auth.authAddr;
      const first = await localHostIdentity(server, hostId, opts.nodeName, "proxy", [host]);
      const proxyClient = async (id = first) => {
        const { keys, certs } = id;
        return createAuthClient({
          addr,
          identity: {
            key: keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
            cert: certs.tlsCert,
            cas: certs.hostCaCerts,
          },
        });
      };
      const authClient = renewingAuthClient(
        await proxyClient(),
        async () => proxyClient(await localHostIdentity(server, hostId, opts.nodeName, "proxy", [host])),
        HOST_RENEW_MS,
        log,
      );
      closers.push(async () => authClient.close());
      const proxySsh = await startProxySsh({
        auth: authClient,
        hostKey: first.keys.ssh.privateKey,
        hostCertificate: first.certs.sshCert,
        clusterName: server.clusterName,
        dataDir: opts.dataDir,
        clock: systemClock,
        log,
      });
      closers.push(() => proxySsh.close());
      // Host certificates last a day: OpenSSH clients (`ssh -J proxy`) and agents check the proxy's.
      const sshRenewal = setInterval(() => {
        localHostIdentity(server, hostId, opts.nodeName, "proxy", [host])
          .then((id) => proxySsh.setHostIdentity(id.keys.ssh.privateKey, id.certs.sshCert))
          .catch((e: unknown) => log.warn({ err: String(e) }, "cannot renew the proxy's SSH host certificate"));
      }, HOST_RENEW_MS);
      sshRenewal.unref();
      closers.push(async () => clearInterval(sshRenewal));
      const proxyDb = await startProxyDb({
        auth: authClient,
        tunnels: proxySsh.tunnels,
        // Database clients verify this certificate against the host CA (psql sslmode=verify-full: the public host name).
        issueTls: async () => {
          const id = await localHostIdentity(server, hostId, opts.nodeName, "proxy", [host], isIP(host) ? [] : [host]);
          return { cert: id.certs.tlsCert, key: id.keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
        },
        renewMs: HOST_RENEW_MS,
        clock: systemClock,
        log,
      });
      closers.push(async () => proxyDb.close());
      const proxyApp = await startProxyApp({
        auth: authClient,
        tunnels: proxySsh.tunnels,
        publicAddr: p.publicAddr,
        // `jsh proxy app` checks this certificate inside the jumpgate-app route, as jsh db does on the database route.
        issueTls: async () => {
          const id = await localHostIdentity(server, hostId, opts.nodeName, "proxy", [host], isIP(host) ? [] : [host]);
          return { cert: id.certs.tlsCert, key: id.keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
        },
        renewMs: HOST_RENEW_MS,
        clock: systemClock,
        log,
      });
      closers.push(async () => proxyApp.close());
      const proxyKube = await startProxyKube({
        auth: authClient,
        tunnels: proxySsh.tunnels,
        // kubectl checks this certificate against the host CA pinned by jsh kube login, by the name kube.<public host>.
        issueTls: async () => {
          const id = await localHostIdentity(server, hostId, opts.nodeName, "proxy", [host], [kubeSni(host)]);
          return { cert: id.certs.tlsCert, key: id.keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
        },
        renewMs: HOST_RENEW_MS,
        clock: systemClock,
        log,
      });
      closers.push(async () => proxyKube.close());
      const pair = await proxyKeyPair(opts.dataDir, p.httpsKeyPairs, [host]);
      proxyCert = pair.cert;
      proxy = await startProxy({
        host: p.listen.host,
        port: p.listen.port,
        publicAddr: p.publicAddr,
        tls: pair,
        auth: authClient,
        authAddr: auth.localAddr,
        log: log.child({ component: "proxy" }),
        sshProxy: proxySsh.ssh,
        reverseTunnel: proxySsh.tunnels,
        dbProxy: proxyDb.db,
        appProxy: proxyApp.app,
        kubeProxy: { handle: proxyKube.kube.handle, serverTls: proxyKube.serverTls },
        ...(p.webIdleTimeoutMs ? { webIdleTimeoutMs: p.webIdleTimeoutMs } : {}),
        ...(p.trustedProxyProtocolAddrs?.length ? { trustedProxyProtocolAddrs: p.trustedProxyProtocolAddrs } : {}),
      });
      const started = proxy;
      closers.push(() => started.close());
      log.info({ addr: `${p.listen.host}:${proxy.port}`, selfSigned: pair.selfSigned }, "Proxy Service is listening");
    }

    let clusterName = auth?.server.clusterName ?? opts.clusterName;
    // How the agent parts of this process reach Auth and the proxy: directly when Auth runs here, else by joining.
    const proxyLocal = proxy && opts.proxy ? `${loopback(opts.proxy.listen.host)}:${proxy.port}` : undefined;
    const reach = {
      ...(auth
        ? {
            local: {
              server: auth.server,
              authAddr: `${auth.localAddr.host}:${auth.localAddr.port}`,
              ...(proxyLocal ? { proxyAddr: proxyLocal } : {}),
              ...(proxyCert ? { proxyCert } : {}),
            },
          }
        : {}),
      ...(opts.join ? { join: opts.join } : {}),
    };
    if (opts.node) {
      const n = opts.node;
      const part = await startNodePart({
        dataDir: opts.dataDir,
        hostId,
        nodeName: opts.nodeName,
        labels: n.labels,
        commands: n.commands,
        ...(n.listen ? { listen: n.listen } : {}),
        ...(n.publicAddr ? { publicAddr: n.publicAddr } : {}),
        log,
        ...reach,
      });
      clusterName = part.clusterName;
      closers.push(() => part.close());
      log.info({ hostId, nodeName: opts.nodeName }, "SSH service is running");
    }

    if (opts.db) {
      const part = await startDbPart({
        dataDir: opts.dataDir,
        nodeName: opts.nodeName,
        databases: opts.db.databases,
        resources: opts.db.resources,
        log,
        ...reach,
      });
      clusterName = part.clusterName;
      closers.push(() => part.close());
      log.info({ nodeName: opts.nodeName, databases: opts.db.databases.map((d) => d.name) }, "Database Service is running");
    }

    if (opts.app) {
      const part = await startAppPart({
        dataDir: opts.dataDir,
        nodeName: opts.nodeName,
        apps: opts.app.apps,
        resources: opts.app.resources,
        ...(opts.app.auditRequests !== undefined ? { auditRequests: opts.app.auditRequests } : {}),
        log,
        ...reach,
      });
      clusterName = part.clusterName;
      closers.push(() => part.close());
      log.info({ nodeName: opts.nodeName, apps: opts.app.apps.map((a) => a.name) }, "Application Service is running");
    }

    if (opts.kube) {
      const part = await startKubePart({
        dataDir: opts.dataDir,
        nodeName: opts.nodeName,
        ...opts.kube,
        log,
        ...reach,
      });
      clusterName = part.clusterName;
      closers.push(() => part.close());
      log.info({ nodeName: opts.nodeName, clusters: part.clusters }, "Kubernetes Service is running");
    }

    if (opts.demo && auth) await announceFirstAdmin(auth.server, opts, proxy);
    ready = true;
    return {
      ...(auth ? { authAddr: auth.authAddr, adminIdentityPath: join(opts.dataDir, "admin", "identity") } : {}),
      ...(proxy ? { proxyAddr: `${opts.proxy?.listen.host}:${proxy.port}` } : {}),
      clusterName,
      ready: () => ready,
      close: async () => {
        ready = false;
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

const loopback = (h: string) => (h === "0.0.0.0" || h === "::" ? "127.0.0.1" : h);

async function announceFirstAdmin(server: AuthServer, opts: ProcessOptions, proxy: ProxyService | undefined) {
  const say = opts.announce ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ctx = server.ctx;
  const users = await ctx.stores.users.list();
  const admin = users.find((u) => u.metadata.name === "admin");
  const secrets = admin ? await ctx.stores.secrets.get("admin") : undefined;
  if (users.length > 0 && (!admin || secrets?.value.passwordHash)) return;
  const logins = [...new Set(["root", userInfo().username])];
  const invite = admin
    ? await resetUser(ctx, "admin", "jumpgate")
    : (
        await createUser(ctx, {
          name: "admin",
          roles: ["access", "editor", "auditor"],
          traits: { logins },
          actor: "jumpgate",
        })
      ).invite;
  const proxyAddr = opts.proxy ? `${opts.proxy.publicAddr.replace(/:\d+$/, "")}:${proxy?.port ?? ""}` : "";
  say("");
  say(`Jumpgate cluster "${server.clusterName}" is running.`);
  say(`Sign up the first administrator (valid for 1 hour):`);
  say(`  ${invite.url}`);
  say(`Then log in:  jsh login --proxy=${proxyAddr} --user=admin --insecure`);
  say("");
}
