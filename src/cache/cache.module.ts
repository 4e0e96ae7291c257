import { Module } from '@nestjs/common';
import { ConfigurableModuleClass } from './cache.module-definition.js';
import { CacheService } from './cache.service.js';

/** `CacheModule.forRoot(options)` / `forRootAsync({ imports, inject, useFactory })`, `isGlobal`. */
@Module({
  providers: [CacheService],
  exports: [CacheService],
})
export class CacheModule extends ConfigurableModuleClass {}
