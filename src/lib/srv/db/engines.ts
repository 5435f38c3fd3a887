import type { DbEngine, DbProtocol } from "./engine.ts";
import { mysqlEngine } from "./mysql/index.ts";
import { postgresEngine } from "./postgres/index.ts";

/** The protocol engines this build has (srv/db/postgres, srv/db/mysql). */
export function defaultEngines(): Partial<Record<DbProtocol, DbEngine>> {
  return { postgres: postgresEngine, mysql: mysqlEngine };
}
