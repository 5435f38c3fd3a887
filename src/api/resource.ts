/** What every stored resource looks like on the wire (DESIGN §8). */
export interface StoredResource {
  kind: string;
  version: string;
  sub_kind?: string;
  metadata: {
    name: string;
    description?: string;
    labels?: Record<string, string>;
    expires?: string;
    revision?: number;
  };
  spec?: unknown;
}
