/**
 * A small Prometheus text-format registry (exposition format 0.0.4). Modules register counters,
 * gauges (read on scrape) and latency summaries; the admin listener serves `GET /metrics`.
 * Kept dependency-free: the gateway needs a handful of series, not a client library.
 */
type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} counter`,
      ...[...this.values].map(([k, v]) => `${this.name}${k} ${v}`),
    ];
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () =>
      Promise<readonly { labels: Labels; value: number }[]> | readonly { labels: Labels; value: number }[],
  ) {}
  async render(): Promise<string[]> {
    const samples = await this.read();
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      ...samples.map((s) => `${this.name}${labelKey(s.labels)} ${s.value}`),
    ];
  }
}

/** Latency summary over the last `window` observations (quantiles 0.5, 0.9, 0.99) plus count and sum. */
export class Summary {
  private readonly samples: number[] = [];
  private count = 0;
  private sum = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly window = 2048,
  ) {}
  observe(value: number): void {
    this.count += 1;
    this.sum += value;
    this.samples.push(value);
    if (this.samples.length > this.window) this.samples.shift();
  }
  quantile(q: number): number {
    if (this.samples.length === 0) return NaN;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }
  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} summary`,
      ...[0.5, 0.9, 0.99].map((q) => `${this.name}{quantile="${q}"} ${this.quantile(q)}`),
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Counter | Gauge | Summary>();

  counter(name: string, help: string): Counter {
    return this.add(name, () => new Counter(name, help)) as Counter;
  }
  gauge(name: string, help: string, read: ConstructorParameters<typeof Gauge>[2]): Gauge {
    return this.add(name, () => new Gauge(name, help, read)) as Gauge;
  }
  summary(name: string, help: string): Summary {
    return this.add(name, () => new Summary(name, help)) as Summary;
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    for (const m of this.metrics.values()) lines.push(...(await m.render()));
    return `${lines.join('\n')}\n`;
  }

  private add(name: string, make: () => Counter | Gauge | Summary): Counter | Gauge | Summary {
    const existing = this.metrics.get(name);
    if (existing) return existing;
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
}
