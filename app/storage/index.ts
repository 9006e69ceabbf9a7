export * from './local-store';
export { LmdbStore, MAP_SIZE_BYTES_DEFAULT } from './lmdb-store';
export type { LmdbStoreOptions } from './lmdb-store';
export { MemoryStore } from './memory-store';
