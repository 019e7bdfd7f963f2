export { redisBackplane, RedisBackplane, DEFAULT_REDIS_URL } from './redis-backplane';
export type { RedisBackplaneOptions } from './redis-backplane';
