/**
 * The contract between the Database Service and its protocol engines
 * (srv/db/postgres, srv/db/mysql). The service has already verified the
 * user's certificate (user CA, expiry, locks) and knows which configured
 * database the connection is for; the engine speaks the wire protocol:
 * it reads the client's startup, asks `authorize` for the database user and
 * name the client asked for, refuses with a protocol-level error the client
 * prints, or connects to the server with the service's credentials and
 * relays, auditing what it parses.
 */
import type { Duplex } from "node:stream";
import type { Logger } from "pino";

export type DbProtocol = "postgres" | "mysql";

/** A database as the service is configured with it (or registered dynamically). */
export interface DatabaseTarget {
  name: string;
  protocol: DbProtocol;
  /** host:port of the real server. */
  uri: string;
  labels: Record<string, string>;
  /** TLS towards the server; undefined: plaintext (loopback test servers only). */
  tls?: { mode: "verify-full" | "verify-ca" | "insecure"; caCerts?: string[]; serverName?: string };
  /** How the service logs in to the server. */
  auth: /** Client certificate signed by the cluster's db CA, issued per connection for the database user. */
    | { kind: "cert" }
    /** A fixed server account whose password the service reads from a file or environment variable. */
    | { kind: "password"; user: string; password: string };
  /** Per-database switch for `db.session.query` events (default true). */
  auditQueries: boolean;
}

/** Who is connecting, from the verified client certificate. */
export interface DbIdentity {
  user: string;
  roles: string[];
  traits: Record<string, string[]>;
  /** What the certificate was issued for (`jsh db login NAME --db-user U --db-name N`). */
  route: { serviceName: string; protocol: string; username: string; database: string };
  expires: Date;
}

export interface DbSessionContext {
  /** UUID of this database session (audit events carry it as `sid`). */
  sessionId: string;
  identity: DbIdentity;
  database: DatabaseTarget;
  /** The client's address as the proxy saw it. */
  clientAddr: string;
  /** Name of the Database Service (its node name), for audit. */
  serviceName: string;
  log: Logger;
  /**
   * RBAC for the database user and name the client asked for (db_labels,
   * db_users, db_names, deny rules, templates), and that they match the
   * certificate's route when it names them. Throws an `access-denied`
   * JumpgateError whose message is the one line to show the client.
   */
  authorize(dbUser: string, dbName: string): Promise<void>;
  /** A client certificate for `dbUser` signed by the db CA, for `auth.kind === "cert"`. */
  serverCredentials(dbUser: string): Promise<{ cert: string; key: string; cas: string[] }>;
  /** Audit events (`db.session.start`, `db.session.query`, `db.session.end`); never throws, never blocks on Auth. */
  emit(event: Record<string, unknown>): void;
}

/** One protocol. `handle` resolves when the session is over (both sides closed); it never throws. */
export interface DbEngine {
  readonly protocol: DbProtocol;
  handle(client: Duplex, ctx: DbSessionContext): Promise<void>;
}
