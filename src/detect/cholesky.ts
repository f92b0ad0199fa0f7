// Solves with a Cholesky factor on row-major Float64Arrays (d ≤ a few dozen).
//
// Σ = L Lᵀ; Σ y = b is solved as L z = b (forward) then Lᵀ y = z (backward), which is cheaper and
// more stable than forming Σ⁻¹. The factor is computed once per baseline update (Baseline.factorize,
// straight from the baseline's scatter) and reused for every window scored against it. The
// reciprocals of L's diagonal are kept beside it, so a solve multiplies instead of dividing.

/** Solves (L Lᵀ) y = b into `out` (which may be b), given `inverseDiagonal`: 1 / Lᵢᵢ. */
export function choleskySolve(
  l: Float64Array,
  d: number,
  b: Float64Array,
  out: Float64Array,
  inverseDiagonal: Float64Array,
): Float64Array {
  for (let i = 0; i < d; i += 1) {
    const row = i * d;
    let sum = b[i]!;
    for (let k = 0; k < i; k += 1) sum -= l[row + k]! * out[k]!;
    out[i] = sum * inverseDiagonal[i]!;
  }
  for (let i = d - 1; i >= 0; i -= 1) {
    let sum = out[i]!;
    for (let k = i + 1; k < d; k += 1) sum -= l[k * d + i]! * out[k]!;
    out[i] = sum * inverseDiagonal[i]!;
  }
  return out;
}
