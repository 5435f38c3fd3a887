import { create } from "@bufbuild/protobuf";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { fromProto, toJsonObject, toProto } from "../../../api/convert.ts";
import { accessDenied, badParameter } from "../../../api/errors.ts";
import { type AuthService, DatabaseCertSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { toConnectError } from "../../../api/rpc-errors.ts";
import type { StoredResource } from "../../services/index.ts";
import { appRouteFor, kubeClusterFor } from "../apps.ts";
import { CA_TYPES, type CaType } from "../authorities.ts";
import { checkerFor, issueHostCerts, issueUserCerts } from "../certs.ts";
import { createToken, registerUsingToken } from "../join.ts";
import { authenticateUser } from "../login.ts";
import { deleteResource, getResource, listResources, normalizeKind, upsertResource } from "../resources.ts";
import type { AuthServer } from "../server.ts";
import { completeInvite, createUser, getUserToken, needsOtp, resetUser, type UserResource, updateUser } from "../users.ts";
import { canReadRecording, emitAgentEvent, uploadRecordingPart } from "./agent-handlers.ts";
import { APP_SERVER, guardAppServerHeartbeat, isOwnAppServerDelete, visibleAppServers } from "./app-handlers.ts";
import { authenticateAppSessionRpc, createAppSessionRpc, deleteAppSessionRpc, generateAppTokenRpc } from "./app-rpc.ts";
import { type Caller, callerName, requireAuthenticated, requireProxyOrAdmin, requireRule, resolveCaller } from "./authz.ts";
import { DB_SERVER, databaseRouteFor, generateDatabaseCert, guardDbServerHeartbeat, isOwnDbServerDelete, visibleDbServers } from "./db-handlers.ts";
import { generateForwardingHostCert, generateForwardingUserCert } from "./forwarding-handlers.ts";
import { canSeeNode, certsToProto, guardGrant, guardRoles, isAudited, traitsFromProto, ttlMs } from "./handler-helpers.ts";
import { guardKubeServerHeartbeat, isOwnKubeServerDelete, KUBE_SERVER, visibleKubeServers } from "./kube-handlers.ts";
import { peerKey } from "./server.ts";
import { getSessionTracker, guardSessionTrackerWrite, listSessionTrackers, SESSION_TRACKER } from "./session-trackers.ts";
import { watchResources } from "./watch.ts";
import { authenticateWebSessionRpc, createWebSessionRpc, deleteWebSessionRpc } from "./websession-handlers.ts";

/** Audit events one EmitAuditEvent call may carry (agents send 64 at a time). */
const MAX_AUDIT_BATCH = 1000;

export function authServiceImpl(server: AuthServer): ServiceImpl<typeof AuthService> {
  const ctx = server.ctx;
  const caller = (hc: HandlerContext) => resolveCaller(ctx, hc.values.get(peerKey));
  // Every handler runs through this, so errors leave as gRPC statuses with the user-facing text only.
  const wrap =
    <I, O>(fn: (req: I, c: Caller, hc: HandlerContext) => Promise<O>) =>
    async (req: I, hc: HandlerContext): Promise<O> => {
      let c: Caller | undefined;
      try {
        c = await caller(hc);
        return await fn(req, c, hc);
      } catch (e) {
        const err = toConnectError(e);
        if (err.code === Code.Internal) ctx.log.error({ err: e }, "internal error in Auth API");
        if (err.code === Code.PermissionDenied && !isAudited(e)) await auditRefusal(hc, c, err.rawMessage);
        throw err;
      }
    };
  // Every refusal is an audit event; login and join refusals already wrote a more precise one.
  const auditRefusal = async (hc: HandlerContext, c: Caller | undefined, message: string) => {
    const peer = hc.values.get(peerKey);
    await ctx.audit
      .emit({
        event: "auth",
        success: false,
        user: c ? callerName(c) : `unknown@${peer.addr}`,
        method: hc.method.name,
        error: message,
        addr_remote: peer.addr,
      })
      .catch((e: unknown) => ctx.log.error({ err: e }, "cannot write audit event"));
  };

  return {
    ping: wrap(async () => ({
      clusterName: server.clusterName,
      serverVersion: ctx.config.version,
      secondFactor: await server.secondFactor(),
    })),

    status: wrap(async (_req, c) => {
      requireAuthenticated(c);
      const s = server.status();
      return {
        clusterName: s.clusterName,
        serverVersion: s.version,
        storage: ctx.backend.constructor.name,
        authorities: s.authorities.map((a) => ({ type: a.type, sshFingerprints: a.ssh, tlsFingerprints: a.tls })),
      };
    }),

    getResource: wrap(async (req, c) => {
      if (normalizeKind(req.kind) === SESSION_TRACKER) return toProto(await getSessionTracker(ctx, c, req.name));
      // Like Teleport: a user may read the roles he holds (jsh db ls shows what they allow).
      const ownRole = c.kind === "user" && normalizeKind(req.kind) === "role" && c.user.spec.roles.includes(req.name);
      if (!ownRole) requireRule(c, normalizeKind(req.kind), "read");
      return toProto(await getResource(ctx, req.kind, req.name));
    }),

    listResources: wrap(async (req, c) => {
      if (normalizeKind(req.kind) === SESSION_TRACKER) return { resources: (await listSessionTrackers(ctx, c)).map(toProto) };
      if (c.kind === "user" && normalizeKind(req.kind) === "node" && !c.checker.checkRule("node", "list").allowed) {
        // Like Teleport: users see the nodes they could log in to, without a rule on `node`.
        const nodes = (await listResources(ctx, "node")).filter((n) => canSeeNode(c.checker, n));
        return { resources: nodes.map(toProto) };
      }
      if (c.kind === "user" && normalizeKind(req.kind) === DB_SERVER && !c.checker.checkRule(DB_SERVER, "list").allowed) {
        // The same for databases: the db_server entries whose database the user's db_labels match.
        return { resources: visibleDbServers(c.checker, await listResources(ctx, DB_SERVER)).map(toProto) };
      }
      if (c.kind === "user" && normalizeKind(req.kind) === APP_SERVER && !c.checker.checkRule(APP_SERVER, "list").allowed) {
        // And apps: the app_server entries whose app the user's app_labels match.
        return { resources: visibleAppServers(c.checker, await listResources(ctx, APP_SERVER)).map(toProto) };
      }
      if (c.kind === "user" && normalizeKind(req.kind) === KUBE_SERVER && !c.checker.checkRule(KUBE_SERVER, "list").allowed) {
        // And Kubernetes clusters: the kube_server entries whose cluster the user's kubernetes_labels match.
        return { resources: visibleKubeServers(c.checker, await listResources(ctx, KUBE_SERVER)).map(toProto) };
      }
      requireRule(c, normalizeKind(req.kind), "list");
      return { resources: (await listResources(ctx, req.kind)).map(toProto) };
    }),

    upsertResource: wrap(async (req, c) => {
      const doc = fromProto(req.resource);
      const kind = String(doc.kind ?? "");
      const heartbeat =
        (c.kind === "host" && kind === "node" && c.systemRoles.includes("node")) ||
        (kind === DB_SERVER && guardDbServerHeartbeat(c, doc)) ||
        (kind === APP_SERVER && guardAppServerHeartbeat(c, doc)) ||
        (kind === KUBE_SERVER && guardKubeServerHeartbeat(c, doc));
      let quiet = heartbeat;
      if (kind === SESSION_TRACKER) {
        quiet = await guardSessionTrackerWrite(ctx, c, doc, req.overwrite ? ["update", "create"] : ["create"]);
      } else if (heartbeat && (kind === DB_SERVER || kind === APP_SERVER || kind === KUBE_SERVER)) {
        // guardDbServerHeartbeat / guardAppServerHeartbeat checked that the entries are this service's own.
      } else if (heartbeat) {
        // Heartbeats: a node writes only its own entry.
        const name = (doc.metadata as { name?: string }).name;
        if (c.kind !== "host" || name !== c.name) throw accessDenied(`host ${callerName(c)} may only register itself`);
      } else {
        requireRule(c, kind, req.overwrite ? "update" : "create");
        if (req.overwrite) requireRule(c, kind, "create");
        await guardGrant(server, c, doc);
      }
      const saved = await upsertResource(ctx, doc, req.overwrite, callerName(c), quiet);
      if (saved.kind === "cluster_auth_preference") {
        ctx.config.secondFactor = (saved.spec as { second_factor: typeof ctx.config.secondFactor }).second_factor;
      }
      return toProto(saved);
    }),

    deleteResource: wrap(async (req, c) => {
      const k = normalizeKind(req.kind);
      if (!isOwnDbServerDelete(c, k, req.name) && !isOwnAppServerDelete(c, k, req.name) && !isOwnKubeServerDelete(c, k, req.name))
        requireRule(c, normalizeKind(req.kind), "delete");
      await deleteResource(ctx, req.kind, req.name, callerName(c));
      return {};
    }),

    watch: async function* (req, hc) {
      let c: Caller;
      try {
        c = await caller(hc);
        for (const k of req.kinds) requireRule(c, k, "list");
      } catch (e) {
        throw toConnectError(e);
      }
      yield* watchResources(ctx, req.kinds, Number(req.fromRevision), hc.signal);
    },

    createUser: wrap(async (req, c) => {
      requireRule(c, "user", "create");
      await guardRoles(server, c, req.roles);
      const r = await createUser(ctx, {
        name: req.name,
        roles: req.roles,
        traits: traitsFromProto(req.traits),
        actor: callerName(c),
      });
      return {
        user: toProto(r.user),
        inviteToken: r.invite.token,
        inviteUrl: r.invite.url,
        expires: r.invite.expires.toISOString(),
      };
    }),

    updateUser: wrap(async (req, c) => {
      requireRule(c, "user", "update");
      if (req.setRoles) await guardRoles(server, c, req.roles);
      const u = await updateUser(ctx, {
        name: req.name,
        ...(req.setRoles ? { roles: req.roles } : {}),
        ...(req.setTraits ? { traits: traitsFromProto(req.traits) } : {}),
        actor: callerName(c),
      });
      return toProto(u);
    }),

    resetUser: wrap(async (req, c) => {
      requireRule(c, "user", "update");
      const invite = await resetUser(ctx, req.name, callerName(c));
      const user = (await ctx.stores.users.get(req.name)) as UserResource;
      return {
        user: toProto(user),
        inviteToken: invite.token,
        inviteUrl: invite.url,
        expires: invite.expires.toISOString(),
      };
    }),

    getInvite: wrap(async (req, c) => {
      requireProxyOrAdmin(c, "read invitations");
      const t = await getUserToken(ctx, req.token);
      const otp = needsOtp(ctx);
      return {
        user: t.user,
        expires: t.expires,
        secondFactor: ctx.config.secondFactor,
        totpSecret: otp ? t.totpSecret : "",
        totpUrl: otp ? t.totpUrl : "",
        totpQrSvg: otp ? t.totpQrSvg : "",
      };
    }),

    completeInvite: wrap(async (req, c) => {
      requireProxyOrAdmin(c, "complete invitations");
      const user = await completeInvite(ctx, { token: req.token, password: req.password, totpCode: req.totpCode });
      return { user };
    }),

    authenticateUser: wrap(async (req, c) => {
      requireProxyOrAdmin(c, "log users in");
      const certs = await authenticateUser(ctx, {
        user: req.user,
        password: req.password,
        otp: req.otp,
        sshPublicKey: req.sshPublicKey,
        tlsPublicKey: req.tlsPublicKey,
        ...(req.ttlSeconds > 0n ? { ttlMs: Number(req.ttlSeconds) * 1000 } : {}),
        clientAddr: req.clientAddr,
      });
      return certsToProto(certs);
    }),

    generateUserCerts: wrap(async (req, c) => {
      requireAuthenticated(c);
      let target: UserResource;
      let ttl = ttlMs(req.ttlSeconds);
      if (c.kind === "admin") {
        if (!req.user) throw badParameter("name the user to sign for (--user)");
        target = (await ctx.stores.users.get(req.user)) as UserResource;
      } else if (c.kind === "user" && (!req.user || req.user === c.name)) {
        target = c.user;
        // Renewal never outlives the certificate it renews.
        const left = c.identity.expires.getTime() - ctx.clock.now().getTime();
        ttl = Math.min(ttl ?? left, left);
      } else {
        throw accessDenied("only an administrator may sign certificates for another user");
      }
      // jsh db login: the route goes into the certificate only if the target's roles allow it.
      const checker = c.kind === "user" ? c.checker : await checkerFor(ctx, target);
      const routeToDatabase = await databaseRouteFor(ctx, checker, req.routeToDatabase);
      // jsh apps login: the same for an app (app_labels).
      const appName = req.routeToApp?.name ?? "";
      if (appName !== "" && routeToDatabase) throw badParameter("a certificate routes to a database or to an app, not both");
      const routeToApp = appName !== "" ? (await appRouteFor(ctx, checker, appName)).route : undefined;
      // jsh kube login: the cluster, if the roles allow it with some Kubernetes user or group.
      const kubernetesCluster = req.kubernetesCluster !== "" ? await kubeClusterFor(ctx, checker, req.kubernetesCluster) : undefined;
      if (kubernetesCluster && (routeToApp || routeToDatabase)) throw badParameter("a certificate routes to one database, app or Kubernetes cluster");
      const certs = await issueUserCerts(ctx, target, req, ttl, {
        ...(routeToDatabase ? { routeToDatabase } : {}),
        ...(routeToApp ? { routeToApp } : {}),
        ...(kubernetesCluster ? { kubernetesCluster } : {}),
      });
      return certsToProto(certs);
    }),

    generateHostCerts: wrap(async (req, c) => {
      requireAuthenticated(c);
      if (!(c.kind === "admin" || (c.kind === "host" && c.name === req.hostId))) {
        throw accessDenied("only an administrator or the host itself may sign host certificates");
      }
      const role = req.role || "node";
      if (c.kind === "host" && !c.systemRoles.includes(role)) throw accessDenied(`host may not take the ${role} role`);
      const certs = await issueHostCerts(ctx, {
        hostId: req.hostId,
        nodeName: req.nodeName || req.hostId,
        role,
        principals: req.principals,
        dnsNames: req.dnsNames,
        sshPublicKey: req.sshPublicKey,
        tlsPublicKey: req.tlsPublicKey,
        ...(req.ttlSeconds > 0n ? { ttlMs: Number(req.ttlSeconds) * 1000 } : {}),
      });
      return certsToProto(certs);
    }),

    registerUsingToken: wrap(async (req, c) => {
      const remoteAddr = c.kind === "host" && req.remoteAddr ? req.remoteAddr : c.kind === "anonymous" ? c.addr : req.remoteAddr;
      const certs = await registerUsingToken(ctx, {
        token: req.token,
        hostId: req.hostId,
        nodeName: req.nodeName || req.hostId,
        role: req.role,
        principals: req.principals,
        dnsNames: req.dnsNames,
        sshPublicKey: req.sshPublicKey,
        tlsPublicKey: req.tlsPublicKey,
        remoteAddr,
      });
      return certsToProto(certs);
    }),

    createToken: wrap(async (req, c) => {
      requireRule(c, "token", "create");
      const t = await createToken(ctx, {
        roles: req.roles,
        ...(req.ttlSeconds > 0n ? { ttlMs: Number(req.ttlSeconds) * 1000 } : {}),
        ...(req.name ? { name: req.name } : {}),
        actor: callerName(c),
      });
      return toProto(t as StoredResource);
    }),

    exportAuthorities: wrap(async (req) => {
      const type = (req.type || "user") as CaType;
      if (!CA_TYPES.includes(type)) throw badParameter(`unknown authority type "${req.type}"`);
      const ca = ctx.authorities.get(type);
      return {
        sshPublicKeys: ca.sshPublicKeys,
        tlsCerts: type === "jwt" ? ca.jwtPublicKeys : ca.tlsCerts,
        clusterName: server.clusterName,
      };
    }),

    emitAuditEvent: wrap(async (req, c) => {
      if (req.events.length === 0) await emitAgentEvent(ctx, c, req.event);
      else {
        if (req.events.length > MAX_AUDIT_BATCH) throw badParameter(`at most ${MAX_AUDIT_BATCH} audit events per call`);
        // Concurrent, as separate calls would be: the audit log commits them together.
        await Promise.all(req.events.map((e) => emitAgentEvent(ctx, c, e)));
      }
      return {};
    }),

    uploadRecordingPart: wrap(async (req, c) => ({ size: BigInt(uploadRecordingPart(ctx, c, req)) })),

    listRecordings: wrap(async (req, c) => {
      requireAuthenticated(c);
      const from = req.from ? new Date(req.from).getTime() : 0;
      const to = req.to ? new Date(req.to).getTime() : Number.POSITIVE_INFINITY;
      const list = ctx.recordings
        .list()
        .filter((r) => r.updated.getTime() >= from && r.updated.getTime() <= to && canReadRecording(c, r.metadata))
        .sort((a, b) => b.updated.getTime() - a.updated.getTime())
        .slice(0, req.limit > 0 ? req.limit : 1000);
      return {
        recordings: list.map((r) => ({
          sessionId: r.sessionId,
          metadata: toJsonObject(r.metadata),
          size: BigInt(r.size),
          complete: r.complete,
        })),
      };
    }),

    getRecording: async function* (req, hc) {
      let chunks: Generator<Buffer>;
      try {
        const c = await caller(hc);
        requireAuthenticated(c);
        const info = ctx.recordings.info(req.sessionId);
        if (!canReadRecording(c, info.metadata)) throw accessDenied(`access denied: you may not read recording ${req.sessionId}`);
        chunks = ctx.recordings.read(req.sessionId);
      } catch (e) {
        throw toConnectError(e);
      }
      for (const data of chunks) yield { data };
    },

    createWebSession: wrap((req, c) => createWebSessionRpc(ctx, c, req)),
    authenticateWebSession: wrap((req, c) => authenticateWebSessionRpc(ctx, c, req)),
    deleteWebSession: wrap((req, c) => deleteWebSessionRpc(ctx, c, req)),

    generateForwardingUserCert: wrap((req, c) => generateForwardingUserCert(ctx, c, req)),
    generateForwardingHostCert: wrap((req, c) => generateForwardingHostCert(ctx, c, req)),
    // A message, not a plain object: the fast unary path (server.ts FAST_METHODS) encodes it as it is.
    generateDatabaseCert: wrap(async (req, c) => create(DatabaseCertSchema, await generateDatabaseCert(ctx, c, req))),

    createAppSession: wrap((req, c) => createAppSessionRpc(ctx, c, req)),
    authenticateAppSession: wrap((req, c) => authenticateAppSessionRpc(ctx, c, req)),
    deleteAppSession: wrap((req, c) => deleteAppSessionRpc(ctx, c, req)),
    generateAppToken: wrap((req, c) => generateAppTokenRpc(ctx, c, req)),

    searchEvents: wrap(async (req, c) => {
      requireRule(c, "event", "list");
      const to = req.to ? new Date(req.to) : ctx.clock.now();
      const from = req.from ? new Date(req.from) : new Date(to.getTime() - 3600_000);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw badParameter("bad time range");
      const r = await ctx.audit.search({
        from,
        to,
        ...(req.types.length ? { types: req.types } : {}),
        ...(req.user ? { user: req.user } : {}),
        limit: req.limit > 0 ? Math.min(req.limit, 10_000) : 500,
        order: req.order === "asc" ? "asc" : "desc",
        ...(req.startKey ? { startKey: req.startKey } : {}),
      });
      return { events: r.events.map((e) => toJsonObject(e)), nextKey: r.nextKey ?? "" };
    }),
  };
}
