export * from './quote';
export * from './client';
export * from './migrations';
export * from './tracing';
