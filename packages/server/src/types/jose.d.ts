// jose's types are reachable only through its package.json "exports", which the workspace's
// typecheck (node10 resolution, as for every package) does not read; this points it at them.
// The build (bundler resolution) reads the exports and leaves this file out.
declare module 'jose' {
  export * from 'jose/dist/types/index';
}
