/** The MySQL engine of the Database Service, and its codec for tests and tools. */

export {
  ClientFramer,
  framePacket,
  type MysqlPacket,
  PacketScanner,
} from "./codec.ts";
export { MysqlProtocolError, MysqlServerError } from "./errors.ts";
export { DEFAULT_SERVER_VERSION, mysqlEngine } from "./server.ts";
