/**
 * An immutable map from string ids to values, for the id sets a credit account remembers forever
 * (settled reservations, adjustments, used-up grants) so that redelivered commands stay idempotent.
 *
 * Why not a copied `Map`: `evolve` returns a new state per event, and copying an n-entry map per event
 * makes replaying a stream of n events O(n^2): a million-request account would never finish
 * `access ledger rebuild`. This is a two-level, 64-way trie over a 32-bit hash of the key: `set` and
 * `delete` copy two 64-slot arrays and one small leaf, so a replay stays close to linear.
 * Iteration order is unspecified; callers that need an order sort.
 */
const FANOUT = 64;
const SLOT_MASK = FANOUT - 1;
const SLOT_BITS = 6;

type Leaf<V> = ReadonlyMap<string, V>;
type Inner<V> = readonly (Leaf<V> | undefined)[];

function emptySlots<T>(): (T | undefined)[] {
  return new Array<T | undefined>(FANOUT).fill(undefined);
}

/** FNV-1a, 32 bit: cheap and spreads the short ids used here well. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Up to this many entries are kept as one sorted array instead of the trie: most accounts have a handful of open
 * reservations, and the decider reads them on every command, so small maps must be cheap to scan and to copy.
 * The representation depends on the size alone (and the array is sorted), so equal contents stay equal structures.
 */
const SMALL_MAX = 16;

type Entry<V> = readonly [string, V];

export class IdMap<V> {
  private constructor(
    /** The trie, or null while the map is small. */
    private readonly root: readonly (Inner<V> | undefined)[] | null,
    /** The entries sorted by key while the map is small, else null. */
    private readonly small: readonly Entry<V>[] | null,
    readonly size: number,
  ) {}

  static empty<V>(): IdMap<V> {
    return new IdMap<V>(null, [], 0);
  }

  static of<V>(entries: Iterable<readonly [string, V]>): IdMap<V> {
    let map = IdMap.empty<V>();
    for (const [key, value] of entries) map = map.set(key, value);
    return map;
  }

  get(key: string): V | undefined {
    if (this.small !== null) {
      for (const entry of this.small) if (entry[0] === key) return entry[1];
      return undefined;
    }
    const h = hash(key);
    return this.root![h & SLOT_MASK]?.[(h >>> SLOT_BITS) & SLOT_MASK]?.get(key);
  }

  has(key: string): boolean {
    if (this.small !== null) return this.small.some((entry) => entry[0] === key);
    const h = hash(key);
    return this.root![h & SLOT_MASK]?.[(h >>> SLOT_BITS) & SLOT_MASK]?.has(key) ?? false;
  }

  set(key: string, value: V): IdMap<V> {
    if (this.small !== null) {
      const entries = this.small.slice();
      let i = 0;
      while (i < entries.length && entries[i]![0] < key) i++;
      if (i < entries.length && entries[i]![0] === key) entries[i] = [key, value];
      else entries.splice(i, 0, [key, value]);
      return entries.length <= SMALL_MAX ? new IdMap<V>(null, entries, entries.length) : IdMap.trieOf(entries);
    }
    return this.withLeaf(key, (leaf) => {
      const next = new Map(leaf);
      next.set(key, value);
      return next;
    });
  }

  delete(key: string): IdMap<V> {
    if (!this.has(key)) return this;
    if (this.small !== null) {
      const entries = this.small.filter((entry) => entry[0] !== key);
      return new IdMap<V>(null, entries, entries.length);
    }
    const next = this.withLeaf(key, (leaf) => {
      const changed = new Map(leaf);
      changed.delete(key);
      return changed;
    });
    if (next.size > SMALL_MAX) return next;
    const entries = next.entries().sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new IdMap<V>(null, entries, entries.length);
  }

  /**
   * The values, as an array. Not a generator: the decider scans the open reservations on every command, and a
   * plain loop over the occupied slots is several times cheaper than a generator over all of them.
   */
  values(): V[] {
    if (this.small !== null) return this.small.map((entry) => entry[1]);
    const out: V[] = [];
    for (const inner of this.root!) {
      if (inner === undefined) continue;
      for (const leaf of inner) if (leaf !== undefined) for (const value of leaf.values()) out.push(value);
    }
    return out;
  }

  entries(): [string, V][] {
    if (this.small !== null) return this.small.map((entry) => [entry[0], entry[1]]);
    const out: [string, V][] = [];
    for (const inner of this.root!) {
      if (inner === undefined) continue;
      for (const leaf of inner) if (leaf !== undefined) for (const entry of leaf.entries()) out.push(entry);
    }
    return out;
  }

  private static trieOf<V>(entries: readonly Entry<V>[]): IdMap<V> {
    let map = new IdMap<V>(emptySlots<Inner<V>>(), null, 0);
    for (const [key, value] of entries) {
      map = map.withLeaf(key, (leaf) => {
        const next = new Map(leaf);
        next.set(key, value);
        return next;
      });
    }
    return map;
  }

  private withLeaf(key: string, change: (leaf: Leaf<V>) => Map<string, V>): IdMap<V> {
    const root = this.root!;
    const h = hash(key);
    const i = h & SLOT_MASK;
    const j = (h >>> SLOT_BITS) & SLOT_MASK;
    const inner = root[i] ?? emptySlots<Leaf<V>>();
    const leaf = inner[j] ?? new Map<string, V>();
    const nextLeaf = change(leaf);
    const nextInner = inner.slice();
    // An emptied leaf is dropped so that equal contents always have equal structure.
    nextInner[j] = nextLeaf.size === 0 ? undefined : nextLeaf;
    const nextRoot = root.slice();
    nextRoot[i] = nextInner.every((slot) => slot === undefined) ? undefined : nextInner;
    return new IdMap(nextRoot, null, this.size - leaf.size + nextLeaf.size);
  }
}
