export { RecordStore, ResourceStore, type StoredResource } from "./store.ts";
