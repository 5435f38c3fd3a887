import * as OTPAuth from "otpauth";
import QRCode from "qrcode";
import type { Clock } from "../../api/clock.ts";

const PERIOD = 30;

export interface TotpEnrollment {
  secret: string;
  url: string;
  qrSvg: string;
}

export async function newTotpEnrollment(issuer: string, account: string): Promise<TotpEnrollment> {
  const secret = new OTPAuth.Secret({ size: 20 });
  const totp = new OTPAuth.TOTP({ issuer, label: account, algorithm: "SHA1", digits: 6, period: PERIOD, secret });
  const url = totp.toString();
  const qrSvg = await QRCode.toString(url, { type: "svg", margin: 1 });
  return { secret: secret.base32, url, qrSvg };
}

function totpFor(secret: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ algorithm: "SHA1", digits: 6, period: PERIOD, secret: OTPAuth.Secret.fromBase32(secret) });
}

export function totpCode(secret: string, at: Date): string {
  return totpFor(secret).generate({ timestamp: at.getTime() });
}

/**
 * Checks a code within one period either side and returns the time-step counter
 * it matched, so the caller can refuse a reused code (RFC 6238 §5.2).
 */
export function verifyTotp(secret: string, code: string, clock: Clock): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const now = clock.now().getTime();
  const delta = totpFor(secret).validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / PERIOD) + delta;
}
