/** The DNS name every Auth Service certificate carries, so clients verify Auth by it whatever address they dial. */
export const AUTH_SERVER_NAME = "auth.jumpgate.cluster.local";
/** ALPN protocols on the proxy's one port (DESIGN §5). */
export const ALPN = {
  http1: "http/1.1",
  h2: "h2",
  ssh: "jumpgate-ssh",
  reverseTunnel: "jumpgate-reversetunnel",
  auth: "jumpgate-auth",
  postgres: "jumpgate-postgres",
  mysql: "jumpgate-mysql",
  tcp: "jumpgate-tcp",
} as const;
export const VERSION = "0.1.0";
