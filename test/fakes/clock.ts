/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms = Date.parse("2026-01-01T00:00:00Z")) {}
  readonly now = (): number => this.ms;
  readonly date = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}
