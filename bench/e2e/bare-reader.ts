// What the bare readers (read-kafkajs.ts, read-platformatic.ts) share: counting what they read, a
// watchdog that fails a reader that stops making progress, and the one JSON line each prints.

export class ReadCount {
  records = 0;
  private firstAt = 0;
  private readonly started = performance.now();
  private readonly cpu = process.cpuUsage();
  private ended = 0;
  private used: NodeJS.CpuUsage | undefined;

  constructor(
    private readonly reader: string,
    private readonly expected: number,
  ) {}

  /** Counts `n` records read; true once the expected number is reached. */
  add(n: number): boolean {
    if (this.firstAt === 0) this.firstAt = performance.now();
    this.records += n;
    return this.records >= this.expected;
  }

  /** Resolves when `done` does; exits the process when 60 s pass without a record (fewer than expected, say). */
  async watch(done: Promise<void>): Promise<void> {
    let seen = -1;
    const watchdog = setInterval(() => {
      if (this.records === seen) {
        console.error(`the ${this.reader} made no progress for 60 s: ${this.records} of ${this.expected} records read`);
        process.exit(1);
      }
      seen = this.records;
    }, 60_000);
    await done;
    clearInterval(watchdog);
    this.ended = performance.now();
    this.used = process.cpuUsage(this.cpu);
  }

  /** Prints {records, seconds, readSeconds, cpuSeconds} as one JSON line (after watch()). */
  print(): void {
    const used = this.used ?? process.cpuUsage(this.cpu);
    console.log(
      JSON.stringify({
        records: this.records,
        seconds: (this.ended - this.started) / 1000,
        readSeconds: (this.ended - this.firstAt) / 1000,
        cpuSeconds: (used.user + used.system) / 1e6,
      }),
    );
  }
}
