/** The PROXY protocol v1/v2 codec: pure parsing and encoding, no sockets. */
export {
  type Endpoint,
  encodeV1,
  encodeV2,
  type ParseResult,
  type ProxyHeader,
  parseProxyHeader,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
  V2_SIGNATURE,
} from "./codec.ts";
