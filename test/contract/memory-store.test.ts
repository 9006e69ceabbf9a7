import { describeLocalStoreContract } from './local-store.contract';
import { MemoryStore } from '../../app/storage/memory-store';

describeLocalStoreContract(
  'MemoryStore',
  async (options) => {
    const store = new MemoryStore(options);
    return {
      store,
      corrupt: async (partition, key) => {
        // Flip the last payload byte: the checksum no longer matches.
        store.mutateFrameForTest(partition, key, (frame) => {
          frame[frame.length - 1] ^= 0x01;
        });
      },
      cleanup: () => store.close(),
    };
  },
  { reopen: false, corrupt: true },
);
