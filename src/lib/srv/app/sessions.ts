/**
 * App sessions as the audit log sees them. A browser's app session (one `sid`,
 * the certificate's route session id) arrives as many streams over time: it
 * starts with the first and ends once the last has been closed for a while.
 */
export interface AppSessionInfo {
  sid: string;
  user: string;
  appName: string;
  appUri: string;
  publicAddr: string;
  clientAddr: string;
}

interface Entry {
  info: AppSessionInfo;
  streams: number;
  timer: NodeJS.Timeout | undefined;
}

export interface AppSessionsOptions {
  /** How long a session without streams stays open (a page reloads, a keep-alive ends). */
  lingerMs: number;
  started(info: AppSessionInfo): void;
  ended(info: AppSessionInfo): void;
}

export class AppSessions {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: AppSessionsOptions) {}

  /** A stream of session `info.sid` began; call the function returned when it closes. */
  open(info: AppSessionInfo): () => void {
    let e = this.entries.get(info.sid);
    if (!e) {
      e = { info, streams: 0, timer: undefined };
      this.entries.set(info.sid, e);
      this.o.started(info);
    }
    const entry = e;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.streams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.streams--;
      if (entry.streams > 0 || this.entries.get(info.sid) !== entry) return;
      entry.timer = setTimeout(() => this.end(entry), this.o.lingerMs);
      entry.timer.unref();
    };
  }

  /** Ends every session now (the service stops). */
  endAll(): void {
    for (const e of [...this.entries.values()]) this.end(e);
  }

  get size(): number {
    return this.entries.size;
  }

  private end(e: Entry): void {
    clearTimeout(e.timer);
    if (this.entries.get(e.info.sid) !== e) return;
    this.entries.delete(e.info.sid);
    this.o.ended(e.info);
  }
}
