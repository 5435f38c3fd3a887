/**
 * The shared "proxied HTTP session" core: one HTTP/1.1 request (or upgrade)
 * forwarded to an upstream reached by TCP or a tunnel's dial function, bodies
 * streamed with backpressure. Application and Kubernetes access both build on it.
 */
export { isUpstreamError, toUpstreamError, UpstreamError, type UpstreamErrorCode } from "./errors.ts";
export { type ForwardOutcome, type ForwardRequestOptions, HttpForwarder, sendUpstreamError } from "./forward.ts";
export { connectionTokens, type HeaderEdits, HeaderList, type HeaderPair, HOP_BY_HOP, isSafeHeaderValue, isValidHeaderName, stripHopByHop } from "./headers.ts";
export { errorPage, sendErrorPage } from "./page.ts";
export { type LocationRewriteOptions, locationRewriter } from "./redirect.ts";
export { StreamSocket } from "./socket.ts";
export type { DialFn, UpstreamOptions, UpstreamTls } from "./upstream.ts";
