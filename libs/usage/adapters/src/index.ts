/**
 * @access/usage-adapters: usage-ingest's I/O. The ClickHouse store, the Kafka-to-ClickHouse sink, the price book, and
 * metrics. The use cases they run are in @access/usage-application, the decisions those make in @access/usage-domain.
 */
export { ClickhouseUsageStore, RETAINED_TABLES, isRetriableStoreError } from './clickhouse-usage-store';
export { UsageSink, defaultSinkTopics, type SinkTopic, type UsageSinkOptions } from './usage-sink';
export { IngestMetrics, ingestObserver } from './metrics';
export { loadPriceBook, priceFnOf } from './pricing';
