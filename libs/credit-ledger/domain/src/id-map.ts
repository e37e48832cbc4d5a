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

export class IdMap<V> {
  private constructor(
    private readonly root: readonly (Inner<V> | undefined)[],
    readonly size: number,
  ) {}

  static empty<V>(): IdMap<V> {
    return new IdMap<V>(emptySlots<Inner<V>>(), 0);
  }

  static of<V>(entries: Iterable<readonly [string, V]>): IdMap<V> {
    let map = IdMap.empty<V>();
    for (const [key, value] of entries) map = map.set(key, value);
    return map;
  }

  get(key: string): V | undefined {
    const h = hash(key);
    return this.root[h & SLOT_MASK]?.[(h >>> SLOT_BITS) & SLOT_MASK]?.get(key);
  }

  has(key: string): boolean {
    const h = hash(key);
    return this.root[h & SLOT_MASK]?.[(h >>> SLOT_BITS) & SLOT_MASK]?.has(key) ?? false;
  }

  set(key: string, value: V): IdMap<V> {
    return this.withLeaf(key, (leaf) => {
      const next = new Map(leaf);
      next.set(key, value);
      return next;
    });
  }

  delete(key: string): IdMap<V> {
    if (!this.has(key)) return this;
    return this.withLeaf(key, (leaf) => {
      const next = new Map(leaf);
      next.delete(key);
      return next;
    });
  }

  *values(): IterableIterator<V> {
    for (const inner of this.root) {
      if (inner === undefined) continue;
      for (const leaf of inner) if (leaf !== undefined) yield* leaf.values();
    }
  }

  *entries(): IterableIterator<[string, V]> {
    for (const inner of this.root) {
      if (inner === undefined) continue;
      for (const leaf of inner) if (leaf !== undefined) yield* leaf.entries();
    }
  }

  private withLeaf(key: string, change: (leaf: Leaf<V>) => Map<string, V>): IdMap<V> {
    const h = hash(key);
    const i = h & SLOT_MASK;
    const j = (h >>> SLOT_BITS) & SLOT_MASK;
    const inner = this.root[i] ?? emptySlots<Leaf<V>>();
    const leaf = inner[j] ?? new Map<string, V>();
    const nextLeaf = change(leaf);
    const nextInner = inner.slice();
    // An emptied leaf is dropped so that equal contents always have equal structure.
    nextInner[j] = nextLeaf.size === 0 ? undefined : nextLeaf;
    const nextRoot = this.root.slice();
    nextRoot[i] = nextInner.every((slot) => slot === undefined) ? undefined : nextInner;
    return new IdMap(nextRoot, this.size - leaf.size + nextLeaf.size);
  }
}
