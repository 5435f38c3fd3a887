import { join } from "node:path";
import type { Logger } from "pino";
import { systemClock } from "../../api/clock.ts";
import { AUTH_SERVER_NAME, VERSION } from "../../api/constants.ts";
import { type AuthApiServer, AuthServer, issueHostCerts, startAuthApi } from "../auth/index.ts";
import { type Backend, openBackend } from "../backend/index.ts";
import { writePrivate } from "../client/index.ts";
import { type AuditLog, auditConfigFromUris, openAuditLog } from "../events/index.ts";
import { freshKeys, identityFrom, writeIdentityFile } from "./identity.ts";
import type { ProcessOptions } from "./process.ts";

const HOST_CERT_RENEW_MS = 12 * 3600_000;

export interface AuthPart {
  server: AuthServer;
  authAddr: string;
  /** Loopback address other parts of this process dial. */
  localAddr: { host: string; port: number };
  closers: (() => Promise<void>)[];
}

/** Backend, audit log, the Auth Service and its API, and the local admin identity. */
export async function startAuthPart(opts: ProcessOptions & { auth: NonNullable<ProcessOptions["auth"]> }, hostId: string, log: Logger): Promise<AuthPart> {
  const a = opts.auth;
  const closers: (() => Promise<void>)[] = [];
  const backendConfig = a.storage.type === "sqlite" ? { type: "sqlite" as const, path: join(opts.dataDir, "backend.db") } : a.storage;
  const backend: Backend = await openBackend(backendConfig);
  closers.push(() => backend.close());
  // Audit events default to SQLite under the data dir (memory storage keeps them in memory too).
  const auditUris = a.auditUris.length > 0 ? a.auditUris : [a.storage.type === "memory" ? "memory://" : "sqlite://"];
  const auditCfg = auditConfigFromUris(auditUris, opts.dataDir);
  const audit: AuditLog = await openAuditLog(auditCfg.store, { jsonlPaths: auditCfg.jsonlPaths });
  closers.push(() => audit.close());

  const server = await AuthServer.create({
    backend,
    audit,
    clock: systemClock,
    log: log.child({ component: "auth" }),
    config: {
      clusterName: opts.clusterName,
      publicProxyAddr: opts.proxy?.publicAddr ?? `${opts.nodeName}:3080`,
      secondFactor: a.secondFactor,
      lockout: a.lockout,
      staticTokens: a.staticTokens,
      inviteTtlMs: 3600_000,
      version: VERSION,
      recordingsDir: join(opts.dataDir, "records"),
      ...(a.sessionRecording ? { sessionRecording: a.sessionRecording } : {}),
    },
  });
  const authCreds = async () => {
    const keys = freshKeys();
    const certs = await issueHostCerts(server.ctx, {
      hostId,
      nodeName: opts.nodeName,
      role: "auth",
      principals: [],
      dnsNames: [AUTH_SERVER_NAME, "localhost"],
      ...keys,
    });
    const clientCas = [...server.ctx.authorities.get("user").tlsCerts, ...server.ctx.authorities.get("host").tlsCerts];
    return { key: keys.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: certs.tlsCert, clientCas };
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
      ...keys,
      ttlMs: 30 * 24 * 3600_000,
    });
    writeIdentityFile(join(opts.dataDir, "admin", "identity"), identityFrom(keys, certs, server.ctx.authorities.get("host").sshPublicKeys));
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
  const host = a.listen.host === "0.0.0.0" || a.listen.host === "::" ? "127.0.0.1" : a.listen.host;
  return { server, authAddr, localAddr: { host, port: api.port }, closers };
}

/** Host certificates for another role of this same process, issued without a round trip. */
export async function localHostIdentity(server: AuthServer, hostId: string, nodeName: string, role: string, principals: string[], dnsNames: string[] = []) {
  const keys = freshKeys();
  const certs = await issueHostCerts(server.ctx, { hostId, nodeName, role, principals, dnsNames, ...keys });
  return { keys, certs, identity: identityFrom(keys, certs, []) };
}
