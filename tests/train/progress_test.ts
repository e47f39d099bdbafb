import assert from "node:assert/strict";
import {
  formatDuration,
  formatProgressLine,
  ProgressBar,
  type ProgressWriter,
} from "../../train/progress.ts";

/** A writer that records what it receives; `terminal` decides what isTerminal() says. */
function recorder(terminal: boolean): ProgressWriter & { text(): string; writes: number } {
  const decoder = new TextDecoder();
  let text = "";
  const w = {
    writes: 0,
    writeSync(bytes: Uint8Array): number {
      w.writes++;
      // Accept at most 7 bytes per call, to prove the bar loops over short writes.
      const n = Math.min(7, bytes.length);
      text += decoder.decode(bytes.subarray(0, n), { stream: true });
      return n;
    },
    isTerminal: () => terminal,
    text: () => text,
  };
  return w;
}

Deno.test("formatDuration() prints seconds, minutes and hours compactly", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59.4), "59s");
  assert.equal(formatDuration(60), "1m00s");
  assert.equal(formatDuration(3599), "59m59s");
  assert.equal(formatDuration(3600), "1h00m");
  assert.equal(formatDuration(90061), "25h01m");
  assert.equal(formatDuration(-1), "?");
  assert.equal(formatDuration(Infinity), "?");
});

Deno.test("formatProgressLine() shows label, step/total, percent, loss, rate and ETA", () => {
  assert.equal(
    formatProgressLine({
      label: "rte s0",
      step: 1,
      total: 3,
      loss: 1.23456,
      rate: 0.25,
      etaSeconds: 8,
    }),
    "rte s0 1/3 33% loss 1.2346 4.00 s/step ETA 8s",
  );
  assert.equal(formatProgressLine({ step: 0, total: 0 }), "0/0 100%");
  assert.equal(formatProgressLine({ step: 2, total: 4, loss: NaN }), "2/4 50% loss NaN");
});

Deno.test("ProgressBar writes plain, throttled lines when the writer is not a terminal", () => {
  // Arrange: one step per second, a line at most every 10 s.
  const out = recorder(false);
  let now = 0;
  const bar = new ProgressBar({ total: 100, writer: out, now: () => now });
  // Act
  for (let step = 1; step <= 100; step++) {
    now += 1000;
    bar.update(step, 1 / step);
  }
  bar.done();
  bar.done();
  // Assert: first step, every 10 s, and the last step; no control characters.
  const lines = out.text().trimEnd().split("\n");
  assert.equal(lines.length, 11);
  assert.ok(!out.text().includes("\r") && !out.text().includes("\x1b"));
  assert.equal(lines[0], "1/100 1% loss 1.0000 1.00 step/s ETA 1m39s");
  assert.equal(lines.at(-1), "100/100 100% loss 0.0100 1.00 step/s ETA 0s");
});

Deno.test("ProgressBar redraws one line in place on a terminal and ends it on done()", () => {
  const out = recorder(true);
  let now = 0;
  const bar = new ProgressBar({
    total: 4,
    writer: out,
    now: () => now,
    barWidth: 8,
    label: "cola",
  });
  for (let step = 1; step <= 4; step++) {
    now += 200;
    bar.update(step, 0.5);
  }
  bar.done();
  const text = out.text();
  assert.equal(text.split("\r\x1b[2K").length - 1, 4, "one redraw per update past the throttle");
  assert.ok(text.endsWith("[########] cola 4/4 100% loss 0.5000 5.00 step/s ETA 0s\n"));
  assert.ok(text.includes("[##......] cola 1/4 25%"), text);
  assert.ok(out.writes > 4, "short writes were retried");
});

Deno.test("ProgressBar counts the rate from the resume step, not from zero", () => {
  const out = recorder(false);
  let now = 0;
  const bar = new ProgressBar({ total: 1000, start: 900, writer: out, now: () => now });
  now = 10_000;
  bar.update(950);
  assert.equal(bar.state.rate, 5);
  assert.equal(bar.state.etaSeconds, 10);
});

Deno.test("ProgressBar honours the terminal throttle", () => {
  const out = recorder(true);
  let now = 0;
  const bar = new ProgressBar({ total: 1000, writer: out, now: () => now, ttyIntervalMs: 100 });
  for (let step = 1; step <= 999; step++) {
    now += 1; // 1 ms per step: ~10 redraws in 999 ms
    bar.update(step);
  }
  const redraws = out.text().split("\r").length - 1;
  assert.ok(redraws >= 9 && redraws <= 11, `redraws ${redraws}`);
});

Deno.test("ProgressBar rejects a bad total", () => {
  assert.throws(() => new ProgressBar({ total: -1, writer: recorder(false) }), RangeError);
  assert.throws(() => new ProgressBar({ total: 1.5, writer: recorder(false) }), RangeError);
});
