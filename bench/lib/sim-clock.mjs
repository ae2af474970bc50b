// A simulated clock shared by a whole fleet of token stores: one binary heap of timers ordered by
// due time (ties by creation order). Time only moves when the simulation pops the next timer.

/** A seeded uniform [0,1) source (mulberry32), so a simulation is reproducible. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The Clock interface of src/identity/clock.ts over one heap; clearTimeout marks a timer dead. */
export class SimClock {
  constructor(startMs) {
    this.t = startMs;
    this.heap = [];
    this.seq = 0;
  }

  now() {
    return this.t;
  }

  setTimeout(fn, ms) {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, dead: false };
    this.push(timer);
    return timer;
  }

  clearTimeout(timer) {
    if (timer) timer.dead = true;
  }

  /** The next live timer due at or before `end`, removed from the heap, with time moved to it. */
  popDue(end) {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (top.at > end) return undefined;
      this.pop();
      if (top.dead) continue;
      this.t = Math.max(this.t, top.at);
      return top;
    }
    return undefined;
  }

  get size() {
    return this.heap.length;
  }

  push(x) {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop() {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(a, b) {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
