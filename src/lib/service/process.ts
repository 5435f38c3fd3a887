import { mkdirSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { createAuthClient } from "../../api/authclient.ts";
import { systemClock } from "../../api/clock.ts";
import { AUTH_SERVER_NAME, VERSION } from "../../api/constants.ts";
import { type AuthApiServer, AuthServer, createUser, issueHostCerts, resetUser, startAuthApi } from "../auth/index.ts";
import { type Backend, openBackend } from "../backend/index.ts";
import { type AuditLog, auditConfigFromUris, openAuditLog } from "../events/index.ts";
import { type ProxyService, startProxy } from "../proxy/index.ts";
import { freshKeys, hostUuid, identityFrom, writeIdentityFile, writePrivate } from "./identity.ts";
import { proxyKeyPair } from "./proxy-tls.ts";

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
  };
  proxy?: {
    listen: { host: string; port: number };
    publicAddr: string;
    httpsKeyPairs: { cert_file: string; key_file: string }[];
  };
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

const HOST_CERT_RENEW_MS = 12 * 3600_000;

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
    if (!opts.auth) throw new Error("this build runs the Auth Service in every process; enable auth_service");
    const a = opts.auth;
    const backendConfig =
      a.storage.type === "sqlite" ? { type: "sqlite" as const, path: join(opts.dataDir, "backend.db") } : a.storage;
    const backend: Backend = await openBackend(backendConfig);
    closers.push(() => backend.close());
    // Audit events default to SQLite under the data dir (memory storage keeps them in memory too).
    const auditUris = a.auditUris.length > 0 ? a.auditUris : [a.storage.type === "memory" ? "memory://" : "sqlite://"];
    const auditCfg = auditConfigFromUris(auditUris, opts.dataDir);
    const audit: AuditLog = await openAuditLog(auditCfg.store, { jsonlPaths: auditCfg.jsonlPaths });
    closers.push(() => audit.close());

    const publicProxyAddr = opts.proxy?.publicAddr ?? `${opts.nodeName}:3080`;
    const server = await AuthServer.create({
      backend,
      audit,
      clock: systemClock,
      log: log.child({ component: "auth" }),
      config: {
        clusterName: opts.clusterName,
        publicProxyAddr,
        secondFactor: a.secondFactor,
        lockout: a.lockout,
        staticTokens: a.staticTokens,
        inviteTtlMs: 3600_000,
        version: VERSION,
        recordingsDir: join(opts.dataDir, "records"),
      },
    });
    const hostId = hostUuid(opts.dataDir);
    const authCreds = async () => {
      const keys = freshKeys();
      const certs = await issueHostCerts(server.ctx, {
        hostId,
        nodeName: opts.nodeName,
        role: "auth",
        principals: [],
        dnsNames: [AUTH_SERVER_NAME, "localhost"],
        sshPublicKey: keys.sshPublicKey,
        tlsPublicKey: keys.tlsPublicKey,
      });
      const pem = keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      const clientCas = [
        ...server.ctx.authorities.get("user").tlsCerts,
        ...server.ctx.authorities.get("host").tlsCerts,
      ];
      return { key: pem, cert: certs.tlsCert, clientCas };
    };
    const api: AuthApiServer = await startAuthApi({ server, host: a.listen.host, port: a.listen.port, tls: await authCreds() });
    closers.push(() => api.close());
    const authAddr = `${a.listen.host}:${api.port}`;
    log.info({ addr: authAddr, cluster: server.clusterName }, "Auth Service is listening");

    // The local admin identity: whoever can read the data dir already holds the CA keys.
    const writeAdmin = async () => {
      const keys = freshKeys();
      const certs = await issueHostCerts(server.ctx, {
        hostId: `admin.${hostId}`,
        nodeName: "admin",
        role: "admin",
        principals: [],
        dnsNames: [],
        sshPublicKey: keys.sshPublicKey,
        tlsPublicKey: keys.tlsPublicKey,
        ttlMs: 30 * 24 * 3600_000,
      });
      const id = identityFrom(keys, certs, server.ctx.authorities.get("host").sshPublicKeys);
      writeIdentityFile(join(opts.dataDir, "admin", "identity"), id);
      writePrivate(join(opts.dataDir, "admin", "auth_addr"), `${authAddr}\n`);
    };
    await writeAdmin();
    const renew = setInterval(() => {
      Promise.all([authCreds().then((t) => api.setTls(t)), writeAdmin()]).catch((e: unknown) =>
        log.error({ err: e }, "cannot renew the Auth Service's certificates"),
      );
    }, HOST_CERT_RENEW_MS);
    renew.unref();
    closers.push(async () => clearInterval(renew));

    let proxy: ProxyService | undefined;
    if (opts.proxy) {
      const p = opts.proxy;
      const keys = freshKeys();
      const certs = await issueHostCerts(server.ctx, {
        hostId,
        nodeName: opts.nodeName,
        role: "proxy",
        principals: [p.publicAddr.replace(/:\d+$/, "")],
        dnsNames: [],
        sshPublicKey: keys.sshPublicKey,
        tlsPublicKey: keys.tlsPublicKey,
      });
      const authClient = createAuthClient({
        addr: authAddr,
        identity: {
          key: keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
          cert: certs.tlsCert,
          cas: certs.hostCaCerts,
        },
      });
      closers.push(async () => authClient.close());
      const pair = await proxyKeyPair(opts.dataDir, p.httpsKeyPairs, [p.publicAddr.replace(/:\d+$/, "")]);
      proxy = await startProxy({
        host: p.listen.host,
        port: p.listen.port,
        publicAddr: p.publicAddr,
        tls: pair,
        auth: authClient,
        authAddr: { host: a.listen.host === "0.0.0.0" ? "127.0.0.1" : a.listen.host, port: api.port },
        log: log.child({ component: "proxy" }),
      });
      closers.push(() => proxy?.close() ?? Promise.resolve());
      log.info({ addr: `${p.listen.host}:${proxy.port}`, selfSigned: pair.selfSigned }, "Proxy Service is listening");
    }

    if (opts.demo) await announceFirstAdmin(server, opts, proxy);
    ready = true;
    return {
      authAddr,
      ...(proxy ? { proxyAddr: `${opts.proxy?.listen.host}:${proxy.port}` } : {}),
      adminIdentityPath: join(opts.dataDir, "admin", "identity"),
      clusterName: server.clusterName,
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
