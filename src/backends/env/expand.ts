/** kubelet's `$(VAR)` expansion of container `env` values and commands. */

/**
 * Expands `$(VAR)` references the way kubelet does (its forked `expansion.Expand`): a defined
 * reference is replaced, an undefined one is kept as written, `$$` is a literal `$`, an
 * unterminated `$(` is kept, and any other `$x` is kept as is. Expansion is a single pass: a
 * replacement is never expanded again.
 */
export function expandEnv(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== '$' || i + 1 >= input.length) continue;
    out += input.slice(checkpoint, i);
    const next = input[i + 1];
    let advance = 1;
    if (next === '$') out += '$';
    else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) out += '$(';
      else {
        const name = input.slice(i + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - i;
      }
    } else out += `$${next}`;
    i += advance;
    checkpoint = i + 1;
  }
  return out + input.slice(checkpoint);
}
