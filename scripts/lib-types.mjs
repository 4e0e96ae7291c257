// After `tsc -p tsconfig.lib.json`: ship the declarations ioredis' own types need (redis-errors has
// none), referenced from the one file that imports ioredis, so apps type-check with skipLibCheck: false.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';

cpSync('src/cache/redis/redis-errors.d.ts', 'dist/cache/redis/redis-errors.d.ts');
const file = 'dist/cache/redis/redis-connection.d.ts';
writeFileSync(file, `/// <reference path="./redis-errors.d.ts" />\n${readFileSync(file, 'utf8')}`);
