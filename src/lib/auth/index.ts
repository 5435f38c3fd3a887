export { startAuthApi, type AuthApiServer, type AuthApiTls } from "./api/server.ts";
export { type CaType, CA_TYPES } from "./authorities.ts";
export { type IssuedCerts, issueHostCerts, issueUserCerts } from "./certs.ts";
export type { AuthConfig, AuthContext } from "./context.ts";
export { createToken } from "./join.ts";
export { AuthServer } from "./server.ts";
export { createUser, resetUser, type UserResource } from "./users.ts";
export { totpCode } from "./totp.ts";
export { checkRole, validateResource } from "./validate.ts";
