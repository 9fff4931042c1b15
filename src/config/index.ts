export { defineConfig } from './define.ts';
export { ConfigError, loadConfigFile, resolveConfig, type LoadedConfig } from './load.ts';
export * from './schema.ts';
