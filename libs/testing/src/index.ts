export * from './stack';
export * from './ids';
