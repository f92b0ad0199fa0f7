// One agent's alert state: FIRING after `fireAfter` anomalous windows in a row, RESOLVED after
// `resolveAfter` normal windows in a row. An incident keeps one alert id from firing to resolving.

export type AlertState = 'FIRING' | 'RESOLVED';

export interface AlertTransition {
  state: AlertState;
  alertId: string;
  /** Start of the first anomalous window of the incident. */
  onset: number;
}

export class Hysteresis {
  private anomalousRun = 0;
  private normalRun = 0;
  private firstAnomalous = 0;
  private incident: { alertId: string; onset: number } | undefined;

  constructor(private readonly agent: string, private readonly fireAfter: number, private readonly resolveAfter: number) {}

  get firing(): boolean {
    return this.incident !== undefined;
  }

  /** Feeds one closed window (by its start time); returns the transition it causes, if any. */
  update(anomalous: boolean, windowStart: number): AlertTransition | undefined {
    if (anomalous) {
      if (this.anomalousRun === 0) this.firstAnomalous = windowStart;
      this.anomalousRun += 1;
      this.normalRun = 0;
      if (this.incident === undefined && this.anomalousRun >= this.fireAfter) {
        this.incident = { alertId: `${this.agent}@${this.firstAnomalous}`, onset: this.firstAnomalous };
        return { state: 'FIRING', ...this.incident };
      }
      return undefined;
    }
    this.normalRun += 1;
    this.anomalousRun = 0;
    if (this.incident !== undefined && this.normalRun >= this.resolveAfter) {
      const resolved = this.incident;
      this.incident = undefined;
      return { state: 'RESOLVED', ...resolved };
    }
    return undefined;
  }
}
