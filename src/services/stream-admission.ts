// Caps on concurrent image streams, in total and per client connection, so
// one client cannot hold every slot. Plain state; the handler asks it.
import { Code, ConnectError } from "@connectrpc/connect";

export class StreamAdmission {
  private total = 0;
  private readonly perConnection = new WeakMap<object, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerConnection: number,
  ) {}

  get active(): number {
    return this.total;
  }

  /** Takes a slot or throws RESOURCE_EXHAUSTED; the returned function gives it back (once). */
  admit(connection: object | undefined): () => void {
    if (this.total >= this.maxTotal) {
      throw new ConnectError(`too many image streams (${this.maxTotal} open) - retry later`, Code.ResourceExhausted);
    }
    const mine = connection ? (this.perConnection.get(connection) ?? 0) : 0;
    if (connection && mine >= this.maxPerConnection) {
      throw new ConnectError(`too many image streams on this connection (${this.maxPerConnection} open)`, Code.ResourceExhausted);
    }
    this.total++;
    if (connection) this.perConnection.set(connection, mine + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.total--;
      if (connection) this.perConnection.set(connection, (this.perConnection.get(connection) ?? 1) - 1);
    };
  }
}
