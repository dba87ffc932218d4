// Alarm sounds after IEC 60601-1-8, synthesised with WebAudio (no sound files).
//
//   high    10 pulses as 3 + 2, pause, 3 + 2; repeats every 10 s until acknowledged
//   medium  3 pulses; repeats every 15 s until acknowledged
//   low     2 pulses, once per new alert (the standard lets low priority not repeat)
// Each pulse is a harmonic-rich tone (fundamental plus four harmonics) with soft edges, and
// each priority has its own pitch. An escalated alert sounds again as new; a new alert ends a
// mute (silencing one alarm must not silence another). The "outage" alarm (the page cannot
// receive alerts) uses the high pattern and cannot be muted.

const HARMONICS = [1, 0.6, 0.45, 0.35, 0.25]; // relative amplitude of f, 2f, 3f, 4f, 5f
const RAMP_S = 0.02;
export const PATTERNS = {
  high: { hz: 660, pulseS: 0.15, onsets: [0, 0.25, 0.5, 0.95, 1.2, 2.2, 2.45, 2.7, 3.15, 3.4], repeatMs: 10_000 },
  medium: { hz: 523, pulseS: 0.2, onsets: [0, 0.35, 0.7], repeatMs: 15_000 },
  low: { hz: 392, pulseS: 0.25, onsets: [0, 0.4], repeatMs: null },
};
export const MUTE_MS = 120_000;
const ORDER = ["high", "medium", "low"];

export class AlarmSound extends EventTarget {
  constructor() {
    super();
    this._ctx = null;
    this._announced = new Map(); // alert key → priority, already sounded
    this._lastAt = { high: 0, medium: 0 };
    this.mutedUntil = 0;
    this.outage = false;
    this.bursts = 0;
  }

  /** Create or resume the audio context (browsers allow it for sure only after a click). */
  unlock() {
    try {
      if (!this._ctx) {
        const Ctx = window.AudioContext ?? window.webkitAudioContext;
        if (!Ctx) return;
        this._ctx = new Ctx();
        this._ctx.onstatechange = () => this._changed();
      }
      if (this._ctx.state === "suspended") {
        this._ctx.resume().then(
          () => this._changed(),
          () => this._changed(),
        );
      }
    } catch (err) {
      console.warn("alarm sound unavailable:", err);
    }
    this._changed();
  }

  /** True when a burst would actually be heard. */
  get audible() {
    return this._ctx != null && this._ctx.state === "running";
  }

  get muted() {
    return Date.now() < this.mutedUntil;
  }

  muteFor(ms = MUTE_MS) {
    this.mutedUntil = Date.now() + ms;
    this._changed();
  }

  unmute() {
    this.mutedUntil = 0;
    this._changed();
  }

  /** While `on`, the high pattern repeats whatever the alerts or the mute say. */
  setOutage(on) {
    if (on === this.outage) return;
    this.outage = on;
    this._lastAt.high = 0;
    this._changed();
  }

  /**
   * Called whenever alerts change and once a second.
   * @param {{key: string, priority: string}[]} unacked  unacknowledged alerts on the list;
   *        `key` changes when an alert escalates, so that it sounds again
   */
  update(unacked) {
    const now = Date.now();
    const current = new Map(unacked.map((a) => [a.key, a.priority]));
    const fresh = unacked.filter((a) => !this._announced.has(a.key));
    this._announced = new Map([...this._announced].filter(([k]) => current.has(k)));
    for (const a of fresh) this._announced.set(a.key, a.priority);
    if (this.outage) {
      if (now - this._lastAt.high >= PATTERNS.high.repeatMs) this._burst("high", "outage", []);
      return;
    }
    if (fresh.length > 0) {
      if (this.muted) this.unmute();
      const top = ORDER.find((p) => fresh.some((a) => a.priority === p));
      this._burst(top, "new", fresh.map((a) => a.key));
      return;
    }
    if (this.muted) return;
    for (const p of ["high", "medium"]) {
      const keys = [...current].filter(([, pr]) => pr === p).map(([k]) => k);
      if (keys.length && now - this._lastAt[p] >= PATTERNS[p].repeatMs) {
        this._burst(p, "repeat", keys);
        return; // one pattern at a time: the highest priority due
      }
    }
  }

  _burst(priority, why, keys) {
    const pattern = PATTERNS[priority];
    if (!pattern) return;
    const now = Date.now();
    // a burst also resets the lower priorities' timers, so patterns never overlap
    for (const p of ORDER.slice(ORDER.indexOf(priority))) if (p in this._lastAt) this._lastAt[p] = now;
    this.bursts += 1;
    const ctx = this._ctx;
    if (ctx && ctx.state === "running") {
      const t0 = ctx.currentTime + 0.05;
      for (const onset of pattern.onsets) this._pulse(ctx, t0 + onset, pattern);
    }
    window.dispatchEvent(
      new CustomEvent("iaewatch:alarm-sound", {
        detail: { priority, why, ids: keys.map((k) => k.split("#")[0]), audible: this.audible },
      }),
    );
  }

  _pulse(ctx, start, { hz, pulseS }) {
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.2, start + RAMP_S);
    gain.gain.setValueAtTime(0.2, start + pulseS - RAMP_S);
    gain.gain.linearRampToValueAtTime(0, start + pulseS);
    gain.connect(ctx.destination);
    HARMONICS.forEach((amp, i) => {
      const osc = ctx.createOscillator();
      const g = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = hz * (i + 1);
      g.gain.value = amp / HARMONICS.length;
      osc.connect(g).connect(gain);
      osc.start(start);
      osc.stop(start + pulseS + 0.01);
    });
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }
}
