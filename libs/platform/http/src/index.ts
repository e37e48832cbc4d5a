export * from './problem';
export * from './validation';
export * from './auth';
export * from './shell';
export * from './runtime';
export * from './openapi';
export * from './request-metrics';
export * from './tracing';
