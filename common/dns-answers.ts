/**
 * One row of geo-dns's answer tally (issue #16): the region the asking client was placed in, the
 * orchestrator geo-dns answered first (`none` when it had none to give), and how many such answers so
 * far. geo-dns counts them; the manager's dashboard shows them (it never imports geo-dns).
 */
export interface AnswerCount {
  clientRegion: string;
  orchestrator: string;
  answers: number;
}
