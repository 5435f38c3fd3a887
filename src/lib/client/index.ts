export { type AuthClient, type AuthClientOptions, type ClientTlsIdentity, createAuthClient } from "../../api/authclient.ts";
