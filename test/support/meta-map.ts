/** A StateStore in memory: the store metadata a node keeps its cluster state in. */
import { StateStore } from '../../app/membership/membership';

export class MetaMap implements StateStore {
  readonly values = new Map<string, string>();
  async getMeta(name: string): Promise<string | undefined> {
    return this.values.get(name);
  }
  async setMeta(name: string, value: string): Promise<void> {
    this.values.set(name, value);
  }
}
