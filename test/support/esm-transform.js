'use strict';
// jest runs CommonJS; several dependencies ship only as ESM (NestJS 12, @noble/*, @hpke/*,
// uid, file-type). This transformer compiles them to CommonJS with ts-jest, after replacing
// `import.meta.url` (not expressible in CommonJS) with the equivalent file URL of the module.
const { createTransformer } = require('ts-jest').default;

const base = createTransformer({
  tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true, esModuleInterop: true },
});

const rewrite = (src) =>
  src.includes('import.meta')
    ? src.replace(/import\.meta\.url/g, "require('node:url').pathToFileURL(__filename).href")
    : src;

module.exports = {
  process: (src, path, opts) => base.process(rewrite(src), path, opts),
  getCacheKey: (src, path, opts) => base.getCacheKey(rewrite(src), path, opts),
};
