import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** @type {import('next').NextConfig} */
export default {
  // The @ssehub packages are workspace packages: tsconfig.json points them at their TypeScript
  // sources, which live above this folder, inside the monorepo root.
  turbopack: { root },
  outputFileTracingRoot: root,
};
