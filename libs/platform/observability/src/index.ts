export * from './logger';
export * from './metrics';
export * from './prometheus-text';
export * from './tracing';
