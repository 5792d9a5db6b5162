export * from './facts';
export * from './schema';
export * from './engine';
