import type { Logger } from "pino";
import type { Clock } from "../../api/clock.ts";
import { isJumpgateError } from "../../api/errors.ts";
import type { Backend } from "../backend/index.ts";
import type { AuditLog } from "../events/index.ts";
import { presetRoles } from "../rbac/index.ts";
import { Authorities, CA_TYPES, caFingerprints } from "./authorities.ts";
import { type AuthConfig, type AuthContext, makeStores } from "./context.ts";
import { RecordingStore } from "./recordings.ts";
import { validateResource } from "./validate.ts";

/**
 * The Auth Service's state: CAs, stores and config. The operations live in
 * users.ts, login.ts, certs.ts, join.ts and resources.ts and take this context;
 * the API layer (api/) decides who may call which.
 */
export class AuthServer {
  private constructor(readonly ctx: AuthContext) {}

  static async create(deps: { backend: Backend; audit: AuditLog; clock: Clock; log: Logger; config: AuthConfig }): Promise<AuthServer> {
    const stores = makeStores(deps.backend);
    const config = { ...deps.config };
    // The cluster name is fixed at first start: certificates and CAs carry it.
    const existing = await stores.clusterConfig.find("cluster_name");
    if (existing) {
      config.clusterName = (existing.spec as { cluster_name: string }).cluster_name;
    } else {
      const doc = validateResource({
        kind: "cluster_name",
        version: "v2",
        metadata: { name: "cluster_name" },
        spec: { cluster_name: config.clusterName, cluster_id: crypto.randomUUID() },
      });
      await stores.clusterConfig.create(doc).catch((e: unknown) => {
        if (!isJumpgateError(e, "already-exists")) throw e;
      });
    }
    await stores.clusterConfig.upsert(
      validateResource({
        kind: "cluster_auth_preference",
        version: "v2",
        metadata: { name: "cluster_auth_preference" },
        spec: {
          type: "local",
          second_factor: config.secondFactor,
          lockout: { max_attempts: config.lockout.maxAttempts, lockout_duration: `${Math.round(config.lockout.lockoutMs / 1000)}s` },
        },
      }),
    );
    // Like the auth preference, the config file's recording mode applies at each start.
    await stores.clusterConfig.upsert(
      validateResource({
        kind: "session_recording_config",
        version: "v2",
        metadata: { name: "session_recording_config" },
        spec: { mode: config.sessionRecording ?? "node" },
      }),
    );
    for (const role of presetRoles()) {
      if (!(await stores.roles.find(role.metadata.name))) {
        await stores.roles.create(validateResource(role)).catch((e: unknown) => {
          if (!isJumpgateError(e, "already-exists")) throw e;
        });
      }
    }
    const authorities = new Authorities(stores.cas, config.clusterName, deps.clock);
    await authorities.init();
    const recordings = new RecordingStore(config.recordingsDir);
    return new AuthServer({ ...deps, config, stores, authorities, recordings });
  }

  get clusterName(): string {
    return this.ctx.config.clusterName;
  }

  /** Second factor from the stored preference (an admin may have changed it). */
  async secondFactor(): Promise<AuthConfig["secondFactor"]> {
    const cap = await this.ctx.stores.clusterConfig.find("cluster_auth_preference");
    const sf = (cap?.spec as { second_factor?: AuthConfig["secondFactor"] } | undefined)?.second_factor;
    return sf ?? this.ctx.config.secondFactor;
  }

  status() {
    return {
      clusterName: this.clusterName,
      version: this.ctx.config.version,
      authorities: CA_TYPES.map((t) => ({ type: t, ...caFingerprints(this.ctx.authorities.get(t)) })),
    };
  }
}
