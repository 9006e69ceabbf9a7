/**
 * The context keys of in-process clusters (the simulator, the memory cluster): one fixed key, so
 * every node of a cluster seals and opens the contexts of the others, as real nodes sharing
 * --context-keys-file do.
 */
import { ContextSeal } from '../../app/versioning/context-seal';

export const TEST_CONTEXT_KEY = Buffer.alloc(32, 0x5a);
export const TEST_CONTEXT_SEAL = new ContextSeal([TEST_CONTEXT_KEY]);
