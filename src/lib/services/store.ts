import { alreadyExists, badParameter, isJumpgateError, notFound } from "../../api/errors.ts";
import type { StoredResource } from "../../api/resource.ts";
import type { Backend, Item } from "../backend/index.ts";

export type { StoredResource };

/**
 * Keeps resources of one kind under one key prefix. It never validates: callers
 * hand it resources that went through the schema in src/api/resources.
 */
export class ResourceStore<T extends StoredResource> {
  constructor(
    private readonly backend: Backend,
    readonly prefix: string,
    private readonly kindLabel: string,
  ) {
    if (!prefix.startsWith("/") || prefix.endsWith("/")) throw badParameter(`bad store prefix ${prefix}`);
  }

  key(name: string): string {
    if (name === "" || name.includes("/") || name.length > 253) {
      throw badParameter(`${this.kindLabel} name "${name}" is not valid`);
    }
    return `${this.prefix}/${name}`;
  }

  decode(item: Item): T {
    const res = JSON.parse(item.value.toString("utf8")) as T;
    res.metadata.revision = item.revision;
    return res;
  }

  private input(res: T) {
    const copy = structuredClone(res);
    delete copy.metadata.revision;
    const expires = copy.metadata.expires ? new Date(copy.metadata.expires) : undefined;
    return { key: this.key(res.metadata.name), value: Buffer.from(JSON.stringify(copy)), expires };
  }

  async get(name: string): Promise<T> {
    const item = await this.backend.get(this.key(name));
    if (!item) throw notFound(`${this.kindLabel} "${name}" not found`);
    return this.decode(item);
  }

  async find(name: string): Promise<T | undefined> {
    const item = await this.backend.get(this.key(name));
    return item ? this.decode(item) : undefined;
  }

  async list(): Promise<T[]> {
    const items = await this.backend.getRange({ prefix: `${this.prefix}/` });
    return items.map((i) => this.decode(i));
  }

  async create(res: T): Promise<T> {
    try {
      return this.decode(await this.backend.create(this.input(res)));
    } catch (e) {
      if (isJumpgateError(e, "already-exists")) {
        throw alreadyExists(`${this.kindLabel} "${res.metadata.name}" already exists`);
      }
      throw e;
    }
  }

  async upsert(res: T): Promise<T> {
    return this.decode(await this.backend.put(this.input(res)));
  }

  async update(res: T): Promise<T> {
    try {
      return this.decode(await this.backend.update(this.input(res)));
    } catch (e) {
      if (isJumpgateError(e, "not-found")) throw notFound(`${this.kindLabel} "${res.metadata.name}" not found`);
      throw e;
    }
  }

  /** Writes only if nobody changed the resource since `expectedRevision`. */
  async swap(res: T, expectedRevision: number): Promise<T> {
    const input = this.input(res);
    return this.decode(await this.backend.compareAndSwap({ key: input.key, revision: expectedRevision }, input));
  }

  async delete(name: string): Promise<void> {
    try {
      await this.backend.delete(this.key(name));
    } catch (e) {
      if (isJumpgateError(e, "not-found")) throw notFound(`${this.kindLabel} "${name}" not found`);
      throw e;
    }
  }
}

/** A store of internal JSON records (not user-visible resources), e.g. password hashes. */
export class RecordStore<T> {
  constructor(
    private readonly backend: Backend,
    readonly prefix: string,
  ) {}

  private key(name: string): string {
    if (name === "" || name.includes("/")) throw badParameter(`bad record name "${name}"`);
    return `${this.prefix}/${name}`;
  }

  async get(name: string): Promise<{ value: T; revision: number } | undefined> {
    const item = await this.backend.get(this.key(name));
    return item ? { value: JSON.parse(item.value.toString("utf8")) as T, revision: item.revision } : undefined;
  }

  async put(name: string, value: T, expires?: Date): Promise<number> {
    const item = await this.backend.put({ key: this.key(name), value: Buffer.from(JSON.stringify(value)), expires });
    return item.revision;
  }

  async create(name: string, value: T, expires?: Date): Promise<number> {
    const item = await this.backend.create({ key: this.key(name), value: Buffer.from(JSON.stringify(value)), expires });
    return item.revision;
  }

  /** Compare-and-swap on the revision read earlier; kind "compare-failed" if it moved. */
  async swap(name: string, expectedRevision: number, value: T, expires?: Date): Promise<number> {
    const key = this.key(name);
    const item = await this.backend.compareAndSwap({ key, revision: expectedRevision }, { key, value: Buffer.from(JSON.stringify(value)), expires });
    return item.revision;
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.backend.delete(this.key(name));
      return true;
    } catch (e) {
      if (isJumpgateError(e, "not-found")) return false;
      throw e;
    }
  }

  async list(): Promise<{ name: string; value: T }[]> {
    const items = await this.backend.getRange({ prefix: `${this.prefix}/` });
    return items.map((i) => ({
      name: i.key.slice(this.prefix.length + 1),
      value: JSON.parse(i.value.toString("utf8")) as T,
    }));
  }
}
