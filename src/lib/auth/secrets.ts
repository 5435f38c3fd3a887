import type { LoginState } from "./lockout.ts";

/** Per-user secrets, kept apart from the user resource so they never leave Auth. */
export interface UserSecrets {
  passwordHash?: string;
  totpSecret?: string;
  /** Highest TOTP time step accepted, so a code is never accepted twice. */
  lastTotpStep?: number;
  login: LoginState;
}

/** A one-time invitation or reset: the holder sets a password and enrolls TOTP. */
export interface UserToken {
  user: string;
  kind: "invite" | "reset";
  created: string;
  expires: string;
  totpSecret: string;
  totpUrl: string;
  totpQrSvg: string;
}
