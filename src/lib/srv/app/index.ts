/** The Application Service (DESIGN §6): HTTP and TCP apps behind the proxy, reached through reverse-tunnel streams. */

export { clientIp, readAppHeader, requestPath, stripSessionCookie } from "./codec.ts";
export { type ExpandedHeader, editRequestHeaders, expandRewriteHeaders } from "./rewrite.ts";
export { ApplicationService, type ApplicationServiceOptions } from "./server.ts";
export { type AppConfigEntry, type AppTarget, appFromConfig, appTargetFromResource, type DynamicLabel, publicApp } from "./targets.ts";
export { type AppToken, AppTokenCache, type AppTokenRequest, type AppTokenSource } from "./tokens.ts";
