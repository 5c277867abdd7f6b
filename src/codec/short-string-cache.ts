// A map that keeps the first `capacity` entries put in it and never drops
// one. The encoders keep the encodings of short strings in one: answers repeat
// model names, labels and factor texts from call to call, and a stream of
// one-off strings can neither grow it nor push the repeating ones out.
export class KeptValues<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** No room left: keep() keeps nothing more. */
  get full(): boolean {
    return this.map.size >= this.capacity;
  }

  /** Returns `value`, kept for `key` while there is room. */
  keep(key: K, value: V): V {
    if (!this.full) this.map.set(key, value);
    return value;
  }
}

/** How many short strings each encoder keeps. */
export const KEPT_STRINGS = 2048;

/** Strings up to this many UTF-16 units count as short (a protobuf length of one byte, even at 3 bytes per unit). */
export const SHORT_STRING = 42;
