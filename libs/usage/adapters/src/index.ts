/**
 * @access/usage-adapters: usage-ingest's I/O. The ClickHouse store, the Kafka-to-ClickHouse sink, retention, the
 * price book, and metrics. The decisions they act on are in @access/usage-domain.
 */
export { ClickhouseUsageStore, RETAINED_TABLES, isRetriableStoreError, type PartitionWatermark } from './clickhouse-usage-store';
export { UsageSink, defaultSinkTopics, type SinkTopic, type UsageSinkOptions } from './usage-sink';
export { RetentionJob } from './retention-job';
export { IngestMetrics } from './metrics';
export { loadPriceBook, priceFnOf } from './pricing';
