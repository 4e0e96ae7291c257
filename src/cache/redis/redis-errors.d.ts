// ioredis' own declarations import redis-errors, which ships no types: an app type-checking its
// node_modules (skipLibCheck: false) would fail on them. These are the classes ioredis uses.
declare module 'redis-errors' {
  export class RedisError extends Error {}
  export class ParserError extends RedisError {}
  export class ReplyError extends RedisError {}
  export class AbortError extends RedisError {}
  export class InterruptError extends AbortError {}
}
