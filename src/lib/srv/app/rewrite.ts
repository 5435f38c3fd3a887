/**
 * What the service changes in each request to an app: the signed identity,
 * the app-session cookie removed, and the app's `rewrite.headers` with trait
 * templates expanded for the user. Pure functions over a header list.
 */
import { APP_JWT_HEADER } from "../../../api/appwire.ts";
import type { HeaderList } from "../../httpfwd/index.ts";
import { expandTemplate } from "../../rbac/index.ts";
import { stripSessionCookie } from "./codec.ts";

/** A rewrite header for one user: a value to set, or undefined to drop the header. */
export interface ExpandedHeader {
  name: string;
  value: string | undefined;
}

/**
 * Expands `{{internal.logins}}`, `{{external.groups}}`, … in header values
 * with the user's traits. Several values are joined with ", "; a template that
 * expands to nothing (a missing trait, an invalid template) drops the header,
 * so a client cannot supply it instead.
 */
export function expandRewriteHeaders(
  headers: readonly { name: string; value: string }[],
  traits: Readonly<Record<string, readonly string[]>>,
): ExpandedHeader[] {
  return headers.map((h) => {
    const { values } = expandTemplate(h.value, traits);
    return { name: h.name, value: values.length > 0 ? values.join(", ") : undefined };
  });
}

/** Applies the service's edits to a request's headers (after the forwarder's own). */
export function editRequestHeaders(h: HeaderList, token: string, rewrite: readonly ExpandedHeader[]): void {
  const cookies = h.getAll("cookie");
  if (cookies.length > 0) {
    h.delete("cookie");
    const kept = stripSessionCookie(cookies.join("; "));
    if (kept !== undefined) h.set("Cookie", kept);
  }
  for (const r of rewrite) {
    h.delete(r.name);
    if (r.value !== undefined) h.set(r.name, r.value);
  }
  // Last, so nothing above can replace it; `set` drops every value a client sent.
  h.set(APP_JWT_HEADER, token);
}
