// The live, in-process stream of alerts for subscribers (the API's live endpoint, the demo's
// terminal). Listeners are called synchronously in order; one that throws is removed and reported.

import type { AnomalyAlert } from '../detect/index.js';

export type AlertListener = (alert: AnomalyAlert) => void;

export class AlertStream {
  private readonly listeners = new Set<AlertListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  subscribe(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(alert: AnomalyAlert): void {
    for (const listener of this.listeners) {
      try {
        listener(alert);
      } catch (err) {
        this.listeners.delete(listener);
        this.onListenerError(err);
      }
    }
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
