/** An admitted request of the closed loop (closed-loop.ts), due to complete at atMs with its estimated credits. */
export interface Completion {
  readonly atMs: number;
  readonly admissionId: string;
  readonly credits: number;
}

/** Pending completions by time: the simulation completes each admitted request after its duration. */
export class CompletionHeap {
  private readonly items: Completion[] = [];

  peek(): Completion | undefined {
    return this.items[0];
  }

  push(item: Completion): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.atMs <= items[i]!.atMs) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): Completion | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < items.length && items[l]!.atMs < items[smallest]!.atMs) smallest = l;
        if (r < items.length && items[r]!.atMs < items[smallest]!.atMs) smallest = r;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}
