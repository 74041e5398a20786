/** A refusal of the local stack before anything started: a port taken, a missing tool, a partial stack. */
export class StackRefusal extends Error {
  override readonly name = 'StackRefusal';
}
