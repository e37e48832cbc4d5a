export * from './stack';
export * from './ids';
export * from './services';
export * from './random';
export * from './cloudevents-sdk';
