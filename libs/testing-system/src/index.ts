export * from './system';
export * from './otlp-receiver';
