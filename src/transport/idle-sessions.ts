// Closes HTTP/2 sessions that have had no open stream for a while (GOAWAY,
// then the socket closes), so idle clients cannot hold file descriptors
// forever.
//
// Idle means "no open stream", not "no bytes": Node's session.setTimeout
// counts socket inactivity, so it would kill a quiet long-lived stream (a
// PredictImage waiting on its client) and never fire for a client that sends
// PINGs. Streams are counted as they open and close, and one timer per
// listener sweeps the sessions, so a busy connection arms no timer per call.
import type * as http2 from "node:http2";

interface Activity {
  /** Streams open now. */
  open: number;
  /** A stream opened or closed since the last sweep. */
  touched: boolean;
  /** Sweep intervals in a row with no stream at all. */
  quietSweeps: number;
}

/** Sweeps per idle period: a session is closed at most a quarter period late. */
const SWEEPS_PER_PERIOD = 4;

export class IdleSessions {
  private readonly sessions = new Map<http2.ServerHttp2Session, Activity>();
  private readonly sweepMs: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly idleMs: number) {
    this.sweepMs = Math.max(1, Math.ceil(idleMs / SWEEPS_PER_PERIOD));
    this.timer = setInterval(() => this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  track(session: http2.ServerHttp2Session): void {
    const activity: Activity = { open: 0, touched: true, quietSweeps: 0 };
    this.sessions.set(session, activity);
    const closed = () => {
      activity.open--;
      activity.touched = true;
    };
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      activity.touched = true;
      // A stream reset before its 'stream' event may already have emitted 'close'.
      if (stream.destroyed) return;
      activity.open++;
      stream.on("close", closed);
    });
    session.once("close", () => this.sessions.delete(session));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    for (const [session, activity] of this.sessions) {
      // No stream opened or closed since the last sweep and none open: quiet the whole interval.
      if (activity.open > 0 || activity.touched) activity.quietSweeps = 0;
      else activity.quietSweeps++;
      activity.touched = false;
      if (activity.quietSweeps * this.sweepMs >= this.idleMs && !session.closed) session.close();
    }
  }
}
