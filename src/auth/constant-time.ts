/**
 * Whether `presented` equals `known`, in time that depends on `presented` alone: every character of
 * the presented string is compared (no early exit), so timing says nothing about how much of the
 * known string matched or how long it is.
 */
export function sameInConstantTime(presented: string, known: string): boolean {
  let diff = presented.length ^ known.length;
  // Past the end of `known`, charCodeAt is NaN and `| 0` makes it 0: still one step per character.
  for (let i = 0; i < presented.length; i++) diff |= presented.charCodeAt(i) ^ (known.charCodeAt(i) | 0);
  return diff === 0;
}
