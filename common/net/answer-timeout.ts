/**
 * A timeout for an answer from a socket. A busy event loop runs due timers before it reads its
 * sockets, so a plain timer can fire while the answer sits read-ready: when it falls due, the decision
 * waits for this turn's reads (setImmediate runs after the poll phase), and the answer, if it came,
 * cancels it first. In a connection storm ~8,000 of an orchestrator's links "timed out" at a CONNACK
 * that had arrived (docs/data-plane.md "Publishers that lack a broker").
 */
export class AnswerTimeout {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(ms: number, onTimeout: () => void) {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        onTimeout();
      });
    }, ms);
  }

  /** The answer came (or the wait ended otherwise): no timeout. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
