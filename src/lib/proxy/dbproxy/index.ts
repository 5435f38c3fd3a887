/** The proxy's database routes (DESIGN §5): Postgres at the public port and the `jumpgate-postgres` / `jumpgate-mysql` ALPN routes. */

export { type PgPreTlsStep, PLAINTEXT_REFUSAL, pgPreTlsStep } from "./pgfront.ts";
export { DbProxy, type DbProxyOptions, type DbRefusal, type DbServerRoute, type DbWireProtocol } from "./server.ts";
