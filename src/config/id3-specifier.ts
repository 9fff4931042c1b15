/**
 * Config files say `import { defineConfig } from 'id3'`. Inside this repository Node resolves
 * that by the package's self-reference; a config anywhere else (the Docker image mounts it at
 * /work) has no node_modules/id3 to find, so the loader maps the specifier to this copy of id3.
 */
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../bridge/python-env.ts';

let registered = false;

export function resolveId3FromAnywhere(): void {
  // Deno resolves bare specifiers through its own import map or package.json instead.
  if (registered || 'Deno' in globalThis) return;
  registered = true;
  const target = pathToFileURL(path.join(projectRoot, 'src', 'index.ts')).href;
  // Handed on to the next resolver (tsx's), which compiles TypeScript. Config files are ES
  // modules wherever they are: outside a "type": "module" package Node would guess CommonJS.
  const hooks = `export async function resolve(specifier, context, next) {
    const resolved = await next(specifier === 'id3' ? ${JSON.stringify(target)} : specifier, context);
    return /\\.m?ts$/.test(resolved.url) && resolved.format !== 'module' ? { ...resolved, format: 'module' } : resolved;
  }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}
