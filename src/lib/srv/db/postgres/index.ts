/** The PostgreSQL engine of the Database Service, and its codec for tests and tools. */

export { cancelKeyCount } from "./cancel.ts";
export {
  BackendFramer,
  BackendReader,
  decodeStartupPacket,
  FrontendReader,
  type PgMessage,
  type StartupPacket,
} from "./codec.ts";
export { PgProtocolError, PgServerError } from "./errors.ts";
export { postgresEngine } from "./server.ts";
