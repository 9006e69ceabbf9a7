/** The KvClientError an operation failed with; any other failure, or success, fails the test. */
import { KvClientError } from '../../app/client/client';

export async function rejection(p: Promise<unknown>): Promise<KvClientError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KvClientError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}
