import { MetricsRegistry } from './metrics';

describe(MetricsRegistry.name, () => {
  it('renders counters, gauges and summaries in Prometheus text format', async () => {
    const registry = new MetricsRegistry();
    const delivered = registry.counter('mimi_outbox_delivered_total', 'Rows delivered');
    delivered.inc({ destination: 'b.example' });
    delivered.inc({ destination: 'b.example' }, 2);
    registry.gauge('mimi_outbox_pending', 'Rows waiting', () => [{ labels: { destination: 'c"x' }, value: 4 }]);
    const latency = registry.summary('mimi_outbox_latency_ms', 'Latency');
    for (let i = 1; i <= 100; i += 1) latency.observe(i);
    const text = await registry.render();
    expect(text).toContain('# TYPE mimi_outbox_delivered_total counter');
    expect(text).toContain('mimi_outbox_delivered_total{destination="b.example"} 3');
    expect(text).toContain('mimi_outbox_pending{destination="c\\"x"} 4');
    expect(text).toContain('mimi_outbox_latency_ms{quantile="0.5"} 51');
    expect(text).toContain('mimi_outbox_latency_ms{quantile="0.99"} 100');
    expect(text).toContain('mimi_outbox_latency_ms_count 100');
  });

  it('returns the same metric when registered twice', () => {
    const registry = new MetricsRegistry();
    expect(registry.counter('x_total', 'x')).toBe(registry.counter('x_total', 'x'));
  });
});
