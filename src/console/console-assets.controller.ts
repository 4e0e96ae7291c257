import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { loadConsoleAssets, type ConsoleFile } from './console-assets.js';
import { setConsoleHeaders } from './console-headers.js';

/** Serves the console page and its two assets (static files, read once) with the console's CSP. */
@ApiTags('console')
@Controller('console')
export class ConsoleAssetsController {
  private readonly assets = loadConsoleAssets();

  @Get()
  @ApiOperation({ summary: 'The operator console page (sign in with an API key; see docs/console.md)' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The page, with a Content-Security-Policy that allows only its own script and stylesheet', schema: { type: 'string' } })
  page(@Res() res: Response): void {
    this.send(res, 'index.html');
  }

  @Get('console.js')
  @ApiOperation({ summary: "The console's script (one ES module)" })
  @ApiProduces('text/javascript')
  @ApiOkResponse({ description: 'Static file', schema: { type: 'string' } })
  script(@Res() res: Response): void {
    this.send(res, 'console.js');
  }

  @Get('console.css')
  @ApiOperation({ summary: "The console's stylesheet" })
  @ApiProduces('text/css')
  @ApiOkResponse({ description: 'Static file', schema: { type: 'string' } })
  style(@Res() res: Response): void {
    this.send(res, 'console.css');
  }

  private send(res: Response, file: ConsoleFile): void {
    const asset = this.assets.get(file)!;
    setConsoleHeaders(res);
    res.type(asset.contentType).send(asset.body);
  }
}
