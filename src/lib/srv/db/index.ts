/** The Database Service (DESIGN §6): the shared session core and its protocol engines. */
export type { DatabaseTarget, DbEngine, DbIdentity, DbProtocol, DbSessionContext } from "./engine.ts";
export { defaultEngines } from "./engines.ts";
export { DatabaseService, type DatabaseServiceOptions, readHeader } from "./service.ts";
export { type DbConfigEntry, databaseTargetFromConfig, databaseTargetFromResource } from "./targets.ts";
