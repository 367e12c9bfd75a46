/** Characters of request text an error message may quote (names, keys, paths). */
export const EXCERPT_CHARS = 64;

/**
 * At most `max` characters of `text` for an error message, with how many were left out: an error never
 * echoes a request back (a 5 KB feature name, a 16 KB path).
 */
export function excerpt(text: string, max = EXCERPT_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}
