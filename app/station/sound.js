// The audible cue for high-priority alerts, synthesised with WebAudio (no sound files).
//
// Pattern after IEC 60601-1-8's high-priority burst: ten pulses as 3 + 2, a pause, 3 + 2;
// each pulse a harmonic-rich tone (fundamental plus four harmonics) with soft edges.
// The burst repeats while an unacknowledged high-priority alert is on the list, unless muted;
// a new high-priority alert ends a mute (silencing one alarm must not silence another).

const FUNDAMENTAL_HZ = 523; // within the standard's 150–1000 Hz
const HARMONICS = [1, 0.6, 0.45, 0.35, 0.25]; // relative amplitude of f, 2f, 3f, 4f, 5f
const PULSE_S = 0.15;
const RAMP_S = 0.02;
// Pulse onsets within one burst (s): 3 pulses, gap, 2 pulses, pause, again.
const ONSETS_S = [0, 0.25, 0.5, 0.95, 1.2, 2.2, 2.45, 2.7, 3.15, 3.4];
const REPEAT_MS = 10_000; // burst repetition interval (the standard allows 2.5–15 s)
export const MUTE_MS = 120_000;

export class AlarmSound extends EventTarget {
  constructor() {
    super();
    this._ctx = null;
    this._announced = new Set(); // high-priority alert ids already sounded
    this._lastBurstAt = 0;
    this.mutedUntil = 0;
    this.bursts = 0;
  }

  /** Call from a user gesture (click): browsers start audio only after one. */
  unlock() {
    try {
      if (!this._ctx) {
        const Ctx = window.AudioContext ?? window.webkitAudioContext;
        if (!Ctx) return;
        this._ctx = new Ctx();
        this._ctx.onstatechange = () => this._changed();
      }
      if (this._ctx.state === "suspended") {
        this._ctx.resume().then(() => this._changed(), () => this._changed());
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

  /**
   * Called whenever alerts change and once a second.
   * @param {string[]} unackedHighIds ids of unacknowledged high-priority alerts on the list
   */
  update(unackedHighIds) {
    const now = Date.now();
    const current = new Set(unackedHighIds);
    const fresh = unackedHighIds.filter((id) => !this._announced.has(id));
    this._announced = new Set([...this._announced].filter((id) => current.has(id)));
    for (const id of fresh) this._announced.add(id);
    if (fresh.length > 0) {
      if (this.muted) this.unmute();
      this._burst(fresh, "new");
    } else if (current.size > 0 && !this.muted && now - this._lastBurstAt >= REPEAT_MS) {
      this._burst([...current], "repeat");
    }
  }

  _burst(ids, why) {
    this._lastBurstAt = Date.now();
    this.bursts += 1;
    const ctx = this._ctx;
    if (ctx && ctx.state === "running") {
      const t0 = ctx.currentTime + 0.05;
      for (const onset of ONSETS_S) this._pulse(ctx, t0 + onset);
    }
    window.dispatchEvent(
      new CustomEvent("iaewatch:alarm-sound", { detail: { ids, why, audible: this.audible } }),
    );
  }

  _pulse(ctx, start) {
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.2, start + RAMP_S);
    gain.gain.setValueAtTime(0.2, start + PULSE_S - RAMP_S);
    gain.gain.linearRampToValueAtTime(0, start + PULSE_S);
    gain.connect(ctx.destination);
    HARMONICS.forEach((amp, i) => {
      const osc = ctx.createOscillator();
      const g = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = FUNDAMENTAL_HZ * (i + 1);
      g.gain.value = amp / HARMONICS.length;
      osc.connect(g).connect(gain);
      osc.start(start);
      osc.stop(start + PULSE_S + 0.01);
    });
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }
}
