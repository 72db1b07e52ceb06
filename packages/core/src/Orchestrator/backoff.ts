/**
 * Retry backoff for RETRYABLE_FAILURE: `min(retry_base_delay_ms · 2^(attempt−1), max_retry_backoff_ms)`.
 * The formula is Symphony SPEC §8.4 with the base made configurable; the exponent is capped at 10 as in
 * Symphony's Elixir implementation, so huge attempt numbers cannot overflow.
 */

/**
 * Delay in ms before retrying after failed attempt number `attempt` (1-based).
 * @example retryDelayMs(3, 10_000, 300_000) === 40_000
 */
export const retryDelayMs = (attempt: number, baseMs: number, maxMs: number): number =>
  Math.min(baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 10), maxMs)
