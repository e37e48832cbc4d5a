export * from './tokens';
export * from './store';
